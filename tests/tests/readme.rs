//! The README's quickstart is the `quickstart` example, word for word.

fn quickstart_block(readme: &str) -> Option<&str> {
    let section = readme.split("## Quickstart").nth(1)?;
    let start = section.find("```rust\n")? + "```rust\n".len();
    let len = section[start..].find("\n```")?;
    Some(&section[start..start + len])
}

#[test]
fn readme_quickstart_is_the_quickstart_example() {
    let root = concat!(env!("CARGO_MANIFEST_DIR"), "/..");
    let readme = std::fs::read_to_string(format!("{root}/README.md")).expect("README.md");
    let example = std::fs::read_to_string(format!("{root}/examples/examples/quickstart.rs"))
        .expect("examples/examples/quickstart.rs");
    let block = quickstart_block(&readme).expect("a ```rust block under ## Quickstart");
    assert_eq!(
        block.trim(),
        example.trim(),
        "README.md's quickstart and examples/examples/quickstart.rs differ: keep them the same"
    );
}

#[test]
fn readme_first_screen_has_the_two_commands() {
    let root = concat!(env!("CARGO_MANIFEST_DIR"), "/..");
    let readme = std::fs::read_to_string(format!("{root}/README.md")).expect("README.md");
    let first_screen: String = readme.lines().take(15).collect::<Vec<_>>().join("\n");
    assert!(first_screen.contains("cargo run -p taskq-examples --example quickstart"));
    assert!(first_screen.contains("./scripts/test.sh"));
    let ci = std::fs::read_to_string(format!("{root}/.ci/run")).expect(".ci/run");
    assert!(
        ci.contains("./scripts/test.sh"),
        ".ci/run must run the README's test command"
    );
}
