use taskq::canvas::Canvas;

#[taskq::task]
async fn fetch(n: u32) -> u32 {
    n
}

pub struct Pipelines;

impl Pipelines {
    #[taskq::workflow]
    pub fn pipeline(&self, n: u32) -> impl Canvas<Output = u32> {
        fetch::new(n)
    }
}

fn main() {}
