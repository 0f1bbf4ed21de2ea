//! The schedule keys of `#[task(...)]`: `cron`, `tz`, `catchup`, `overlap`, `dst`. The cron
//! expression and the time zone are checked here, with the same `croner` and `jiff` (bundled
//! tz database) that the runtime uses, so a schedule that compiles also parses at run time.

use proc_macro2::{Span, TokenStream};
use quote::quote;
use syn::{Expr, ExprLit, Ident, Lit, LitStr};

use crate::ctxt::Ctxt;

/// A schedule declared on a task, checked.
pub(crate) struct ScheduleAttr {
    /// Where `cron` was written, to blame it on a task with arguments.
    pub(crate) span: Span,
    cron: String,
    tz: String,
    catchup: TokenStream,
    overlap: TokenStream,
    dst: TokenStream,
}

/// The schedule keys as read, before they are put together.
#[derive(Default)]
pub(crate) struct ScheduleSlots {
    cron: Option<(String, Span)>,
    tz: Option<(String, Span)>,
    catchup: Option<(String, Span)>,
    overlap: Option<(String, Span)>,
    dst: Option<(String, Span)>,
}

fn string(cx: &mut Ctxt, key: &Ident, expr: &Expr, example: &str) -> Option<LitStr> {
    match expr {
        Expr::Lit(ExprLit {
            lit: Lit::Str(s), ..
        }) => Some(s.clone()),
        _ => {
            cx.error_spanned(expr, format!("`{key}` takes a string, as in `{example}`"));
            None
        }
    }
}

/// Whether `key` is one of the schedule keys.
pub(crate) fn is_schedule_key(key: &str) -> bool {
    matches!(key, "cron" | "tz" | "catchup" | "overlap" | "dst")
}

/// Reads one schedule key into `slots`, recording a mistake in `cx`.
pub(crate) fn fill(cx: &mut Ctxt, slots: &mut ScheduleSlots, key: &Ident, expr: &Expr) {
    let name = key.to_string();
    let (slot, example) = match name.as_str() {
        "cron" => (&mut slots.cron, "cron = \"0 9 * * MON-FRI\""),
        "tz" => (&mut slots.tz, "tz = \"Europe/Berlin\""),
        "catchup" => (&mut slots.catchup, "catchup = \"skip\""),
        "overlap" => (&mut slots.overlap, "overlap = \"skip\""),
        _ => (&mut slots.dst, "dst = \"literal\""),
    };
    let Some(lit) = string(cx, key, expr, example) else {
        return;
    };
    if slot.is_some() {
        cx.error(
            key.span(),
            format!("duplicate key `{name}`; remove this one"),
        );
        return;
    }
    let value = lit.value();
    let ok = match name.as_str() {
        "cron" => check_cron(cx, &lit, &value),
        "tz" => check_tz(cx, &lit, &value),
        "catchup" => one_of(cx, &lit, &name, &value, &["skip", "all"]),
        "overlap" => one_of(cx, &lit, &name, &value, &["allow", "skip", "buffer_one"]),
        _ => one_of(cx, &lit, &name, &value, &["vixie", "literal"]),
    };
    if ok {
        *slot = Some((value, lit.span()));
    }
}

fn check_cron(cx: &mut Ctxt, lit: &LitStr, value: &str) -> bool {
    let fields = value.split_whitespace().count();
    if !value.trim_start().starts_with('@') && !(5..=6).contains(&fields) {
        cx.error(
            lit.span(),
            format!("invalid cron expression: {fields} fields; 5 (minute hour day month weekday), or 6 with seconds first"),
        );
        return false;
    }
    let parsed = croner::parser::CronParser::builder()
        .seconds(croner::parser::Seconds::Optional)
        .build()
        .parse(value);
    match parsed {
        Ok(_) => true,
        Err(e) => {
            cx.error(lit.span(), format!("invalid cron expression: {e}"));
            false
        }
    }
}

fn check_tz(cx: &mut Ctxt, lit: &LitStr, value: &str) -> bool {
    if value.eq_ignore_ascii_case("utc") || jiff::tz::TimeZone::get(value).is_ok() {
        return true;
    }
    cx.error(
        lit.span(),
        format!("unknown time zone `{value}`: use an IANA name such as `Europe/Berlin` or `America/New_York`"),
    );
    false
}

fn one_of(cx: &mut Ctxt, lit: &LitStr, key: &str, value: &str, allowed: &[&str]) -> bool {
    if allowed.contains(&value) {
        return true;
    }
    let list = allowed
        .iter()
        .map(|a| format!("\"{a}\""))
        .collect::<Vec<_>>()
        .join(", ");
    cx.error(lit.span(), format!("`{key}` is one of {list}"));
    false
}

/// Puts the keys together: `None` without `cron` (the others alone are an error).
pub(crate) fn finish(cx: &mut Ctxt, s: ScheduleSlots, krate: &syn::Path) -> Option<ScheduleAttr> {
    let Some((cron, span)) = s.cron else {
        for (key, slot) in [
            ("tz", &s.tz),
            ("catchup", &s.catchup),
            ("overlap", &s.overlap),
            ("dst", &s.dst),
        ] {
            if let Some((_, span)) = slot {
                cx.error(*span, format!("`{key}` needs `cron = \"...\"` too"));
            }
        }
        return None;
    };
    let catchup = match s.catchup.as_ref().map(|(v, _)| v.as_str()) {
        Some("all") => quote!(#krate::schedule::Catchup::All {
            window_ms: 3_600_000,
            cap: 10
        }),
        _ => quote!(#krate::schedule::Catchup::Skip),
    };
    let overlap = match s.overlap.as_ref().map(|(v, _)| v.as_str()) {
        Some("skip") => quote!(#krate::schedule::Overlap::Skip),
        Some("buffer_one") => quote!(#krate::schedule::Overlap::BufferOne),
        _ => quote!(#krate::schedule::Overlap::Allow),
    };
    let dst = match s.dst.as_ref().map(|(v, _)| v.as_str()) {
        Some("literal") => quote!(#krate::schedule::Dst::Literal),
        _ => quote!(#krate::schedule::Dst::Vixie),
    };
    Some(ScheduleAttr {
        span,
        cron,
        tz: s.tz.map_or_else(|| "UTC".to_owned(), |(tz, _)| tz),
        catchup,
        overlap,
        dst,
    })
}

/// Blames `cron` on a task that takes arguments: a tick has none to give.
pub(crate) fn check_no_args(cx: &mut Ctxt, s: &ScheduleAttr, args: usize) {
    if args > 0 {
        cx.error(
            s.span,
            format!("`cron` is for a task without arguments (this one takes {args}); for one with arguments, use `taskq::Schedule::cron(..)?.run(task::new(..))` on the worker builder"),
        );
    }
}

/// The link-time registration of the schedule of task `ident`.
pub(crate) fn expand(s: &ScheduleAttr, krate: &syn::Path, ident: &Ident) -> TokenStream {
    let ScheduleAttr {
        cron,
        tz,
        catchup,
        overlap,
        dst,
        ..
    } = s;
    quote! {
        #krate::__private::link_submit! {
            krate = [#krate],
            slice = SCHEDULES,
            ty = #krate::schedule::ScheduleEntry,
            entry = #krate::schedule::ScheduleEntry {
                task: <#ident as #krate::Task>::NAME,
                cron: #cron,
                tz: #tz,
                catchup: #catchup,
                overlap: #overlap,
                dst: #dst,
                jitter_ms: 0,
                template: || #krate::Call::new(#ident {}).into_envelope(),
            },
        }
    }
}
