// A DAG step with two dependencies receives their outputs as a tuple, in order.

use taskq::canvas::Dag;

#[taskq::task]
async fn count(n: u32) -> u32 {
    n
}

#[taskq::task]
async fn label(text: String) -> String {
    text
}

#[taskq::task]
async fn report(stats: (u32, u32)) -> String {
    format!("{stats:?}")
}

fn main() {
    let mut dag = Dag::new();
    let a = dag.step("count", count::new(1));
    let b = dag.step("label", label::new("x".into()));
    let _out = dag.after("report", (a, b), report::partial());
}
