//! `TASKQ_EVENTS=off`: nothing reaches the backend's event log, and tasks run as before. A test
//! binary of its own, since the switch is process-wide.

use std::time::Duration;

use taskq::events::{EventCursor, EventRead};
use taskq::{Client, Worker};

#[taskq::task(queue = "quiet")]
async fn echo(n: u32) -> u32 {
    n
}

#[tokio::test]
async fn with_events_off_the_log_stays_empty() {
    std::env::set_var(taskq::events::EVENTS_ENV, "off");
    assert!(!taskq::events::enabled());
    let client = Client::memory();
    let worker = Worker::builder().client(client.clone()).spawn().unwrap();
    let handles = client.send_many((0..10).map(echo::new)).await.unwrap();
    for (n, h) in handles.into_iter().enumerate() {
        assert_eq!(h.get().await.unwrap() as usize, n);
    }
    let queues = ["quiet".to_owned()];
    let got = client
        .backend()
        .read_events(EventRead {
            queues: &queues,
            after: &EventCursor::default(),
            max: 100,
            wait: Duration::from_millis(100),
        })
        .await
        .unwrap();
    assert!(
        got.is_empty(),
        "events were written with events off: {got:?}"
    );
    worker.shutdown().await.unwrap();
}
