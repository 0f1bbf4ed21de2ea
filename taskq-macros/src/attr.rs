//! Stage 1: the arguments of `#[task(...)]` and `#[workflow(...)]`, parsed into typed options.
//!
//! The arguments are split at top-level commas and each `key = value` is read on its own, so one
//! bad key does not hide the others: every mistake is reported in the same build.

use proc_macro2::{Delimiter, Span, TokenStream, TokenTree};
use quote::quote;
use syn::{Expr, ExprLit, ExprUnary, Ident, Lit, LitStr, UnOp};

use crate::ctxt::Ctxt;
use crate::duration;

/// The keys of one attribute, each with an example of its use for messages, and the names other
/// tools use for them, to point their users at ours.
struct Keys {
    keys: &'static [(&'static str, &'static str)],
    aliases: &'static [(&'static str, &'static str)],
    /// The example shown for a key that does not exist.
    fallback: &'static str,
}

/// The keys of `#[task(...)]`.
const TASK: Keys = Keys {
    keys: &[
        ("name", "name = \"emails.send\""),
        ("queue", "queue = \"emails\""),
        ("priority", "priority = 9"),
        ("retries", "retries = 3"),
        ("max_attempts", "max_attempts = 4"),
        ("backoff", "backoff = \"1s\""),
        ("backoff_max", "backoff_max = \"10m\""),
        ("jitter", "jitter = false"),
        ("timeout", "timeout = \"30s\""),
        ("result_ttl", "result_ttl = \"1h\""),
        ("ignore_result", "ignore_result"),
        ("unique_for", "unique_for = \"10m\""),
        ("rate_limit", "rate_limit = \"100/s\""),
        ("rate_limit_key", "rate_limit_key = \"customer_id\""),
        ("concurrency", "concurrency = 5"),
        ("concurrency_key", "concurrency_key = \"customer_id\""),
        (
            "circuit_breaker",
            "circuit_breaker(failures = 5, within = \"1m\", cooldown = \"30s\")",
        ),
        ("cron", "cron = \"0 9 * * MON-FRI\""),
        ("tz", "tz = \"Europe/Berlin\""),
        ("catchup", "catchup = \"skip\""),
        ("overlap", "overlap = \"skip\""),
        ("dst", "dst = \"literal\""),
        ("crate", "crate = \"::taskq\""),
    ],
    aliases: &[
        ("max_retries", "retries"),
        ("retry", "retries"),
        ("attempts", "max_attempts"),
        ("time_limit", "timeout"),
        ("soft_time_limit", "timeout"),
        ("ttl", "result_ttl"),
        ("expires", "result_ttl"),
        ("krate", "crate"),
        ("retry_backoff", "backoff"),
    ],
    fallback: "retries = 3",
};

/// The keys of `#[workflow(...)]`.
const WORKFLOW: Keys = Keys {
    keys: &[
        ("name", "name = \"etl.pipeline\""),
        ("crate", "crate = \"::taskq\""),
    ],
    aliases: &[("krate", "crate")],
    fallback: "name = \"etl.pipeline\"",
};

/// The most retries allowed: a thousand attempts in all.
const MAX_ATTEMPTS: u64 = 1000;
/// The highest priority, as `taskq::MAX_PRIORITY`.
const MAX_PRIORITY: u64 = 9;

/// What becomes of the task's result.
pub(crate) enum ResultTtl {
    /// The runtime's default lifetime.
    Default,
    /// Kept this many milliseconds.
    Keep(u64),
    /// Not stored.
    Ignore,
}

