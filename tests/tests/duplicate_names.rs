//! Two tasks under one name: the worker refuses to start and names both declarations.

mod billing {
    #[taskq::task(name = "shared.name")]
    pub async fn charge(amount: u64) -> u64 {
        amount
    }
}

mod emails {
    #[taskq::task(name = "shared.name")]
    pub async fn send(to: String) -> String {
        to
    }
}

#[tokio::test]
async fn duplicate_task_names_refuse_start_up_naming_both_places() {
    let err = taskq::Worker::builder()
        .client(taskq::Client::memory())
        .spawn()
        .expect_err("a worker must not start with two tasks named alike");
    let message = err.to_string();
    match err {
        taskq::Error::Registry(taskq::RegistryError::DuplicateName {
            name,
            first,
            second,
        }) => {
            assert_eq!(name, "shared.name");
            assert!(first.contains("duplicate_names.rs:"), "{first}");
            assert!(second.contains("duplicate_names.rs:"), "{second}");
            assert_ne!(first, second);
        }
        other => panic!("expected a duplicate-name error, got {other}"),
    }
    assert!(message.contains("shared.name"), "{message}");
    // The functions themselves are untouched.
    assert_eq!(billing::charge(5).await, 5);
    assert_eq!(emails::send("a".into()).await, "a");
}
