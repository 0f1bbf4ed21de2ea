//! Stage 2: the annotated function, checked and described as a task or a workflow.
//!
//! Everything that would make the generated code fail in a confusing way is caught here and
//! reported at the token to change: `const`, `unsafe`, `extern`, `self`, generics, borrowed or
//! `impl Trait` arguments, patterns; for a workflow, `async` and a return type that is not a
//! canvas.

use proc_macro2::{Delimiter, Spacing, TokenStream, TokenTree};
use quote::ToTokens;
use syn::ext::IdentExt;
use syn::{
    Attribute, FnArg, GenericArgument, GenericParam, Ident, ItemFn, Pat, PatIdent, PatType,
    PathArguments, ReturnType, Type, TypeImplTrait, TypeParamBound, TypeReference,
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
    if let Some(attr) = func.attrs.iter().find(|a| is_workflow_attr(a, krate)) {
        cx.error_spanned(
            attr,
            "a function cannot be both a task and a workflow: a workflow builds a canvas of tasks; make them two functions",
        );
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
                check_owned(cx, &typed.ty, "task arguments");
                fields.extend(field(cx, typed, "task"));
            }
        }
    }

    let output = match &sig.output {
        ReturnType::Default => Output::Unit,
        ReturnType::Type(_, ty) => {
            check_owned(cx, ty, "task outputs");
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

/// What a workflow function returns.
pub(crate) enum CanvasType {
    /// `impl Canvas<Output = T>`, holding `T`: the canvas has no name, so the workflow boxes it.
    Opaque(Type),
    /// A named type (`Chain<Call<fetch>, Partial<sum>>`), which rustc checks is a canvas.
    Named(Type),
}

/// A function that can be a workflow.
pub(crate) struct Workflow<'a> {
    pub(crate) func: &'a ItemFn,
    /// The arguments, each a field of the workflow's struct.
    pub(crate) fields: Vec<Field>,
    pub(crate) canvas: CanvasType,
}

impl<'a> Workflow<'a> {
    /// The function's name.
    pub(crate) fn ident(&self) -> &'a Ident {
        &self.func.sig.ident
    }
}

/// Checks `func`, recording every reason it cannot be a workflow; `None` if there is one.
pub(crate) fn check_workflow<'a>(
    cx: &mut Ctxt,
    func: &'a ItemFn,
    krate: &syn::Path,
) -> Option<Workflow<'a>> {
    let errors_before = cx.error_count();
    let sig = &func.sig;

    if let Some(attr) = func.attrs.iter().find(|a| is_workflow_attr(a, krate)) {
        cx.error_spanned(
            attr,
            "`#[workflow]` is applied more than once; remove this one",
        );
    }
    if let Some(attr) = func.attrs.iter().find(|a| is_task_attr(a, krate)) {
        cx.error_spanned(
            attr,
            "a function cannot be both a workflow and a task: a workflow builds a canvas of tasks; make them two functions",
        );
    }
    if let Some(asyncness) = &sig.asyncness {
        cx.error(
            asyncness.span,
            "a workflow function builds the canvas and returns it; make it a plain `fn`",
        );
    }
    if let Some(unsafety) = &sig.unsafety {
        cx.error(
            unsafety.span,
            "a workflow function cannot be an `unsafe fn`: it is called wherever the workflow is started, with no one to uphold its safety contract; remove `unsafe`",
        );
    }
    if let Some(abi) = &sig.abi {
        cx.error(
            abi.extern_token.span,
            "a workflow function cannot be an `extern` function; remove the `extern` ABI",
        );
    }
    for param in &sig.generics.params {
        match param {
            GenericParam::Lifetime(lifetime) => cx.error_spanned(
                lifetime,
                "a workflow cannot have lifetime parameters: its arguments are sent to start it, so they must be owned",
            ),
            GenericParam::Type(_) | GenericParam::Const(_) => cx.error_spanned(
                param,
                "a workflow cannot be generic: it is registered under one name for one set of argument types; use concrete types",
            ),
        }
    }
    if let Some(where_clause) = &sig.generics.where_clause {
        if sig.generics.params.is_empty() {
            cx.error_spanned(
                where_clause,
                "a workflow cannot have a `where` clause; remove it",
            );
        }
    }
    if let Some(variadic) = &sig.variadic {
        cx.error_spanned(variadic, "a workflow cannot be variadic; remove `...`");
    }

    let mut fields = Vec::new();
    for input in &sig.inputs {
        match input {
            FnArg::Receiver(receiver) => cx.error_spanned(
                receiver,
                "a workflow cannot take `self`: workflows are free functions; move it out of the `impl` block and pass what it needs as arguments",
            ),
            FnArg::Typed(typed) => {
                for attr in &typed.attrs {
                    if attr.path().is_ident("cfg") || attr.path().is_ident("cfg_attr") {
                        cx.error_spanned(
                            attr,
                            "workflow arguments cannot be conditional: the workflow's fields must not depend on `cfg`",
                        );
                    }
                }
                if is_context(&typed.ty) {
                    cx.error_spanned(
                        &typed.ty,
                        "a workflow takes no `Context`: it is built where it is started, not run by a worker; give the `Context` to a task of the workflow instead",
                    );
                    continue;
                }
                check_owned(cx, &typed.ty, "workflow arguments");
                fields.extend(field(cx, typed, "workflow"));
            }
        }
    }

    let canvas = canvas_type(cx, sig);

    if cx.error_count() > errors_before {
        return None;
    }
    Some(Workflow {
        func,
        fields,
        canvas: canvas?,
    })
}

