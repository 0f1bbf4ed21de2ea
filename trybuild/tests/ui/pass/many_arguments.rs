//! Nine arguments, raw identifiers and `mut`: every one becomes a field, in order, and the
//! struct goes through JSON and back.

use std::collections::BTreeMap;

use taskq::Task;

#[derive(Debug, Clone, PartialEq, serde::Serialize, serde::Deserialize)]
pub struct Point {
    x: i32,
    y: i32,
}

#[allow(clippy::too_many_arguments)]
#[taskq::task]
async fn many(
    a: u8,
    mut b: u16,
    r#type: String,
    d: Vec<u64>,
    e: Option<bool>,
    f: (i32, String),
    g: [u8; 3],
    h: BTreeMap<String, Point>,
    i: Point,
) -> usize {
    b += 1;
    usize::from(a)
        + usize::from(b)
        + r#type.len()
        + d.len()
        + usize::from(e.is_some())
        + f.1.len()
        + g.len()
        + h.len()
        + usize::try_from(i.x + i.y).unwrap_or(0)
}

#[tokio::main(flavor = "current_thread")]
async fn main() {
    let mut h = BTreeMap::new();
    h.insert("p".to_string(), Point { x: 1, y: 1 });
    let out = many(
        1,
        1,
        "ab".into(),
        vec![1],
        Some(true),
        (0, "c".into()),
        [0; 3],
        h.clone(),
        Point { x: 1, y: 2 },
    )
    .await;
    assert_eq!(out, 1 + 2 + 2 + 1 + 1 + 1 + 3 + 1 + 3);

    let call = many::new(
        1,
        2,
        "t".into(),
        vec![],
        None,
        (3, "s".into()),
        [1, 2, 3],
        h,
        Point { x: 0, y: 0 },
    );
    let task = call.task().expect("not yet awaited");
    let json = serde_json::to_value(task).expect("serializes");
    assert_eq!(json["type"], "t");
    assert_eq!(json["b"], 2);
    assert_eq!(json["h"]["p"]["x"], 1);
    let back: many = serde_json::from_value(json).expect("deserializes");
    assert_eq!(
        (back.a, back.b, back.r#type.as_str(), back.i),
        (1, 2, "t", Point { x: 0, y: 0 })
    );
    assert!(<many as Task>::NAME.ends_with("::many"));
}