/// The options of one `#[task(...)]`, as checked values. `None` means "the runtime's default".
pub(crate) struct TaskAttr {
    pub(crate) name: Option<String>,
    pub(crate) queue: Option<String>,
    pub(crate) priority: Option<u8>,
    pub(crate) max_attempts: Option<u32>,
    pub(crate) backoff_ms: Option<u64>,
    pub(crate) backoff_max_ms: Option<u64>,
    pub(crate) jitter: Option<bool>,
    pub(crate) timeout_ms: Option<u64>,
    pub(crate) result_ttl: ResultTtl,
    /// `unique_for`, in milliseconds (see `attr_unique.rs`).
    pub(crate) unique_for_ms: Option<u64>,
    /// `rate_limit`, `concurrency` and their keys (see `attr_flow.rs`).
    pub(crate) flow: crate::attr_flow::FlowAttr,
    /// `cron` and the other schedule keys (see `attr_schedule.rs`).
    pub(crate) schedule: Option<crate::attr_schedule::ScheduleAttr>,
    /// The path of the `taskq` crate: `::taskq` unless `crate = "..."`.
    pub(crate) krate: syn::Path,
}

/// One key's slot: remembers where the key was first given, so a second one is reported.
struct Slot<T> {
    key: &'static str,
    /// The key token and its position among the arguments.
    seen: Option<(Ident, usize)>,
    value: Option<T>,
}

impl<T> Slot<T> {
    fn new(key: &'static str) -> Self {
        Self {
            key,
            seen: None,
            value: None,
        }
    }

    /// Fills the slot, or reports the key as a duplicate. `value` is `None` when the value was
    /// wrong (that error is already recorded).
    fn set(&mut self, cx: &mut Ctxt, key: &Ident, position: usize, value: Option<T>) {
        if self.seen.is_some() {
            cx.error(
                key.span(),
                format!("duplicate key `{}`; remove this one", self.key),
            );
            return;
        }
        self.seen = Some((key.clone(), position));
        self.value = value;
    }

    fn position(&self) -> Option<usize> {
        self.seen.as_ref().map(|(_, position)| *position)
    }
}

/// All the slots, filled as the keys are read.
struct Slots {
    name: Slot<String>,
    queue: Slot<String>,
    priority: Slot<u8>,
    retries: Slot<u32>,
    max_attempts: Slot<u32>,
    backoff: Slot<(u64, Span)>,
    backoff_max: Slot<(u64, Span)>,
    jitter: Slot<bool>,
    timeout: Slot<u64>,
    result_ttl: Slot<u64>,
    ignore_result: Slot<bool>,
    unique_for: Slot<u64>,
    flow: crate::attr_flow::FlowAttr,
    schedule: crate::attr_schedule::ScheduleSlots,
    krate: Slot<syn::Path>,
}

/// Parses the arguments of `#[task(...)]`, recording every mistake in `cx`.
pub(crate) fn parse(cx: &mut Ctxt, args: TokenStream) -> TaskAttr {
    let mut slots = Slots {
        name: Slot::new("name"),
        queue: Slot::new("queue"),
        priority: Slot::new("priority"),
        retries: Slot::new("retries"),
        max_attempts: Slot::new("max_attempts"),
        backoff: Slot::new("backoff"),
        backoff_max: Slot::new("backoff_max"),
        jitter: Slot::new("jitter"),
        timeout: Slot::new("timeout"),
        result_ttl: Slot::new("result_ttl"),
        ignore_result: Slot::new("ignore_result"),
        unique_for: Slot::new("unique_for"),
        flow: Default::default(),
        schedule: Default::default(),
        krate: Slot::new("crate"),
    };
    for (position, arg) in split_commas(args).into_iter().enumerate() {
        if let Some((key, value)) = parse_arg(cx, &TASK, arg) {
            fill(cx, &mut slots, position, &key, value);
        }
    }
    finish(cx, slots)
}

/// The argument list, cut at the commas that are not inside brackets.
fn split_commas(args: TokenStream) -> Vec<Vec<TokenTree>> {
    let mut out = vec![Vec::new()];
    for tt in args {
        match &tt {
            TokenTree::Punct(p) if p.as_char() == ',' => out.push(Vec::new()),
            _ => {
                if let Some(last) = out.last_mut() {
                    last.push(tt);
                }
            }
        }
    }
    out.retain(|arg| !arg.is_empty());
    out
}

