//! The frame every page shares (head, navigation, the page's one SSE stream) and small
//! rendering helpers: times, durations, states, JSON.

use maud::{html, Markup, PreEscaped, DOCTYPE};
use taskq::Timestamp;

use crate::auth::{Principal, Role};

use super::assets;

/// Which page is shown (for the navigation and the stream's filter).
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub(crate) enum Nav {
    Overview,
    Queues,
    Tasks,
    Dead,
    Workers,
    Login,
}

const NAV: [(Nav, &str, &str); 5] = [
    (Nav::Overview, "/", "Overview"),
    (Nav::Queues, "/queues", "Queues"),
    (Nav::Tasks, "/tasks", "Tasks"),
    (Nav::Dead, "/dead", "Dead letters"),
    (Nav::Workers, "/workers", "Workers"),
];

/// What a page puts in the frame.
#[derive(Debug)]
pub(crate) struct Frame<'a> {
    /// The `<title>` and the heading.
    pub title: &'a str,
    /// The active navigation entry.
    pub nav: Nav,
    /// Who is looking (`None` on the login page).
    pub who: Option<&'a Principal>,
    /// The page's SSE stream (`/ui/stream?...`), `None` for a static page.
    pub stream: Option<String>,
}

/// A whole page.
pub(crate) fn render(frame: Frame<'_>, body: Markup) -> Markup {
    let role = frame.who.map(|p| p.role);
    html! {
        (DOCTYPE)
        html lang="en" {
            head {
                meta charset="utf-8";
                meta name="viewport" content="width=device-width, initial-scale=1";
                meta name="robots" content="noindex, nofollow";
                title { (frame.title) " · taskq" }
                link rel="stylesheet" href=(assets::CSS_PATH);
                script src=(assets::HTMX_PATH) defer {}
                script src=(assets::SSE_PATH) defer {}
                script src=(assets::JS_PATH) defer {}
            }
            body
                hx-ext="sse"
                sse-connect=[frame.stream.as_deref()]
                data-role=[role.map(Role::as_str)]
            {
                header.top {
                    a.brand href="/" { "taskq" }
                    nav {
                        @for (nav, href, label) in NAV {
                            a href=(href) class=[(nav == frame.nav).then_some("active")] { (label) }
                        }
                    }
                    div.status {
                        span #live title="live updates over server-sent events" {
                            span.dot {} span #live-text { "connecting" }
                        }
                        @if let Some(p) = frame.who {
                            span.who title=(p.token_id.as_deref().unwrap_or("anonymous")) { (p.role.as_str()) }
                            @if p.token_id.is_some() {
                                form.inline method="post" action="/logout" {
                                    button.link type="submit" { "log out" }
                                }
                            }
                        }
                    }
                }
                main {
                    h1 { (frame.title) }
                    (body)
                }
                dialog #confirm {
                    form method="dialog" {
                        p #confirm-text {}
                        div.buttons {
                            button value="cancel" { "Cancel" }
                            button.danger #confirm-ok value="ok" { "Confirm" }
                        }
                    }
                }
                div #toast role="status" aria-live="polite" {}
            }
        }
    }
}

/// Whether `who` may act as `role`: the page shows the action's button only then (the server
/// checks again on the action itself).
pub(crate) fn may(who: &Principal, role: Role) -> bool {
    who.can(role)
}

/// A time as `2026-12-03 13:02:10.123` UTC.
pub(crate) fn time(t: Timestamp) -> String {
    let ms = t.as_millis();
    let secs = (ms / 1000) as i64;
    match time::OffsetDateTime::from_unix_timestamp(secs) {
        Ok(d) => format!(
            "{:04}-{:02}-{:02} {:02}:{:02}:{:02}.{:03}",
            d.year(),
            u8::from(d.month()),
            d.day(),
            d.hour(),
            d.minute(),
            d.second(),
            ms % 1000
        ),
        Err(_) => ms.to_string(),
    }
}

