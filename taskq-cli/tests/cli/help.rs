//! clap conventions: `--help` on every command, `--version`, shell completions; none needs a
//! backend.

use crate::harness::taskq;

const COMMANDS: &[&[&str]] = &[
    &["queues"],
    &["workers"],
    &["inspect"],
    &["result"],
    &["revoke"],
    &["tasks"],
    &["dead"],
    &["dead", "requeue"],
    &["dead", "purge"],
    &["pause"],
    &["resume"],
    &["purge"],
    &["events"],
    &["send"],
    &["start-workflow"],
    &["completions"],
];

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn every_command_has_help() {
    let top = taskq(&["--help"]).await.ok();
    for cmd in COMMANDS.iter().filter(|c| c.len() == 1) {
        assert!(
            top.stdout.contains(cmd[0]),
            "`{}` missing from {}",
            cmd[0],
            top.stdout
        );
    }
    assert!(top.stdout.contains("Exit status"), "{}", top.stdout);
    for cmd in COMMANDS {
        let mut args = cmd.to_vec();
        args.push("--help");
        let run = taskq(&args).await.ok();
        assert!(run.stdout.contains("Usage: taskq"), "{run:#?}");
        assert!(run.stdout.contains("--url"), "{run:#?}");
    }
    let run = taskq(&["--version"]).await.ok();
    assert_eq!(run.stdout, format!("taskq {}\n", env!("CARGO_PKG_VERSION")));
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn completions_for_bash_zsh_and_fish() {
    for (shell, mark) in [
        ("bash", "complete -F _taskq"),
        ("zsh", "#compdef taskq"),
        ("fish", "complete -c taskq"),
    ] {
        let run = taskq(&["completions", shell]).await.ok();
        assert!(run.stdout.contains(mark), "{shell}: {}", run.stdout);
        assert!(run.stdout.contains("start-workflow"), "{shell}");
    }
    let run = taskq(&["completions", "tcsh"]).await;
    assert_eq!(run.code, 2);
}