/// A value as written: absent (`ignore_result`), or the expression after `=`.
enum Value {
    Missing,
    Expr(Expr),
    /// `key(...)`: only `circuit_breaker` takes one.
    List(TokenStream),
}

/// Reads `key` or `key = value`.
fn parse_arg(cx: &mut Ctxt, keys: &Keys, arg: Vec<TokenTree>) -> Option<(Ident, Value)> {
    let mut tokens = arg.into_iter();
    let key = match tokens.next() {
        Some(TokenTree::Ident(key)) => key,
        Some(other) => {
            cx.error(
                other.span(),
                format!("expected a key, as in `{}`", keys.fallback),
            );
            return None;
        }
        None => return None,
    };
    let eq = match tokens.next() {
        None => return Some((key, Value::Missing)),
        Some(TokenTree::Punct(p)) if p.as_char() == '=' => p,
        Some(TokenTree::Group(g))
            if g.delimiter() == Delimiter::Parenthesis && key == "circuit_breaker" =>
        {
            return Some((key, Value::List(g.stream())));
        }
        Some(TokenTree::Group(g)) if g.delimiter() == Delimiter::Parenthesis => {
            cx.error(
                g.span(),
                format!(
                    "expected `=` after `{key}`, as in `{}`",
                    example(keys, &key)
                ),
            );
            return None;
        }
        Some(other) => {
            cx.error(other.span(), format!("expected `=` or `,` after `{key}`"));
            return None;
        }
    };
    let rest: TokenStream = tokens.collect();
    if rest.is_empty() {
        cx.error(
            eq.span(),
            format!(
                "expected a value after `=`, as in `{}`",
                example(keys, &key)
            ),
        );
        return None;
    }
    match syn::parse2::<Expr>(rest) {
        Ok(expr) => Some((key, Value::Expr(expr))),
        Err(err) => {
            cx.syn_error(err);
            None
        }
    }
}

/// An example use of `key`, or the fallback example for a key that does not exist.
fn example(keys: &Keys, key: &Ident) -> &'static str {
    let key = key.to_string();
    keys.keys
        .iter()
        .find(|(name, _)| *name == key)
        .map_or(keys.fallback, |(_, example)| example)
}