/// A `<time>` element: the absolute time, with a relative one the script keeps fresh.
pub(crate) fn when(t: Timestamp) -> Markup {
    html! {
        time datetime=(t.as_millis()) title=(format!("{} UTC", time(t))) { (ago(t)) }
    }
}

/// `3 s ago`, `in 5 min`.
pub(crate) fn ago(t: Timestamp) -> String {
    let now = Timestamp::now().as_millis();
    let at = t.as_millis();
    if at > now {
        format!("in {}", span_ms(at - now))
    } else {
        format!("{} ago", span_ms(now - at))
    }
}

/// A duration in milliseconds, short: `120 ms`, `3.4 s`, `5 min`, `2 h`.
pub(crate) fn span_ms(ms: u64) -> String {
    match ms {
        0..=999 => format!("{ms} ms"),
        1_000..=59_999 => format!("{:.1} s", ms as f64 / 1000.0),
        60_000..=3_599_999 => format!("{} min", ms / 60_000),
        _ => format!("{:.1} h", ms as f64 / 3_600_000.0),
    }
}

/// A state badge (`ready`, `succeeded`, `dead`...).
pub(crate) fn badge(state: &str) -> Markup {
    html! { span class=(format!("badge s-{}", state.replace(' ', "-"))) { (state) } }
}

/// JSON text, pretty when it parses, shortened to `max` characters (0: whole).
pub(crate) fn json_text(raw: &str, max: usize) -> String {
    let pretty = if max == 0 {
        serde_json::from_str::<serde_json::Value>(raw)
            .ok()
            .and_then(|v| serde_json::to_string_pretty(&v).ok())
            .unwrap_or_else(|| raw.to_owned())
    } else {
        raw.to_owned()
    };
    shorten(&pretty, max)
}

/// `text`, cut at `max` characters with an ellipsis (0: whole).
pub(crate) fn shorten(text: &str, max: usize) -> String {
    if max == 0 || text.chars().count() <= max {
        text.to_owned()
    } else {
        let mut s: String = text.chars().take(max).collect();
        s.push('…');
        s
    }
}

/// A number with thin thousands separators.
pub(crate) fn num(n: usize) -> String {
    let s = n.to_string();
    let mut out = String::new();
    for (i, c) in s.chars().enumerate() {
        if i > 0 && (s.len() - i) % 3 == 0 {
            out.push('\u{202f}');
        }
        out.push(c);
    }
    out
}

/// A query string value, percent-encoded.
pub(crate) fn enc(s: &str) -> String {
    let mut out = String::new();
    for b in s.bytes() {
        match b {
            b'A'..=b'Z' | b'a'..=b'z' | b'0'..=b'9' | b'-' | b'_' | b'.' | b'~' => {
                out.push(b as char)
            }
            _ => out.push_str(&format!("%{b:02X}")),
        }
    }
    out
}

/// A JSON value embedded in a `<script type="application/json">` (with `<` escaped so the
/// text cannot close the element).
pub(crate) fn json_island(id: &str, value: &impl serde::Serialize) -> Markup {
    let text = serde_json::to_string(value)
        .unwrap_or_else(|_| "null".to_owned())
        .replace('<', "\\u003c");
    html! { script type="application/json" id=(id) { (PreEscaped(text)) } }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn spans_and_numbers_read_well() {
        assert_eq!(span_ms(12), "12 ms");
        assert_eq!(span_ms(3_400), "3.4 s");
        assert_eq!(span_ms(300_000), "5 min");
        assert_eq!(num(1234567), "1\u{202f}234\u{202f}567");
        assert_eq!(num(12), "12");
        assert_eq!(shorten("abcdef", 3), "abc…");
        assert_eq!(enc("a b/é"), "a%20b%2F%C3%A9");
    }

    #[test]
    fn a_json_island_cannot_close_its_script() {
        let m = json_island("x", &"</script><b>").into_string();
        assert!(!m.contains("</script><b>"), "{m}");
        assert!(m.contains("\\u003c/script>"), "{m}");
    }

    #[test]
    fn times_are_utc() {
        assert_eq!(time(Timestamp(1_000_123)), "1970-01-01 00:16:40.123");
    }
}