/// The canvas a workflow function returns.
fn canvas_type(cx: &mut Ctxt, sig: &syn::Signature) -> Option<CanvasType> {
    let ty = match &sig.output {
        ReturnType::Default => {
            cx.error(
                sig.paren_token.span.close(),
                "a workflow function returns the canvas it builds; add a return type, as in `-> impl Canvas<Output = u32>`",
            );
            return None;
        }
        ReturnType::Type(_, ty) => &**ty,
    };
    if let Type::ImplTrait(opaque) = strip_parens(ty) {
        return opaque_output(cx, ty, opaque).map(CanvasType::Opaque);
    }
    if let Some(nested) = find_impl_trait(ty) {
        cx.error_spanned(
            nested,
            "a workflow's canvas type cannot contain `impl Trait`: the workflow names it; return `impl Canvas<Output = T>` instead",
        );
        return None;
    }
    Some(CanvasType::Named(ty.clone()))
}

/// `T` in `impl Canvas<Output = T>`.
fn opaque_output(cx: &mut Ctxt, ty: &Type, opaque: &TypeImplTrait) -> Option<Type> {
    let canvas = opaque.bounds.iter().find_map(|bound| match bound {
        TypeParamBound::Trait(bound)
            if bound
                .path
                .segments
                .last()
                .is_some_and(|s| s.ident == "Canvas") =>
        {
            Some(bound)
        }
        _ => None,
    });
    let Some(canvas) = canvas else {
        cx.error_spanned(
            ty,
            format!(
                "`#[workflow]` needs a function that returns a canvas, as in `-> impl Canvas<Output = u32>`; found `{}`",
                type_string(ty)
            ),
        );
        return None;
    };
    let output = canvas
        .path
        .segments
        .last()
        .and_then(|s| match &s.arguments {
            PathArguments::AngleBracketed(args) => args.args.iter().find_map(|arg| match arg {
                GenericArgument::AssocType(assoc) if assoc.ident == "Output" => Some(&assoc.ty),
                _ => None,
            }),
            _ => None,
        });
    let Some(output) = output else {
        cx.error_spanned(
            canvas,
            "name the workflow's output type, as in `impl Canvas<Output = u32>`: it is the type of the workflow's result",
        );
        return None;
    };
    if let Some(nested) = find_impl_trait(output) {
        cx.error_spanned(
            nested,
            "a workflow's output cannot be `impl Trait`: it is sent back as a result, so it needs a concrete type",
        );
        return None;
    }
    Some(output.clone())
}

