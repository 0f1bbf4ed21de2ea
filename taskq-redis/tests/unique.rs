//! Unique tasks on Redis under real workers and several connections: one key, many concurrent
//! senders on four backend instances (four connections), exactly one task; the key held while
//! the task runs and released by its success; a retrying task keeps it.

use std::sync::atomic::{AtomicUsize, Ordering};
use std::sync::Arc;
use std::time::Duration;

use taskq::unique::Enqueued;
use taskq::{Client, Worker};
use taskq_redis::testing::RedisServer;
use taskq_redis::RedisBackend;

static RUNS: AtomicUsize = AtomicUsize::new(0);

#[taskq::task(name = "redis.unique.report", queue = "unique", unique_for = "1m")]
async fn report(account: u32) -> u32 {
    RUNS.fetch_add(1, Ordering::SeqCst);
    tokio::time::sleep(Duration::from_millis(300)).await;
    account * 2
}

async fn client(server: &RedisServer) -> Client {
    let backend = RedisBackend::connect(&server.url())
        .await
        .expect("connect to the private redis-server");
    Client::new(Arc::new(backend))
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn concurrent_enqueues_of_one_key_make_one_task() {
    let server = RedisServer::start();
    let mut clients = Vec::new();
    for _ in 0..4 {
        clients.push(client(&server).await);
    }
    // 4 connections x 16 tasks each, all at once.
    let mut joins = Vec::new();
    for c in &clients {
        for _ in 0..16 {
            let c = c.clone();
            joins.push(tokio::spawn(async move { report(7).delay_on(&c).await }));
        }
    }
    let mut new = Vec::new();
    let mut ids = std::collections::HashSet::new();
    for j in joins {
        let handle = j.await.expect("join").expect("send");
        ids.insert(handle.id());
        if handle.enqueued() == Enqueued::New {
            new.push(handle.id());
        }
    }
    assert_eq!(new.len(), 1, "exactly one send is new");
    assert_eq!(ids.len(), 1, "every handle names the one task");
    let stats = clients[0]
        .backend()
        .queue_stats("unique")
        .await
        .expect("stats");
    assert_eq!(stats.ready, 1, "one task queued");

    // Run it: a send while it runs is a duplicate; after its success the key is free.
    RUNS.store(0, Ordering::SeqCst);
    let worker = Worker::builder()
        .client(clients[0].clone())
        .queues(["unique"])
        .spawn()
        .expect("spawn a worker");
    let first = clients[1].result::<u32>(new[0]);
    // Wait until it is running.
    for _ in 0..100 {
        if first.state().await.expect("state") == taskq::TaskState::Running {
            break;
        }
        tokio::time::sleep(Duration::from_millis(10)).await;
    }
    let during = report(7).delay_on(&clients[2]).await.expect("send");
    assert_eq!(during.enqueued(), Enqueued::Existing);
    assert_eq!(during.id(), new[0]);
    // The existing handle's result is the first task's, awaited from another connection.
    assert_eq!(during.get().await.expect("result"), 14);
    let after = report(7).delay_on(&clients[3]).await.expect("send");
    assert_eq!(after.enqueued(), Enqueued::New, "released by the success");
    assert_ne!(after.id(), new[0]);
    assert_eq!(after.get().await.expect("result"), 14);
    assert_eq!(RUNS.load(Ordering::SeqCst), 2);
    worker.shutdown().await.expect("shutdown");
}

#[taskq::task(name = "redis.unique.explicit", queue = "unique-explicit")]
async fn sync_account(id: u64, full: bool) -> bool {
    let _ = id;
    full
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn explicit_key_and_call_window() {
    let server = RedisServer::start();
    let c = client(&server).await;
    let a = sync_account(1, false)
        .unique_key("account-1")
        .delay_on(&c)
        .await
        .expect("send");
    let b = sync_account(1, true)
        .unique_key("account-1")
        .delay_on(&c)
        .await
        .expect("send");
    assert_eq!(
        (a.enqueued(), b.enqueued()),
        (Enqueued::New, Enqueued::Existing)
    );
    assert_eq!(a.id(), b.id());
    // A window set on the call makes a task unique by its arguments.
    let w = Duration::from_millis(300);
    let x = sync_account(2, true)
        .unique_for(w)
        .delay_on(&c)
        .await
        .expect("send");
    let y = sync_account(2, true)
        .unique_for(w)
        .delay_on(&c)
        .await
        .expect("send");
    assert_eq!(y.id(), x.id());
    tokio::time::sleep(Duration::from_millis(500)).await;
    let z = sync_account(2, true)
        .unique_for(w)
        .delay_on(&c)
        .await
        .expect("send");
    assert_eq!(z.enqueued(), Enqueued::New, "the window ran out");
    // Not unique: every send is new.
    let p = sync_account(3, true).delay_on(&c).await.expect("send");
    let q = sync_account(3, true).delay_on(&c).await.expect("send");
    assert_ne!(p.id(), q.id());
}
