//! Stage 2: the annotated function, checked and described as a task.
//!
//! Everything that would make the generated code fail in a confusing way is caught here and
//! reported at the token to change: `const`, `unsafe`, `extern`, `self`, generics, borrowed or
//! `impl Trait` arguments, patterns.

use proc_macro2::{Delimiter, Spacing, TokenStream, TokenTree};
use quote::ToTokens;
use syn::{
    Attribute, FnArg, GenericArgument, GenericParam, Ident, ItemFn, Pat, PatIdent, PathArguments,
    ReturnType, Type, TypeReference,
};

use crate::ctxt::Ctxt;

/// How the task's function is run.
#[derive(Clone, Copy, PartialEq, Eq)]
pub(crate) enum Kind {
    /// An `async fn` without a `Context`: rewritten so that calling it returns a `Call`, which
    /// also runs it in place when awaited.
    Invoke,
    /// An `async fn` that takes a `Context`: kept as it is.
    AsyncWithContext,
    /// A plain `fn`: kept as it is, run on the blocking pool.
    Blocking,
}

/// An argument of the function that is a field of the task's struct.
pub(crate) struct Field {
    /// The name, without `mut`.
    pub(crate) ident: Ident,
    pub(crate) ty: Type,
}

/// What the function returns.
pub(crate) enum Output {
    /// Nothing: `()`.
    Unit,
    /// A value that is the task's output.
    Plain(Type),
    /// A `Result` (by the last segment of its path): `Ok` is the output, `Err` the failure.
    Result(Type),
}

/// A function that can be a task.
pub(crate) struct Task<'a> {
    pub(crate) func: &'a ItemFn,
    pub(crate) kind: Kind,
    /// The arguments, less the `Context`.
    pub(crate) fields: Vec<Field>,
    /// The position of the `Context` argument among all the arguments, if there is one.
    pub(crate) context_at: Option<usize>,
    pub(crate) output: Output,
}

impl<'a> Task<'a> {
    /// The function's name.
    pub(crate) fn ident(&self) -> &'a Ident {
        &self.func.sig.ident
    }
}

/// Checks `func`, recording every reason it cannot be a task; `None` if there is one.
pub(crate) fn check<'a>(cx: &mut Ctxt, func: &'a ItemFn, krate: &syn::Path) -> Option<Task<'a>> {
    let errors_before = cx.error_count();
    let sig = &func.sig;

    if let Some(attr) = func.attrs.iter().find(|a| is_task_attr(a, krate)) {
        cx.error_spanned(attr, "`#[task]` is applied more than once; remove this one");
    }
    if let Some(constness) = &sig.constness {
        cx.error(
            constness.span,
            "a task cannot be a `const fn`; remove `const`",
        );
    }
    if let Some(unsafety) = &sig.unsafety {
        cx.error(
            unsafety.span,
            "a task cannot be an `unsafe fn`: a worker calls it with no one to uphold its safety contract; remove `unsafe`",
        );
    }
    if let Some(abi) = &sig.abi {
        cx.error(
            abi.extern_token.span,
            "a task cannot be an `extern` function; remove the `extern` ABI",
        );
    }
    for param in &sig.generics.params {
        match param {
            GenericParam::Lifetime(lifetime) => cx.error_spanned(
                lifetime,
                "a task cannot have lifetime parameters: its arguments are sent to a worker, so they must be owned",
            ),
            GenericParam::Type(_) | GenericParam::Const(_) => cx.error_spanned(
                param,
                "a task cannot be generic: it is registered under one name for one set of argument types; use concrete types",
            ),
        }
    }
    if let Some(where_clause) = &sig.generics.where_clause {
        if sig.generics.params.is_empty() {
            cx.error_spanned(
                where_clause,
                "a task cannot have a `where` clause; remove it",
            );
        }
    }
    if let Some(variadic) = &sig.variadic {
        cx.error_spanned(variadic, "a task cannot be variadic; remove `...`");
    }

    let mut fields = Vec::new();
    let mut context_at = None;
    for (position, input) in sig.inputs.iter().enumerate() {
        match input {
            FnArg::Receiver(receiver) => cx.error_spanned(
                receiver,
                "a task cannot take `self`: tasks are free functions; move it out of the `impl` block and pass what it needs as arguments",
            ),
            FnArg::Typed(typed) => {
                for attr in &typed.attrs {
                    if attr.path().is_ident("cfg") || attr.path().is_ident("cfg_attr") {
                        cx.error_spanned(
                            attr,
                            "task arguments cannot be conditional: the task's fields must not depend on `cfg`",
                        );
                    }
                }
                if is_context(&typed.ty) {
                    if context_at.is_some() {
                        cx.error_spanned(
                            &typed.ty,
                            "a task takes at most one `Context` argument; remove this one",
                        );
                    }
                    context_at = Some(position);
                    continue;
                }
                check_owned(cx, &typed.ty, "arguments");
                match &*typed.pat {
                    Pat::Ident(PatIdent {
                        by_ref: None,
                        subpat: None,
                        ident,
                        ..
                    }) => fields.push(Field {
                        ident: ident.clone(),
                        ty: (*typed.ty).clone(),
                    }),
                    Pat::Wild(wild) => cx.error_spanned(
                        wild,
                        "a task argument needs a name, as in `user_id: u64`: it becomes a field of the task's struct",
                    ),
                    pat => cx.error_spanned(
                        pat,
                        "task arguments must be plain names, as in `user_id: u64` or `mut user_id: u64`; destructure inside the function instead",
                    ),
                }
            }
        }
    }

    let output = match &sig.output {
        ReturnType::Default => Output::Unit,
        ReturnType::Type(_, ty) => {
            check_owned(cx, ty, "outputs");
            if is_result(ty) {
                Output::Result((**ty).clone())
            } else {
                Output::Plain((**ty).clone())
            }
        }
    };

    let kind = match (sig.asyncness.is_some(), context_at.is_some()) {
        (true, false) => Kind::Invoke,
        (true, true) => Kind::AsyncWithContext,
        (false, _) => Kind::Blocking,
    };

    if cx.error_count() > errors_before {
        return None;
    }
    Some(Task {
        func,
        kind,
        fields,
        context_at,
        output,
    })
}