/// Checks one key's value and puts it in its slot.
fn fill(cx: &mut Ctxt, slots: &mut Slots, position: usize, key: &Ident, value: Value) {
    let name = key.to_string();
    let expr = match value {
        Value::Expr(expr) => Some(expr),
        Value::List(list) if name == "circuit_breaker" => {
            crate::attr_flow::breaker(cx, &mut slots.flow, key, list);
            return;
        }
        Value::List(_) => {
            missing_value(cx, &TASK, key);
            return;
        }
        Value::Missing if name == "ignore_result" => None,
        Value::Missing => {
            missing_value(cx, &TASK, key);
            return;
        }
    };
    let Some(expr) = expr else {
        slots.ignore_result.set(cx, key, position, Some(true));
        return;
    };
    let expr = &expr;
    match name.as_str() {
        "name" => {
            let v = string_lit(cx, &TASK, key, expr)
                .and_then(|s| checked_name(cx, &s, "task name", "name"));
            slots.name.set(cx, key, position, v);
        }
        "queue" => {
            let v = string_lit(cx, &TASK, key, expr)
                .and_then(|s| checked_name(cx, &s, "queue name", "queue"));
            slots.queue.set(cx, key, position, v);
        }
        "priority" => {
            let v = integer(cx, key, expr, 0, MAX_PRIORITY, "higher runs first")
                .and_then(|n| u8::try_from(n).ok());
            slots.priority.set(cx, key, position, v);
        }
        "retries" => {
            let v = integer(
                cx,
                key,
                expr,
                0,
                MAX_ATTEMPTS - 1,
                "the retries after the first attempt",
            )
            .and_then(|n| u32::try_from(n).ok());
            slots.retries.set(cx, key, position, v);
        }
        "max_attempts" => {
            let v = integer(
                cx,
                key,
                expr,
                1,
                MAX_ATTEMPTS,
                "the attempts in all, the first one included",
            )
            .and_then(|n| u32::try_from(n).ok());
            slots.max_attempts.set(cx, key, position, v);
        }
        "backoff" => {
            let v = duration(cx, key, expr).map(|(ms, lit)| (ms, lit.span()));
            slots.backoff.set(cx, key, position, v);
        }
        "backoff_max" => {
            let v = duration(cx, key, expr).map(|(ms, lit)| (ms, lit.span()));
            slots.backoff_max.set(cx, key, position, v);
        }
        "jitter" => {
            let v = boolean(cx, key, expr);
            slots.jitter.set(cx, key, position, v);
        }
        "timeout" => {
            let v = duration(cx, key, expr).and_then(|(ms, lit)| positive(cx, key, ms, &lit));
            slots.timeout.set(cx, key, position, v);
        }
        "result_ttl" => {
            let v = duration(cx, key, expr).and_then(|(ms, lit)| positive(cx, key, ms, &lit));
            slots.result_ttl.set(cx, key, position, v);
        }
        "ignore_result" => {
            let v = boolean(cx, key, expr);
            slots.ignore_result.set(cx, key, position, v);
        }
        "crate" => {
            let v = string_lit(cx, &TASK, key, expr).and_then(|lit| crate_path(cx, &lit));
            slots.krate.set(cx, key, position, v);
        }
        "unique_for" => {
            let v = crate::attr_unique::unique_for(cx, key, expr);
            slots.unique_for.set(cx, key, position, v);
        }
        k if crate::attr_flow::is_flow_key(k) => {
            crate::attr_flow::fill(cx, &mut slots.flow, key, expr);
        }
        k if crate::attr_schedule::is_schedule_key(k) => {
            crate::attr_schedule::fill(cx, &mut slots.schedule, key, expr);
        }
        _ => unknown_key(cx, &TASK, key),
    }
}

/// A key written without `= value`.
fn missing_value(cx: &mut Ctxt, keys: &Keys, key: &Ident) {
    let name = key.to_string();
    if keys.keys.iter().any(|(k, _)| *k == name) {
        cx.error(
            key.span(),
            format!("`{name}` needs a value, as in `{}`", example(keys, key)),
        );
    } else {
        unknown_key(cx, keys, key);
    }
}

fn unknown_key(cx: &mut Ctxt, keys: &Keys, key: &Ident) {
    let name = key.to_string();
    let valid = keys
        .keys
        .iter()
        .map(|(k, _)| format!("`{k}`"))
        .collect::<Vec<_>>()
        .join(", ");
    let suggestion = keys
        .aliases
        .iter()
        .find(|(alias, _)| *alias == name)
        .map(|(_, key)| *key)
        .or_else(|| {
            keys.keys
                .iter()
                .map(|(k, _)| (*k, edit_distance(k, &name)))
                .filter(|(k, d)| *d <= 2 && *d < k.len())
                .min_by_key(|(_, d)| *d)
                .map(|(k, _)| k)
        });
    let message = match suggestion {
        Some(s) => format!("unknown key `{name}`; did you mean `{s}`? the keys are {valid}"),
        None => format!("unknown key `{name}`; expected one of {valid}"),
    };
    cx.error(key.span(), message);
}

/// Levenshtein distance, for "did you mean".
fn edit_distance(a: &str, b: &str) -> usize {
    let b: Vec<char> = b.chars().collect();
    let mut row: Vec<usize> = (0..=b.len()).collect();
    for (i, ca) in a.chars().enumerate() {
        let mut diagonal = row[0];
        row[0] = i + 1;
        for (j, cb) in b.iter().enumerate() {
            let above = row[j + 1];
            row[j + 1] = if ca == *cb {
                diagonal
            } else {
                1 + diagonal.min(above).min(row[j])
            };
            diagonal = above;
        }
    }
    row[b.len()]
}

