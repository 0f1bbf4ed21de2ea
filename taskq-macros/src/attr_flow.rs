//! The flow-control keys of `#[task(...)]` (see `taskq::flow`): `rate_limit = "100/s"`,
//! `rate_limit_key = "arg"`, `concurrency = 5`, `concurrency_key = "arg"`. The rate is checked
//! here as the runtime parses it; a key must name one of the task's arguments.

use proc_macro2::{Span, TokenStream};
use quote::quote;
use syn::{Expr, ExprLit, Ident, Lit};

use crate::ctxt::Ctxt;

/// The keys this file reads.
pub(crate) const KEYS: [&str; 4] = [
    "rate_limit",
    "rate_limit_key",
    "concurrency",
    "concurrency_key",
];

/// The most concurrency a limit may allow (above it, a limit limits nothing).
const MAX_CONCURRENCY: u64 = 1_000_000;

/// The flow-control keys as read.
#[derive(Default)]
pub(crate) struct FlowAttr {
    /// `circuit_breaker(..)`: failures, within (ms), cooldown (ms), probes.
    breaker: Option<(u32, u64, u64, u32)>,
    /// The emission interval of `rate_limit`, in microseconds.
    rate_interval_us: Option<u64>,
    rate_key: Option<(String, Span)>,
    concurrency: Option<u32>,
    concurrency_key: Option<(String, Span)>,
}

/// Whether `key` is one of this file's.
pub(crate) fn is_flow_key(key: &str) -> bool {
    KEYS.contains(&key) || key == "circuit_breaker"
}

fn string(cx: &mut Ctxt, key: &Ident, expr: &Expr, example: &str) -> Option<(String, Span)> {
    match expr {
        Expr::Lit(ExprLit {
            lit: Lit::Str(s), ..
        }) => Some((s.value(), s.span())),
        _ => {
            cx.error_spanned(expr, format!("`{key}` takes a string, as in `{example}`"));
            None
        }
    }
}

/// Parses `"100/s"` into microseconds between admissions, as `taskq::flow::parse_rate` does.
fn rate_interval(text: &str) -> Option<u64> {
    let (count, unit) = text.split_once('/')?;
    let count: u64 = count.trim().replace('_', "").parse().ok()?;
    let period_us: u64 = match unit.trim() {
        "s" | "sec" | "second" => 1_000_000,
        "m" | "min" | "minute" => 60_000_000,
        "h" | "hour" => 3_600_000_000,
        _ => return None,
    };
    if count == 0 {
        return None;
    }
    Some(period_us / count).filter(|i| *i > 0)
}

/// Reads one flow key, recording a mistake in `cx`.
pub(crate) fn fill(cx: &mut Ctxt, attr: &mut FlowAttr, key: &Ident, expr: &Expr) {
    let twice = |cx: &mut Ctxt| cx.error(key.span(), format!("`{key}` is given twice"));
    match key.to_string().as_str() {
        "circuit_breaker" => cx.error_spanned(
            expr,
            format!("`{key}` takes a list, as in `circuit_breaker(failures = 5, within = \"1m\", cooldown = \"30s\")`"),
        ),
        "rate_limit" => {
            let Some((text, span)) = string(cx, key, expr, "rate_limit = \"100/s\"") else {
                return;
            };
            if attr.rate_interval_us.is_some() {
                return twice(cx);
            }
            match rate_interval(&text) {
                Some(us) => attr.rate_interval_us = Some(us),
                None => cx.error(
                    span,
                    format!("`{text}` is not a rate: write `<count>/<s|m|h>` with a count of at least 1, like \"100/s\" or \"1000/m\", at most 1,000,000 per second"),
                ),
            }
        }
        "rate_limit_key" | "concurrency_key" => {
            let Some(v) = string(cx, key, expr, "rate_limit_key = \"customer_id\"") else {
                return;
            };
            let slot = if key == "rate_limit_key" {
                &mut attr.rate_key
            } else {
                &mut attr.concurrency_key
            };
            if slot.is_some() {
                return twice(cx);
            }
            *slot = Some(v);
        }
        "concurrency" => {
            let n = match expr {
                Expr::Lit(ExprLit {
                    lit: Lit::Int(i), ..
                }) => i.base10_parse::<u64>().ok().map(|n| (n, i.span())),
                _ => None,
            };
            let Some((n, span)) = n else {
                cx.error_spanned(
                    expr,
                    format!("`{key}` takes a whole number, as in `concurrency = 5`"),
                );
                return;
            };
            if attr.concurrency.is_some() {
                return twice(cx);
            }
            if n == 0 || n > MAX_CONCURRENCY {
                cx.error(
                    span,
                    format!("`{key}` must be between 1 and 1000000: it is how many may run at once across the fleet"),
                );
                return;
            }
            attr.concurrency = u32::try_from(n).ok();
        }
        _ => {}
    }
}

