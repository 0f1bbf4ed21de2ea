//! `.delay()` with no client named: the process-wide client from `TASKQ_URL` (unset here, so
//! the in-memory backend), and a worker in the same process serving every linked task.

#[taskq::task(retries = 3, timeout = "30s")]
async fn add(a: i64, b: i64) -> i64 {
    a + b
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn delay_uses_the_process_wide_client() {
    assert!(
        std::env::var("TASKQ_URL").is_err(),
        "this test expects TASKQ_URL unset"
    );
    let worker = taskq::Worker::builder().spawn().unwrap();
    let handle = add(2, 3).delay().await.unwrap();
    let five: i64 = handle.get().await.unwrap();
    assert_eq!(five, 5);
    let many = taskq::delay_many((0..10).map(|i| add::new(i, i)))
        .await
        .unwrap();
    for (i, h) in many.into_iter().enumerate() {
        assert_eq!(h.get().await.unwrap(), 2 * i as i64);
    }
    let again = taskq::AsyncResult::<i64>::from_id(handle.id())
        .await
        .unwrap();
    assert_eq!(again.get().await.unwrap(), 5);
    assert!(taskq::Client::set_global(taskq::Client::memory()).is_err());
    worker.shutdown().await.unwrap();
}