/// Whether `attr` is `#[task]` again: `task`, `taskq::task`, or `<crate>::task`.
pub(crate) fn is_task_attr(attr: &Attribute, krate: &syn::Path) -> bool {
    let path = attr.path();
    let Some(last) = path.segments.last() else {
        return false;
    };
    if last.ident != "task" {
        return false;
    }
    if path.segments.len() == 1 {
        return path.leading_colon.is_none();
    }
    let root = &path.segments[path.segments.len() - 2].ident;
    root == "taskq" || krate.segments.last().is_some_and(|k| k.ident == *root)
}

/// Whether `ty` is the task's `Context`: a path whose last segment is `Context`.
fn is_context(ty: &Type) -> bool {
    last_segment(ty).is_some_and(|s| s.ident == "Context" && s.arguments.is_none())
}

/// Whether `ty` is a `Result`, under any path or alias (`io::Result<T>`, `anyhow::Result<T>`).
fn is_result(ty: &Type) -> bool {
    last_segment(ty).is_some_and(|s| s.ident == "Result")
}

fn last_segment(ty: &Type) -> Option<&syn::PathSegment> {
    match ty {
        Type::Path(path) if path.qself.is_none() => path.path.segments.last(),
        Type::Group(group) => last_segment(&group.elem),
        Type::Paren(paren) => last_segment(&paren.elem),
        _ => None,
    }
}

/// Reports every borrowed or `impl Trait` type inside `ty`: a task's arguments and output are
/// serialized and sent, so they must own their data and have a name.
fn check_owned(cx: &mut Ctxt, ty: &Type, what: &str) {
    match ty {
        Type::Reference(reference) => {
            let owned = owned_suggestion(reference);
            cx.error_spanned(
                ty,
                format!(
                    "task {what} must be owned; use {owned} instead of `{}`",
                    type_string(ty)
                ),
            );
        }
        Type::ImplTrait(_) => cx.error_spanned(
            ty,
            format!(
                "task {what} cannot be `impl Trait`: they are serialized and sent, so they need a concrete type"
            ),
        ),
        Type::Array(array) => check_owned(cx, &array.elem, what),
        Type::Group(group) => check_owned(cx, &group.elem, what),
        Type::Paren(paren) => check_owned(cx, &paren.elem, what),
        Type::Slice(slice) => check_owned(cx, &slice.elem, what),
        Type::Ptr(ptr) => check_owned(cx, &ptr.elem, what),
        Type::Tuple(tuple) => {
            for elem in &tuple.elems {
                check_owned(cx, elem, what);
            }
        }
        Type::Path(path) => {
            if let Some(qself) = &path.qself {
                check_owned(cx, &qself.ty, what);
            }
            for segment in &path.path.segments {
                match &segment.arguments {
                    PathArguments::AngleBracketed(args) => {
                        for arg in &args.args {
                            match arg {
                                GenericArgument::Type(ty) => check_owned(cx, ty, what),
                                GenericArgument::AssocType(assoc) => {
                                    check_owned(cx, &assoc.ty, what);
                                }
                                _ => {}
                            }
                        }
                    }
                    PathArguments::Parenthesized(_) | PathArguments::None => {}
                }
            }
        }
        _ => {}
    }
}

