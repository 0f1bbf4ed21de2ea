//! `crate = "..."` names the `taskq` crate when it is renamed or re-exported.

use ::taskq as tq;

mod reexport {
    pub use ::taskq as inner;
}

#[tq::task(crate = "tq")]
async fn fetch(n: u32) -> Vec<u32> {
    (1..=n).collect()
}

#[tq::task(crate = "tq")]
async fn sum(values: Vec<u32>, extra: u32) -> u32 {
    values.iter().sum::<u32>() + extra
}

#[tq::workflow(crate = "tq")]
fn by_use(n: u32) -> impl tq::canvas::Canvas<Output = u32> {
    fetch::new(n).then(sum::partial(1))
}

#[reexport::inner::workflow(crate = "crate::reexport::inner", name = "by_reexport")]
fn by_reexport(n: u32) -> tq::canvas::Chain<tq::Call<fetch>, tq::canvas::Partial<sum>> {
    fetch::new(n).then(sum::partial(2))
}

fn main() {
    use tq::canvas::Workflow;
    assert_eq!(<by_reexport as Workflow>::NAME, "by_reexport");
    let _ = (by_use::new(1), by_reexport::new(2));
}
