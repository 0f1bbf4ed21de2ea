//! `GET /api/events`: server-sent events from the backend's log, resumed with Last-Event-ID
//! without losing any.

mod api_support;

use api_support::*;
use serde_json::{json, Value};

/// One SSE message.
#[derive(Debug)]
struct Message {
    id: Option<String>,
    event: Option<String>,
    data: Value,
}

/// Reads SSE messages from a streaming response.
struct SseReader {
    response: reqwest::Response,
    buffer: String,
}

impl SseReader {
    fn new(response: reqwest::Response) -> Self {
        assert_eq!(response.status(), 200);
        let ctype = response.headers()["content-type"]
            .to_str()
            .expect("content type")
            .to_owned();
        assert!(ctype.starts_with("text/event-stream"), "{ctype}");
        Self {
            response,
            buffer: String::new(),
        }
    }

    async fn next(&mut self) -> Message {
        loop {
            if let Some(end) = self.buffer.find("\n\n") {
                let frame: String = self.buffer.drain(..end + 2).collect();
                let mut m = Message {
                    id: None,
                    event: None,
                    data: Value::Null,
                };
                let mut data = String::new();
                for line in frame.lines() {
                    let Some((field, value)) = line.split_once(':') else {
                        continue;
                    };
                    let value = value.strip_prefix(' ').unwrap_or(value);
                    match field {
                        "id" => m.id = Some(value.to_owned()),
                        "event" => m.event = Some(value.to_owned()),
                        "data" => data.push_str(value),
                        _ => {} // a comment (keep-alive) has an empty field name
                    }
                }
                if data.is_empty() {
                    continue;
                }
                m.data = serde_json::from_str(&data).unwrap_or(Value::String(data));
                return m;
            }
            let chunk = self
                .response
                .chunk()
                .await
                .expect("read the stream")
                .expect("the stream ended");
            self.buffer
                .push_str(&String::from_utf8_lossy(&chunk).replace("\r\n", "\n"));
        }
    }

    /// The next `enqueued` event.
    async fn next_enqueued(&mut self) -> Message {
        loop {
            let m = self.next().await;
            if m.event.as_deref() == Some("enqueued") {
                return m;
            }
        }
    }
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn events_stream_and_resume_with_last_event_id_without_loss() {
    let api = start_with(Setup {
        no_worker: true,
        ..Setup::default()
    })
    .await;
    let open = |last: Option<String>| {
        let mut req = api.get("/api/events?queue=evq", &api.tokens.viewer);
        if let Some(id) = last {
            req = req.header("Last-Event-ID", id);
        }
        req.send()
    };
    let submit = |a: i64| {
        api.post(
            "/api/tasks",
            &api.tokens.operator,
            &json!({ "task": name_of::<add>(), "a": a, "b": 0, "options": { "queue": "evq" } }),
        )
        .send()
    };
    let mut ids = Vec::new();
    let mut stream = SseReader::new(open(None).await.unwrap());
    for a in 0..3 {
        ids.push(
            json(submit(a).await.unwrap(), 202).await["id"]
                .as_str()
                .unwrap()
                .to_owned(),
        );
    }
    let first = stream.next_enqueued().await;
    let second = stream.next_enqueued().await;
    assert_eq!(first.data["id"], ids[0].as_str());
    assert_eq!(second.data["id"], ids[1].as_str());
    assert_eq!(first.data["queue"], "evq");
    let resume_at = second.id.clone().expect("an id on every event");
    drop(stream);

    // Two more while nobody listens.
    for a in 3..5 {
        ids.push(
            json(submit(a).await.unwrap(), 202).await["id"]
                .as_str()
                .unwrap()
                .to_owned(),
        );
    }
    let mut stream = SseReader::new(open(Some(resume_at)).await.unwrap());
    for want in &ids[2..] {
        let m = stream.next_enqueued().await;
        assert_eq!(
            m.data["id"],
            want.as_str(),
            "in order, none lost or repeated"
        );
    }

    // A cursor this server never sent is a 400.
    let r = open(Some("not a cursor".to_owned())).await.unwrap();
    problem(r, 400).await;
    api.shutdown().await;
}