/// What to write instead of the borrowed type, as a phrase: "`String`", "an owned type".
fn owned_suggestion(reference: &TypeReference) -> String {
    let elem = strip_parens(&reference.elem);
    match elem {
        Type::Slice(slice) => format!("`Vec<{}>`", type_string(&slice.elem)),
        Type::Path(path) if path.qself.is_none() => {
            let known = path.path.get_ident().and_then(|ident| {
                [
                    ("str", "String"),
                    ("Path", "PathBuf"),
                    ("OsStr", "OsString"),
                    ("CStr", "CString"),
                ]
                .into_iter()
                .find(|(borrowed, _)| ident == borrowed)
                .map(|(_, owned)| owned)
            });
            match known {
                Some(owned) => format!("`{owned}`"),
                None if !path
                    .path
                    .segments
                    .iter()
                    .any(|s| has_lifetime(&s.arguments)) =>
                {
                    format!("`{}`", type_string(elem))
                }
                None => "an owned type".to_owned(),
            }
        }
        Type::Array(_) | Type::Tuple(_) => format!("`{}`", type_string(elem)),
        _ => "an owned type".to_owned(),
    }
}

fn strip_parens(ty: &Type) -> &Type {
    match ty {
        Type::Paren(paren) => strip_parens(&paren.elem),
        Type::Group(group) => strip_parens(&group.elem),
        other => other,
    }
}

fn has_lifetime(args: &PathArguments) -> bool {
    match args {
        PathArguments::AngleBracketed(args) => args
            .args
            .iter()
            .any(|arg| matches!(arg, GenericArgument::Lifetime(_))),
        _ => false,
    }
}

/// A type as a person writes it (`Vec<&'a str>`), for messages; `quote` spaces every token.
pub(crate) fn type_string(ty: &Type) -> String {
    let mut out = String::new();
    write_tokens(&mut out, ty.to_token_stream());
    out
}

fn write_tokens(out: &mut String, tokens: TokenStream) {
    // Whether the last token was a word (identifier or literal), which a following word must be
    // separated from.
    let mut after_word = false;
    for tt in tokens {
        match tt {
            TokenTree::Ident(ident) => {
                if after_word {
                    out.push(' ');
                }
                out.push_str(&ident.to_string());
                after_word = true;
            }
            TokenTree::Literal(lit) => {
                if after_word {
                    out.push(' ');
                }
                out.push_str(&lit.to_string());
                after_word = true;
            }
            TokenTree::Punct(punct) => {
                match punct.as_char() {
                    ',' | ';' => {
                        out.push(punct.as_char());
                        out.push(' ');
                    }
                    '+' => out.push_str(" + "),
                    '=' => out.push_str(" = "),
                    '-' if punct.spacing() == Spacing::Joint => out.push_str(" -"),
                    '>' if out.ends_with(" -") => out.push_str("> "),
                    '\'' if after_word => out.push_str(" '"),
                    c => out.push(c),
                }
                after_word = false;
            }
            TokenTree::Group(group) => {
                let (open, close) = match group.delimiter() {
                    Delimiter::Parenthesis => ("(", ")"),
                    Delimiter::Bracket => ("[", "]"),
                    Delimiter::Brace => ("{", "}"),
                    Delimiter::None => ("", ""),
                };
                if after_word && group.delimiter() == Delimiter::None {
                    out.push(' ');
                }
                out.push_str(open);
                write_tokens(out, group.stream());
                out.push_str(close);
                after_word = group.delimiter() == Delimiter::None;
            }
        }
    }
}

#[cfg(test)]
mod tests {
    use super::type_string;

    #[test]
    fn types_print_like_source() {
        let cases = [
            ("& str", "&str"),
            ("&'a str", "&'a str"),
            ("&mut Vec<u8>", "&mut Vec<u8>"),
            (
                "std::collections::HashMap<String, Vec<&'static str>>",
                "std::collections::HashMap<String, Vec<&'static str>>",
            ),
            ("[u8; 4]", "[u8; 4]"),
            ("&dyn Fn(u8) -> u8", "&dyn Fn(u8) -> u8"),
            (
                "Box<dyn std::error::Error + Send>",
                "Box<dyn std::error::Error + Send>",
            ),
            ("(i32, String)", "(i32, String)"),
        ];
        for (source, expected) in cases {
            let ty: syn::Type = syn::parse_str(source).expect("a type");
            assert_eq!(type_string(&ty), expected, "{source}");
        }
    }
}