/// The literal of `expr`, seeing through a minus sign: `(-1)` is `Some((true, 1))`.
fn literal(expr: &Expr) -> Option<(bool, &Lit)> {
    match expr {
        Expr::Lit(ExprLit { lit, .. }) => Some((false, lit)),
        Expr::Unary(ExprUnary {
            op: UnOp::Neg(_),
            expr,
            ..
        }) => match &**expr {
            Expr::Lit(ExprLit { lit, .. }) => Some((true, lit)),
            _ => None,
        },
        Expr::Group(g) => literal(&g.expr),
        _ => None,
    }
}

/// What kind of value `expr` is, for "found ..." in messages.
fn found(expr: &Expr) -> &'static str {
    match literal(expr) {
        Some((_, Lit::Str(_))) => "a string",
        Some((_, Lit::Int(_))) => "an integer",
        Some((_, Lit::Float(_))) => "a float",
        Some((_, Lit::Bool(_))) => "a boolean",
        Some(_) => "a literal",
        None => match expr {
            Expr::Path(_) => "a path",
            _ => "an expression",
        },
    }
}

fn string_lit(cx: &mut Ctxt, keys: &Keys, key: &Ident, expr: &Expr) -> Option<LitStr> {
    match literal(expr) {
        Some((false, Lit::Str(s))) => Some(s.clone()),
        _ => {
            cx.error_spanned(
                expr,
                format!(
                    "`{key}` takes a string, found {}; write `{}`",
                    found(expr),
                    example(keys, key)
                ),
            );
            None
        }
    }
}

/// A task, workflow or queue name: not empty, and only characters every backend takes in a key.
fn checked_name(cx: &mut Ctxt, lit: &LitStr, what: &str, key: &str) -> Option<String> {
    let value = lit.value();
    if value.is_empty() {
        let default = if key == "name" {
            "the default name, `<module path>::<function name>`"
        } else {
            "the default queue, `default`"
        };
        cx.error(
            lit.span(),
            format!("{what} cannot be empty; remove `{key}` to use {default}"),
        );
        return None;
    }
    let allowed = |c: char| c.is_ascii_alphanumeric() || matches!(c, '_' | '.' | ':' | '-');
    if let Some(bad) = value.chars().find(|c| !allowed(*c)) {
        cx.error(
            lit.span(),
            format!(
                "invalid character `{}` in {what} {value:?}; use ASCII letters, digits, `_`, `.`, `:` and `-`",
                bad.escape_debug()
            ),
        );
        return None;
    }
    Some(value)
}

/// An integer between `min` and `max`; `meaning` explains the key in a range error.
fn integer(
    cx: &mut Ctxt,
    key: &Ident,
    expr: &Expr,
    min: u64,
    max: u64,
    meaning: &str,
) -> Option<u64> {
    let out_of_range = |cx: &mut Ctxt, shown: String| {
        cx.error_spanned(
            expr,
            format!("`{key}` must be between {min} and {max} ({meaning}), found {shown}"),
        );
    };
    match literal(expr) {
        Some((negative, Lit::Int(int))) => {
            let digits = int.base10_digits();
            if negative {
                if digits.bytes().all(|b| b == b'0') && min == 0 {
                    return Some(0);
                }
                out_of_range(cx, format!("-{digits}"));
                return None;
            }
            match int.base10_parse::<u64>() {
                Ok(n) if (min..=max).contains(&n) => Some(n),
                _ => {
                    out_of_range(cx, digits.to_owned());
                    None
                }
            }
        }
        Some((false, Lit::Str(s))) if s.value().trim().parse::<u64>().is_ok() => {
            cx.error(
                s.span(),
                format!(
                    "`{key}` takes an integer, not a string; write `{key} = {}`",
                    s.value().trim()
                ),
            );
            None
        }
        _ => {
            cx.error_spanned(
                expr,
                format!(
                    "`{key}` takes an integer, found {}; write `{}`",
                    found(expr),
                    example(&TASK, key)
                ),
            );
            None
        }
    }
}

