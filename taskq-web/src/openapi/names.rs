//! Component names: OpenAPI allows only `^[a-zA-Z0-9.\-_]+$` as a key of
//! `components.schemas`, while task names are Rust paths (`billing::send_invoice`) or anything
//! else a producer chose. The mapping is reversible: `::` becomes `.`, a `.` of the name
//! becomes `-.`... precisely:
//!
//! | in the name | in the key |
//! |---|---|
//! | `::` | `.` |
//! | `-` | `--` |
//! | `.` | `-d` |
//! | any other byte outside `[a-zA-Z0-9_]` | `-xHH` (hex) |
//!
//! so `.` in a key only ever comes from `::`, and `-` always starts an escape.

/// The key part for a task or workflow name.
pub(crate) fn encode(name: &str) -> String {
    let mut out = String::with_capacity(name.len());
    let bytes = name.as_bytes();
    let mut i = 0;
    while i < bytes.len() {
        let b = bytes[i];
        if b == b':' && bytes.get(i + 1) == Some(&b':') {
            out.push('.');
            i += 2;
            continue;
        }
        match b {
            b'a'..=b'z' | b'A'..=b'Z' | b'0'..=b'9' | b'_' => out.push(char::from(b)),
            b'-' => out.push_str("--"),
            b'.' => out.push_str("-d"),
            _ => out.push_str(&format!("-x{b:02x}")),
        }
        i += 1;
    }
    out
}

/// The name a key part came from; `None` if it is not one [`encode`] makes (the proof that
/// the mapping is reversible, and for tools that read the document back).
#[cfg_attr(not(test), allow(dead_code))]
pub(crate) fn decode(key: &str) -> Option<String> {
    let mut out = Vec::with_capacity(key.len());
    let bytes = key.as_bytes();
    let mut i = 0;
    while i < bytes.len() {
        match bytes[i] {
            b'.' => out.extend_from_slice(b"::"),
            b'-' => {
                match bytes.get(i + 1)? {
                    b'-' => out.push(b'-'),
                    b'd' => out.push(b'.'),
                    b'x' => {
                        let hex = key.get(i + 2..i + 4)?;
                        out.push(u8::from_str_radix(hex, 16).ok()?);
                        i += 2;
                    }
                    _ => return None,
                }
                i += 1;
            }
            b => out.push(b),
        }
        i += 1;
    }
    String::from_utf8(out).ok()
}

/// The component key of task `name`'s variant in the union of `POST /api/tasks`.
pub(crate) fn task_key(name: &str) -> String {
    format!("task.{}", encode(name))
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn reversible_and_valid() {
        for name in [
            "billing::send_invoice",
            "a.b",
            "a::b.c-d",
            "emails.send:now",
            "ünï",
            "x-d",
            "plain",
        ] {
            let key = encode(name);
            assert!(
                key.bytes()
                    .all(|b| b.is_ascii_alphanumeric() || b"._-".contains(&b)),
                "{key}"
            );
            assert_eq!(decode(&key).as_deref(), Some(name), "{key}");
        }
        assert_eq!(encode("billing::send_invoice"), "billing.send_invoice");
        assert_ne!(encode("a.b"), encode("a::b"));
        assert_eq!(decode("bad-q"), None);
    }
}