/// The first `impl Trait` inside `ty`, if any.
fn find_impl_trait(ty: &Type) -> Option<&Type> {
    match ty {
        Type::ImplTrait(_) => Some(ty),
        Type::Array(array) => find_impl_trait(&array.elem),
        Type::Group(group) => find_impl_trait(&group.elem),
        Type::Paren(paren) => find_impl_trait(&paren.elem),
        Type::Slice(slice) => find_impl_trait(&slice.elem),
        Type::Ptr(ptr) => find_impl_trait(&ptr.elem),
        Type::Reference(reference) => find_impl_trait(&reference.elem),
        Type::Tuple(tuple) => tuple.elems.iter().find_map(find_impl_trait),
        Type::Path(path) => path
            .qself
            .as_ref()
            .and_then(|qself| find_impl_trait(&qself.ty))
            .or_else(|| {
                path.path
                    .segments
                    .iter()
                    .find_map(|segment| match &segment.arguments {
                        PathArguments::AngleBracketed(args) => {
                            args.args.iter().find_map(|arg| match arg {
                                GenericArgument::Type(ty) => find_impl_trait(ty),
                                GenericArgument::AssocType(assoc) => find_impl_trait(&assoc.ty),
                                _ => None,
                            })
                        }
                        PathArguments::Parenthesized(args) => args
                            .inputs
                            .iter()
                            .find_map(find_impl_trait)
                            .or(match &args.output {
                                ReturnType::Type(_, ty) => find_impl_trait(ty),
                                ReturnType::Default => None,
                            }),
                        PathArguments::None => None,
                    })
            }),
        _ => None,
    }
}

/// Parameter names a task or workflow cannot have, and what the REST API sends under each:
/// a body is the arguments as an object, beside these keys.
const RESERVED: [(&str, &str); 2] = [("task", "the {noun}'s name"), ("options", "submit options")];

/// The argument `typed` as a field of the struct, if it is a plain name.
fn field(cx: &mut Ctxt, typed: &PatType, noun: &str) -> Option<Field> {
    match &*typed.pat {
        Pat::Ident(PatIdent {
            by_ref: None,
            subpat: None,
            ident,
            ..
        }) => {
            let name = ident.unraw().to_string();
            if let Some((_, what)) = RESERVED.iter().find(|(reserved, _)| *reserved == name) {
                let what = what.replace("{noun}", noun);
                cx.error_spanned(
                    ident,
                    format!("`{name}` is a reserved parameter name: the REST API sends {what} under it; rename the parameter"),
                );
                return None;
            }
            return Some(Field {
                ident: ident.clone(),
                ty: (*typed.ty).clone(),
            });
        }
        Pat::Wild(wild) => cx.error_spanned(
            wild,
            format!("a {noun} argument needs a name, as in `user_id: u64`: it becomes a field of the {noun}'s struct"),
        ),
        pat => cx.error_spanned(
            pat,
            format!("{noun} arguments must be plain names, as in `user_id: u64` or `mut user_id: u64`; destructure inside the function instead"),
        ),
    }
    None
}

/// Whether `attr` is `#[task]` again: `task`, `taskq::task`, or `<crate>::task`.
pub(crate) fn is_task_attr(attr: &Attribute, krate: &syn::Path) -> bool {
    is_our_attr(attr, krate, "task")
}

/// Whether `attr` is `#[workflow]`: `workflow`, `taskq::workflow`, or `<crate>::workflow`.
pub(crate) fn is_workflow_attr(attr: &Attribute, krate: &syn::Path) -> bool {
    is_our_attr(attr, krate, "workflow")
}