fn boolean(cx: &mut Ctxt, key: &Ident, expr: &Expr) -> Option<bool> {
    match literal(expr) {
        Some((false, Lit::Bool(b))) => Some(b.value),
        Some((false, Lit::Str(s))) if matches!(s.value().as_str(), "true" | "false") => {
            cx.error(
                s.span(),
                format!(
                    "`{key}` takes `true` or `false`, not a string; write `{key} = {}`",
                    s.value()
                ),
            );
            None
        }
        _ => {
            cx.error_spanned(
                expr,
                format!("`{key}` takes `true` or `false`, found {}", found(expr)),
            );
            None
        }
    }
}

/// A duration string, in milliseconds, with its literal for later messages.
fn duration(cx: &mut Ctxt, key: &Ident, expr: &Expr) -> Option<(u64, LitStr)> {
    match literal(expr) {
        Some((false, Lit::Str(s))) => match duration::parse_millis(&s.value()) {
            Ok(ms) => Some((ms, s.clone())),
            Err(why) => {
                cx.error(s.span(), format!("invalid duration for `{key}`: {why}"));
                None
            }
        },
        _ => {
            cx.error_spanned(
                expr,
                format!(
                    "`{key}` takes a duration string with a unit, found {}; write `{}`",
                    found(expr),
                    example(&TASK, key)
                ),
            );
            None
        }
    }
}

fn positive(cx: &mut Ctxt, key: &Ident, ms: u64, lit: &LitStr) -> Option<u64> {
    if ms > 0 {
        return Some(ms);
    }
    let hint = if key == "result_ttl" {
        "; to keep no result, use `ignore_result`"
    } else {
        "; remove it for no time limit"
    };
    cx.error(
        lit.span(),
        format!("`{key}` must be longer than zero{hint}"),
    );
    None
}

fn crate_path(cx: &mut Ctxt, lit: &LitStr) -> Option<syn::Path> {
    match lit.parse_with(syn::Path::parse_mod_style) {
        Ok(path) => Some(path),
        Err(_) => {
            cx.error(
                lit.span(),
                format!(
                    "invalid `crate` path {:?}; expected the path of the `taskq` crate, as in `crate = \"::taskq\"` or `crate = \"my_crate::taskq\"`",
                    lit.value()
                ),
            );
            None
        }
    }
}

/// Checks the keys against each other and settles the defaults.
fn finish(cx: &mut Ctxt, s: Slots) -> TaskAttr {
    // Report a conflict at whichever of the two keys comes second.
    let later = |a: Option<usize>, b: Option<usize>| match (a, b) {
        (Some(a), Some(b)) => Some(a.max(b)),
        _ => None,
    };
    if let Some(second) = later(s.retries.position(), s.max_attempts.position()) {
        let key = [&s.retries.seen, &s.max_attempts.seen]
            .into_iter()
            .flatten()
            .find(|(_, p)| *p == second);
        if let Some((key, _)) = key {
            cx.error(
                key.span(),
                "`retries` and `max_attempts` cannot both be set; `retries = N` means `max_attempts = N + 1`",
            );
        }
    }
    let ignore = s.ignore_result.value == Some(true);
    if let (true, Some(second)) = (
        ignore,
        later(s.ignore_result.position(), s.result_ttl.position()),
    ) {
        let key = [&s.ignore_result.seen, &s.result_ttl.seen]
            .into_iter()
            .flatten()
            .find(|(_, p)| *p == second);
        if let Some((key, _)) = key {
            cx.error(
                key.span(),
                "`ignore_result` conflicts with `result_ttl`: a task that ignores its result keeps none; remove one of them",
            );
        }
    }
    if let (Some((base, _)), Some((cap, cap_span))) = (s.backoff.value, s.backoff_max.value) {
        if cap < base {
            cx.error(
                cap_span,
                format!(
                    "`backoff_max` ({}) must not be shorter than `backoff` ({})",
                    duration::display(cap),
                    duration::display(base)
                ),
            );
        }
    }
    let result_ttl = match (ignore, s.result_ttl.value) {
        (true, _) => ResultTtl::Ignore,
        (false, Some(ms)) => ResultTtl::Keep(ms),
        (false, None) => ResultTtl::Default,
    };
    let krate: syn::Path = s.krate.value.unwrap_or_else(|| syn::parse_quote!(::taskq));
    TaskAttr {
        name: s.name.value,
        queue: s.queue.value,
        priority: s.priority.value,
        max_attempts: s
            .max_attempts
            .value
            .or_else(|| s.retries.value.map(|r| r + 1)),
        backoff_ms: s.backoff.value.map(|(ms, _)| ms),
        backoff_max_ms: s.backoff_max.value.map(|(ms, _)| ms),
        jitter: s.jitter.value,
        timeout_ms: s.timeout.value,
        result_ttl,
        unique_for_ms: s.unique_for.value,
        flow: s.flow,
        schedule: crate::attr_schedule::finish(cx, s.schedule, &krate),
        krate,
    }
}

