//! A task declared inside a function body.

#[tokio::main(flavor = "current_thread")]
async fn main() {
    #[taskq::task]
    async fn inner(n: u32) -> u32 {
        n * 2
    }

    assert_eq!(inner(21).await, 42);
    assert!(<inner as taskq::Task>::NAME.ends_with("::inner"));
}