/// Reads `circuit_breaker(failures = 5, within = "1m", cooldown = "30s", probes = 1)`
/// (`probes` optional, default 1), recording mistakes in `cx`.
pub(crate) fn breaker(cx: &mut Ctxt, attr: &mut FlowAttr, key: &Ident, list: TokenStream) {
    use syn::parse::Parser;
    let example = "circuit_breaker(failures = 5, within = \"1m\", cooldown = \"30s\")";
    let parsed =
        syn::punctuated::Punctuated::<syn::MetaNameValue, syn::Token![,]>::parse_terminated
            .parse2(list);
    let items = match parsed {
        Ok(items) => items,
        Err(e) => {
            cx.error(
                e.span(),
                format!("`{key}` takes `name = value` pairs, as in `{example}`"),
            );
            return;
        }
    };
    if attr.breaker.is_some() {
        cx.error(key.span(), format!("`{key}` is given twice"));
        return;
    }
    let (mut failures, mut within, mut cooldown, mut probes) = (None, None, None, 1u32);
    for item in items {
        let name = item
            .path
            .get_ident()
            .map(ToString::to_string)
            .unwrap_or_default();
        let number = |cx: &mut Ctxt| match &item.value {
            Expr::Lit(ExprLit {
                lit: Lit::Int(i), ..
            }) => match i.base10_parse::<u32>() {
                Ok(n) if n > 0 => Some(n),
                _ => {
                    cx.error(
                        i.span(),
                        format!("`{name}` must be a whole number above zero"),
                    );
                    None
                }
            },
            other => {
                cx.error_spanned(
                    other,
                    format!("`{name}` takes a whole number, as in `{name} = 5`"),
                );
                None
            }
        };
        let millis = |cx: &mut Ctxt| match &item.value {
            Expr::Lit(ExprLit {
                lit: Lit::Str(s), ..
            }) => match crate::duration::parse_millis(&s.value()) {
                Ok(ms) if ms > 0 => Some(ms),
                Ok(_) => {
                    cx.error(s.span(), format!("`{name}` must be longer than zero"));
                    None
                }
                Err(why) => {
                    cx.error(s.span(), format!("invalid duration for `{name}`: {why}"));
                    None
                }
            },
            other => {
                cx.error_spanned(
                    other,
                    format!("`{name}` takes a duration string, as in `{name} = \"30s\"`"),
                );
                None
            }
        };
        match name.as_str() {
            "failures" => failures = number(cx),
            "within" => within = millis(cx),
            "cooldown" => cooldown = millis(cx),
            "probes" => probes = number(cx).unwrap_or(1),
            _ => cx.error_spanned(
                &item.path,
                format!("`{key}` has no `{name}`: it takes `failures`, `within`, `cooldown` and `probes`"),
            ),
        }
    }
    match (failures, within, cooldown) {
        (Some(f), Some(w), Some(c)) => attr.breaker = Some((f, w, c, probes)),
        _ if !cx.has_errors() => cx.error(
            key.span(),
            format!("`{key}` needs `failures`, `within` and `cooldown`, as in `{example}`"),
        ),
        _ => {}
    }
}

/// Checks the keys against each other and against the task's arguments.
pub(crate) fn check(cx: &mut Ctxt, attr: &FlowAttr, args: &[String]) {
    let pairs = [
        (
            &attr.rate_key,
            attr.rate_interval_us.is_some(),
            "rate_limit_key",
            "rate_limit",
        ),
        (
            &attr.concurrency_key,
            attr.concurrency.is_some(),
            "concurrency_key",
            "concurrency",
        ),
    ];
    for (k, has_limit, name, limit) in pairs {
        let Some((arg, span)) = k else { continue };
        if !has_limit {
            cx.error(
                *span,
                format!("`{name}` needs `{limit}`: it says what the limit is keyed by"),
            );
        }
        if !args.iter().any(|a| a == arg) {
            let known = if args.is_empty() {
                "the task has no arguments".to_owned()
            } else {
                format!(
                    "its arguments are {}",
                    args.iter()
                        .map(|a| format!("`{a}`"))
                        .collect::<Vec<_>>()
                        .join(", ")
                )
            };
            cx.error(
                *span,
                format!("`{name}` names `{arg}`, which is not an argument of the task: {known}"),
            );
        }
    }
}

/// The `TaskOptions` fields of these keys.
pub(crate) fn fields(attr: &FlowAttr, krate: &syn::Path) -> Vec<TokenStream> {
    let key = |k: &Option<(String, Span)>| match k {
        Some((arg, _)) => quote!(::core::option::Option::Some(#arg)),
        None => quote!(::core::option::Option::None),
    };
    let mut out = Vec::new();
    if let Some(us) = attr.rate_interval_us {
        let k = key(&attr.rate_key);
        out.push(
            quote!(rate_limit: ::core::option::Option::Some(#krate::flow::RateLimit {
                interval_us: #us,
                key: #k,
            })),
        );
    }
    if let Some((failures, within_ms, cooldown_ms, probes)) = attr.breaker {
        out.push(
            quote!(circuit_breaker: ::core::option::Option::Some(#krate::flow::BreakerSpec {
                failures: #failures,
                within_ms: #within_ms,
                cooldown_ms: #cooldown_ms,
                probes: #probes,
            })),
        );
    }
    if let Some(max) = attr.concurrency {
        let k = key(&attr.concurrency_key);
        out.push(
            quote!(concurrency: ::core::option::Option::Some(#krate::flow::ConcurrencyLimit {
                max: #max,
                key: #k,
            })),
        );
    }
    out
}
