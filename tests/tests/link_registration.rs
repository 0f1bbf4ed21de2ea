//! Link-time registration: tasks, workflows and backend URL schemes declared across modules and
//! crates are all found, through `inventory` by default and through `linkme` with this crate's
//! feature `linkme` (which turns on `taskq/linkme`; `scripts/test.sh` runs this file both ways).

use taskq_celery as _;
use taskq_redis as _;

mod billing {
    #[taskq::task(name = "link.charge")]
    pub async fn charge(amount: u64) -> u64 {
        amount * 2
    }
}

mod reports {
    #[taskq::task(name = "link.report", queue = "reports")]
    pub async fn report() -> String {
        "done".to_owned()
    }

    #[taskq::workflow(name = "link.flow")]
    pub fn flow(amount: u64) -> taskq::Call<super::billing::charge> {
        super::billing::charge::new(amount)
    }
}

#[test]
fn the_build_uses_the_mechanism_its_features_ask_for() {
    let expected = if cfg!(feature = "linkme") {
        "linkme"
    } else {
        "inventory"
    };
    assert_eq!(taskq::link::MECHANISM, expected);
}

#[test]
fn tasks_from_every_module_are_registered_with_their_options() {
    let registry = taskq::Registry::global().expect("no duplicate names here");
    let charge = registry.get("link.charge").expect("link.charge registered");
    assert_eq!(charge.options.queue, "default");
    let report = registry.get("link.report").expect("link.report registered");
    assert_eq!(report.options.queue, "reports");
    assert!(
        report.file.ends_with("link_registration.rs"),
        "{}",
        report.file
    );
    assert!(registry.get("link.missing").is_none());
}

#[test]
fn workflows_and_backend_schemes_are_registered() {
    assert!(taskq::canvas::workflows().any(|w| w.name == "link.flow"));
    let schemes: Vec<&str> = taskq::link::schemes().collect();
    for scheme in ["memory", "redis", taskq_celery::SCHEME] {
        assert!(
            schemes.contains(&scheme),
            "{scheme} missing from {schemes:?}"
        );
    }
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_worker_runs_a_registered_task_and_connect_finds_schemes() {
    let backend = taskq::backend::connect("memory://")
        .await
        .expect("memory://");
    let client = taskq::Client::new(backend);
    let worker = taskq::Worker::builder()
        .client(client.clone())
        .queues(["default"])
        .spawn()
        .expect("worker starts");
    let result = client.send(billing::charge::new(21)).await.expect("sent");
    let value: u64 = result.get().await.expect("ran");
    assert_eq!(value, 42);
    worker.shutdown().await.expect("stops");
    let unknown = taskq::backend::connect("nope://x")
        .await
        .err()
        .expect("unknown");
    assert!(unknown.to_string().contains("`redis://`"), "{unknown}");
}