fn is_our_attr(attr: &Attribute, krate: &syn::Path, name: &str) -> bool {
    let path = attr.path();
    let Some(last) = path.segments.last() else {
        return false;
    };
    if last.ident != name {
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

/// Whether `ty` is an `Option<..>` (by the last segment of its path): serde fills a missing
/// field of that type with `None`, so a body may leave it out.
pub(crate) fn is_option(ty: &Type) -> bool {
    last_segment(ty).is_some_and(|s| {
        s.ident == "Option" && matches!(s.arguments, PathArguments::AngleBracketed(_))
    })
}

/// The function's doc comment: its `#[doc = ".."]` lines joined with newlines, less the one
/// space that `/// ` leaves at the start of every line, trimmed; `None` if there is none.
pub(crate) fn description(attrs: &[Attribute]) -> Option<String> {
    let mut lines = Vec::new();
    for attr in attrs {
        let syn::Meta::NameValue(meta) = &attr.meta else {
            continue;
        };
        if !meta.path.is_ident("doc") {
            continue;
        }
        if let syn::Expr::Lit(syn::ExprLit {
            lit: syn::Lit::Str(text),
            ..
        }) = &meta.value
        {
            // `split`, not `lines`: an empty `///` line is an empty string, and still a line.
            lines.extend(text.value().split('\n').map(str::to_owned));
        }
    }
    let spaced = lines
        .iter()
        .filter(|line| !line.trim().is_empty())
        .all(|line| line.starts_with(' '));
    let lines: Vec<&str> = lines
        .iter()
        .map(|line| match line.strip_prefix(' ') {
            Some(rest) if spaced => rest.trim_end(),
            _ => line.trim_end(),
        })
        .collect();
    let text = lines.join("\n");
    let text = text.trim();
    (!text.is_empty()).then(|| text.to_owned())
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

/// Reports every borrowed or `impl Trait` type inside `ty`: a task's arguments and output, and a
/// workflow's arguments, are serialized and sent, so they must own their data and have a name.
/// `what` is what they are, for messages: "task arguments".
fn check_owned(cx: &mut Ctxt, ty: &Type, what: &str) {
    match ty {
        Type::Reference(reference) => {
            let owned = owned_suggestion(reference);
            cx.error_spanned(
                ty,
                format!(
                    "{what} must be owned; use {owned} instead of `{}`",
                    type_string(ty)
                ),
            );
        }
        Type::ImplTrait(_) => cx.error_spanned(
            ty,
            format!(
                "{what} cannot be `impl Trait`: they are serialized and sent, so they need a concrete type"
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
    use super::{description, is_option, type_string};

    #[test]
    fn descriptions_join_doc_lines() {
        let func: syn::ItemFn = syn::parse_quote! {
            /// Adds two numbers.
            ///
            ///   Indented stays indented.
            #[doc(hidden)]
            #[doc = include_str!("x")]
            /** Block. */
            async fn add() {}
        };
        assert_eq!(
            description(&func.attrs).as_deref(),
            Some("Adds two numbers.\n\n  Indented stays indented.\nBlock.")
        );
        let func: syn::ItemFn = syn::parse_quote! {
            #[doc = "no space"]
            /// spaced
            fn f() {}
        };
        assert_eq!(
            description(&func.attrs).as_deref(),
            Some("no space\n spaced")
        );
        let func: syn::ItemFn = syn::parse_quote!(
            fn f() {}
        );
        assert_eq!(description(&func.attrs), None);
    }

    #[test]
    fn options_are_recognized_by_their_last_segment() {
        for (source, expected) in [
            ("Option<u32>", true),
            ("std::option::Option<String>", true),
            ("Option", false),
            ("Vec<Option<u32>>", false),
            ("u32", false),
        ] {
            let ty: syn::Type = syn::parse_str(source).expect("a type");
            assert_eq!(is_option(&ty), expected, "{source}");
        }
    }

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