impl TaskAttr {
    /// The path of `serde` for `#[serde(crate = "...")]`.
    pub(crate) fn serde_path(&self) -> String {
        serde_path(&self.krate)
    }
}

/// The options of one `#[workflow(...)]`.
pub(crate) struct WorkflowAttr {
    pub(crate) name: Option<String>,
    /// The path of the `taskq` crate: `::taskq` unless `crate = "..."`.
    pub(crate) krate: syn::Path,
}

impl WorkflowAttr {
    /// The path of `serde` for `#[serde(crate = "...")]`.
    pub(crate) fn serde_path(&self) -> String {
        serde_path(&self.krate)
    }
}

/// Parses the arguments of `#[workflow(...)]`, recording every mistake in `cx`.
pub(crate) fn parse_workflow(cx: &mut Ctxt, args: TokenStream) -> WorkflowAttr {
    let mut name = Slot::new("name");
    let mut krate = Slot::new("crate");
    for (position, arg) in split_commas(args).into_iter().enumerate() {
        let Some((key, value)) = parse_arg(cx, &WORKFLOW, arg) else {
            continue;
        };
        let Value::Expr(expr) = value else {
            missing_value(cx, &WORKFLOW, &key);
            continue;
        };
        match key.to_string().as_str() {
            "name" => {
                let v = string_lit(cx, &WORKFLOW, &key, &expr)
                    .and_then(|s| checked_name(cx, &s, "workflow name", "name"));
                name.set(cx, &key, position, v);
            }
            "crate" => {
                let v = string_lit(cx, &WORKFLOW, &key, &expr).and_then(|lit| crate_path(cx, &lit));
                krate.set(cx, &key, position, v);
            }
            _ => unknown_key(cx, &WORKFLOW, &key),
        }
    }
    WorkflowAttr {
        name: name.value,
        krate: krate.value.unwrap_or_else(|| syn::parse_quote!(::taskq)),
    }
}

/// The path of `serde` under `krate`, as a string for `#[serde(crate = "...")]`.
fn serde_path(krate: &syn::Path) -> String {
    // `quote!` puts spaces around `::`; serde reads the string back as tokens, so that is fine,
    // but a tidy string reads better in expanded code.
    quote!(#krate::__private::serde)
        .to_string()
        .replace(' ', "")
}

#[cfg(test)]
mod tests {
    use super::edit_distance;

    #[test]
    fn edit_distance_counts_edits() {
        assert_eq!(edit_distance("retries", "retries"), 0);
        assert_eq!(edit_distance("retries", "retry"), 3);
        assert_eq!(edit_distance("retries", "retires"), 2);
        assert_eq!(edit_distance("queue", "queu"), 1);
        assert_eq!(edit_distance("", "abc"), 3);
    }
}
