//! `#[hook(kind)]`: registers an `async fn(HookEvent)` as a lifecycle hook at link time.
//!
//! The function is kept as written; beside it, one `link_submit!` of a `taskq::hooks::HookEntry`
//! (the same switch between `inventory` and `linkme` as tasks use). Mistakes are reported at the
//! token to change, with the function re-emitted so its body still type-checks.

use proc_macro2::{Span, TokenStream};
use quote::{quote, ToTokens};
use syn::parse::Parser;
use syn::punctuated::Punctuated;
use syn::{Expr, ExprLit, FnArg, ItemFn, Lit, Meta, Token};

use crate::ctxt::Ctxt;

/// The kinds, as written in the attribute, and their `HookKind` variant.
const KINDS: &[(&str, &str)] = &[
    ("before_start", "BeforeStart"),
    ("after_success", "AfterSuccess"),
    ("after_retry", "AfterRetry"),
    ("after_failure", "AfterFailure"),
    ("after_dead_letter", "AfterDeadLetter"),
    ("after_revoked", "AfterRevoked"),
    ("after_lease_lost", "AfterLeaseLost"),
];

fn kinds_list() -> String {
    KINDS
        .iter()
        .map(|(k, _)| format!("`{k}`"))
        .collect::<Vec<_>>()
        .join(", ")
}

/// Expands `#[hook(args)] item`.
pub(crate) fn hook(args: TokenStream, item: TokenStream) -> TokenStream {
    let mut cx = Ctxt::new();
    let func: ItemFn = match syn::parse2(item.clone()) {
        Ok(f) => f,
        Err(_) => {
            cx.error_spanned(
                &item,
                "`#[taskq::hook]` goes on an `async fn` taking a `taskq::hooks::HookEvent`",
            );
            return with_errors(cx, item);
        }
    };
    let (variant, krate) = parse_args(&mut cx, args);
    check_fn(&mut cx, &func);
    let Some(variant) = variant.filter(|_| cx.error_count() == 0) else {
        return with_errors(cx, func.into_token_stream());
    };
    let ident = &func.sig.ident;
    let name = ident.to_string();
    let variant = syn::Ident::new(variant, Span::call_site());
    quote! {
        #func

        #krate::__private::link_submit! {
            krate = [#krate],
            slice = HOOKS,
            ty = #krate::hooks::HookEntry,
            entry = #krate::hooks::HookEntry {
                kind: #krate::hooks::HookKind::#variant,
                name: ::core::concat!(::core::module_path!(), "::", #name),
                run: |ev| ::std::boxed::Box::pin(async move {
                    #krate::hooks::IntoHookResult::into_hook_result(#ident(ev).await)
                }),
            },
        }
    }
}

fn with_errors(cx: Ctxt, item: TokenStream) -> TokenStream {
    let errors = cx.to_compile_errors();
    quote!(#item #errors)
}

/// The kind (its `HookKind` variant) and the `taskq` path (`crate = "..."`, `::taskq` unless).
fn parse_args(cx: &mut Ctxt, args: TokenStream) -> (Option<&'static str>, syn::Path) {
    let mut krate: syn::Path = syn::parse_quote!(::taskq);
    let mut kind: Option<&'static str> = None;
    let metas = match Punctuated::<Meta, Token![,]>::parse_terminated.parse2(args.clone()) {
        Ok(m) => m,
        Err(e) => {
            cx.error(
                e.span(),
                format!("expected a hook kind: one of {}", kinds_list()),
            );
            return (None, krate);
        }
    };
    if metas.is_empty() {
        cx.error(
            Span::call_site(),
            format!(
                "`#[taskq::hook]` needs a kind, as in `#[taskq::hook(after_success)]`: one of {}",
                kinds_list()
            ),
        );
    }
    for meta in metas {
        match &meta {
            Meta::Path(p) => {
                let word = p.get_ident().map(ToString::to_string).unwrap_or_default();
                match KINDS.iter().find(|(k, _)| *k == word) {
                    Some((_, v)) if kind.is_none() => kind = Some(v),
                    Some(_) => {
                        cx.error_spanned(p, "a hook has one kind; write one attribute per kind")
                    }
                    None => cx.error_spanned(
                        p,
                        format!(
                            "unknown hook kind `{word}`; expected one of {}",
                            kinds_list()
                        ),
                    ),
                }
            }
            Meta::NameValue(nv) if nv.path.is_ident("crate") => match &nv.value {
                Expr::Lit(ExprLit {
                    lit: Lit::Str(s), ..
                }) => match s.parse_with(syn::Path::parse_mod_style) {
                    Ok(p) => krate = p,
                    Err(_) => cx.error(
                        s.span(),
                        "invalid `crate` path, as in `crate = \"::taskq\"`",
                    ),
                },
                other => {
                    cx.error_spanned(other, "`crate` takes a string, as in `crate = \"::taskq\"`")
                }
            },
            other => cx.error_spanned(
                other,
                format!("expected a hook kind: one of {}", kinds_list()),
            ),
        }
    }
    (kind, krate)
}

/// A hook is a plain `async fn` of one argument, the event.
fn check_fn(cx: &mut Ctxt, func: &ItemFn) {
    let sig = &func.sig;
    if sig.asyncness.is_none() {
        cx.error_spanned(
            sig.fn_token,
            "a hook is an `async fn`; write `async fn` (a hook runs on the worker's runtime)",
        );
    }
    if !sig.generics.params.is_empty() || sig.generics.where_clause.is_some() {
        cx.error_spanned(&sig.generics, "a hook cannot be generic");
    }
    if sig.variadic.is_some()
        || sig.abi.is_some()
        || sig.unsafety.is_some()
        || sig.constness.is_some()
    {
        cx.error_spanned(&sig.ident, "a hook is a plain `async fn`");
    }
    let args: Vec<&FnArg> = sig.inputs.iter().collect();
    match args.as_slice() {
        [FnArg::Typed(_)] => {}
        [FnArg::Receiver(r)] => cx.error_spanned(r, "a hook is a free function, not a method"),
        _ => cx.error_spanned(
            &sig.inputs,
            "a hook takes one argument, the event: `ev: taskq::hooks::HookEvent`",
        ),
    }
}
