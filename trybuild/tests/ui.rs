//! The diagnostics and expansions of `#[task]`, `#[workflow]` and the typed canvas (`canvas_*`,
//! `workflow_*`): every case is one file under `ui/`, with the compiler's output beside each
//! compile-fail case (regenerate with `TRYBUILD=overwrite`, then
//! read every changed `.stderr`).

#[test]
fn ui() {
    let t = trybuild::TestCases::new();
    t.compile_fail("tests/ui/fail/*.rs");
    t.pass("tests/ui/pass/*.rs");
}
