//! The `unique_for` key of `#[task(...)]`: how long a unique task's key is held at most (see
//! `taskq::unique`). A duration string with a unit, longer than zero and at most 30 days.

use syn::{Expr, ExprLit, Ident, Lit};

use crate::ctxt::Ctxt;
use crate::duration;

/// The longest `unique_for`: a key held longer is a key nobody remembers to release.
const MAX_UNIQUE_FOR_MS: u64 = 30 * 24 * 60 * 60 * 1000;

/// Reads `unique_for = "10m"` as milliseconds, recording a mistake in `cx`.
pub(crate) fn unique_for(cx: &mut Ctxt, key: &Ident, expr: &Expr) -> Option<u64> {
    let lit = match expr {
        Expr::Lit(ExprLit {
            lit: Lit::Str(s), ..
        }) => s,
        _ => {
            cx.error_spanned(
                expr,
                format!(
                    "`{key}` takes a duration string with a unit, as in `unique_for = \"10m\"`"
                ),
            );
            return None;
        }
    };
    match duration::parse_millis(&lit.value()) {
        Ok(0) => {
            cx.error(
                lit.span(),
                format!(
                    "`{key}` must be longer than zero: it is how long the key is held at most; remove it for a task that is not unique"
                ),
            );
            None
        }
        Ok(ms) if ms > MAX_UNIQUE_FOR_MS => {
            cx.error(
                lit.span(),
                format!(
                    "`{key}` is at most 30 days (found {}): the key is a safety net, released when the task ends",
                    duration::display(ms)
                ),
            );
            None
        }
        Ok(ms) => Some(ms),
        Err(why) => {
            cx.error(lit.span(), format!("invalid duration for `{key}`: {why}"));
            None
        }
    }
}
