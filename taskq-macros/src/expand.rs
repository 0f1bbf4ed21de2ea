//! Stage 3: the code of a checked task or workflow, and the fallback when it has mistakes.
//!
//! For `#[task(retries = 3)] pub async fn add(a: i64, b: i64) -> i64 { a + b }`:
//!
//! ```text
//! pub struct add { pub a: i64, pub b: i64 }               // serde, named after the fn
//! impl add {
//!     pub fn new(a: i64, b: i64) -> Call<add>
//!     pub fn partial(b: i64) -> Partial<add>              // with at least one argument
//! }
//! pub fn add(a: i64, b: i64) -> Call<add> { .. }         // only for an async fn without Context
//! const _: () = {
//!     async fn __taskq_body_add(a: i64, b: i64) -> i64 { a + b }   // the user's body
//!     fn __taskq_run(task: add) -> impl Future<Output = i64> + Send { .. }
//!     impl Task for add { .. }   impl Invoke for add { .. }
//!     impl TakesInput for add { type Input = i64; const INPUT = "a"; }
//!     // in `impl Task`: `fn __schema(..)`, the JSON Schemas of the arguments and the output
//!     link_submit! { .., entry = TaskEntry::of::<add>(file!(), line!()) }  // inventory or linkme
//! };
//! ```
//!
//! For `#[workflow] pub fn pipeline(url: String) -> impl Canvas<Output = Report> { .. }`:
//!
//! ```text
//! pub fn pipeline(url: String) -> impl Canvas<Output = Report> { .. }   // as written
//! pub struct pipeline { pub url: String }                 // serde, named after the fn
//! impl pipeline { pub fn new(url: String) -> WorkflowCall<pipeline> }
//! const _: () = {
//!     impl Workflow for pipeline {
//!         type Canvas = BoxedCanvas<Report>;              // or the return type, if it has a name
//!         fn build(self) -> Self::Canvas { BoxedCanvas::new(pipeline(self.url)) }
//!     }
//!     link_submit! { .., entry = WorkflowEntry::of::<pipeline>(file!(), line!()) }
//! };
//! ```
//!
//! Every path is absolute from the `taskq` root (or `crate = "..."`), so the expansion does not
//! care what the user's module calls `Result`, `Box` or `Send`.

use proc_macro2::{Literal, Span, TokenStream, TokenTree};
use quote::{format_ident, quote, quote_spanned, ToTokens};
use syn::ext::IdentExt;
use syn::spanned::Spanned;
use syn::{Attribute, Item, ItemFn, Meta};

use crate::attr::{self, ResultTtl, TaskAttr, WorkflowAttr};
use crate::ctxt::Ctxt;
use crate::model::{self, CanvasType, Field, Kind, Output, Task, Workflow};

/// `#[task(args)] item`, expanded; on any mistake, the item unchanged plus every error.
pub(crate) fn task(args: TokenStream, item: TokenStream) -> TokenStream {
    let mut cx = Ctxt::new();
    let options = attr::parse(&mut cx, args);
    let func = match syn::parse2::<Item>(item.clone()) {
        Ok(Item::Fn(func)) => Some(func),
        Ok(_) => {
            not_a_function(
                &mut cx,
                item.clone(),
                "task",
                "async fn send_email(to: String)",
            );
            None
        }
        Err(err) => {
            cx.syn_error(err);
            None
        }
    };
    let task = func
        .as_ref()
        .and_then(|func| model::check(&mut cx, func, &options.krate));
    if let Some(task) = &task {
        let args: Vec<String> = task
            .fields
            .iter()
            .map(|f| f.ident.to_string().trim_start_matches("r#").to_owned())
            .collect();
        crate::attr_flow::check(&mut cx, &options.flow, &args);
    }
    if let (Some(task), Some(schedule)) = (&task, &options.schedule) {
        crate::attr_schedule::check_no_args(&mut cx, schedule, task.fields.len());
    }
    match task {
        Some(task) if !cx.has_errors() => expand(&task, &options),
        _ => fallback(&cx, func.as_ref(), item, &options.krate),
    }
}

/// Blames the keyword of an item that is not a function (`struct`, `impl`, ...); `example` is
/// the signature of a function `#[macro_name]` takes.
fn not_a_function(cx: &mut Ctxt, item: TokenStream, macro_name: &str, example: &str) {
    let mut tokens = item.clone().into_iter().peekable();
    let mut blamed = None;
    while let Some(tt) = tokens.next() {
        match &tt {
            // An attribute: `#` then `[...]`.
            TokenTree::Punct(p) if p.as_char() == '#' => {
                tokens.next();
            }
            // A visibility: `pub` and maybe `(crate)`.
            TokenTree::Ident(ident) if ident == "pub" => {
                if let Some(TokenTree::Group(_)) = tokens.peek() {
                    tokens.next();
                }
            }
            _ => {
                blamed = Some(tt);
                break;
            }
        }
    }
    let has_fn = item
        .into_iter()
        .any(|tt| matches!(&tt, TokenTree::Ident(ident) if ident == "fn"));
    let message = if has_fn {
        format!("`#[{macro_name}]` needs a function with a body")
    } else {
        format!(
            "`#[{macro_name}]` can only be applied to a function, as in `#[{macro_name}] {example}`"
        )
    };
    let span = blamed.map_or_else(Span::call_site, |tt| tt.span());
    cx.error(span, message);
}

/// The user's item as written (less any other `#[task]` or `#[workflow]`, already reported), and
/// the errors: the function keeps existing, so its callers do not fail too.
fn fallback(cx: &Ctxt, func: Option<&ItemFn>, item: TokenStream, krate: &syn::Path) -> TokenStream {
    let errors = cx.to_compile_errors();
    let item = match func {
        Some(func) => {
            let mut func = func.clone();
            func.attrs
                .retain(|a| !model::is_task_attr(a, krate) && !model::is_workflow_attr(a, krate));
            func.into_token_stream()
        }
        None => item,
    };
    quote! {
        #item
        #errors
    }
}

/// The function's `#[cfg]` and `#[doc(hidden)]` attributes: they apply to everything generated
/// for it.
fn inherited_attrs(func: &syn::ItemFn) -> (Vec<&Attribute>, Vec<&Attribute>) {
    let cfgs = func
        .attrs
        .iter()
        .filter(|a| a.path().is_ident("cfg"))
        .collect();
    let hidden = func.attrs.iter().filter(|a| is_doc_hidden(a)).collect();
    (cfgs, hidden)
}

fn expand(task: &Task<'_>, options: &TaskAttr) -> TokenStream {
    let krate = &options.krate;
    let func = task.func;
    let ident = task.ident();
    let vis = &func.vis;
    let plain_name = ident.unraw().to_string();
    let span = ident.span();

    let (cfgs, hidden) = inherited_attrs(func);

    let field_idents: Vec<_> = task.fields.iter().map(|f| &f.ident).collect();
    let field_tys: Vec<_> = task.fields.iter().map(|f| &f.ty).collect();
    let struct_fields = struct_fields(&task.fields);

    // A task with an argument can be a later step of a workflow: the previous step gives the
    // first argument, `partial(..)` the others.
    let (partial_fn, takes_input_impl) = match task.fields.split_first() {
        Some((first, rest)) => (
            partial_fn(krate, &plain_name, span, first, rest),
            takes_input_impl(krate, ident, first),
        ),
        None => (TokenStream::new(), TokenStream::new()),
    };

    // The struct.
    let serde_path = options.serde_path();
    let struct_doc = match task.kind {
        Kind::Invoke => format!(
            "The task [`{plain_name}()`], as its arguments: what is sent to a worker.\n\n\
             `{plain_name}(..)` and `{plain_name}::new(..)` make a `Call` of it: `.delay()` it to \
             run it on a worker, or `.await` it to run it here."
        ),
        Kind::AsyncWithContext | Kind::Blocking => format!(
            "The task [`{plain_name}()`], as its arguments: what is sent to a worker.\n\n\
             `{plain_name}::new(..)` makes a `Call` of it: `.delay()` it to run it on a worker."
        ),
    };
    let the_struct = quote! {
        #(#cfgs)*
        #(#hidden)*
        #[doc = #struct_doc]
        #[allow(non_camel_case_types, missing_debug_implementations)]
        #[derive(#krate::__private::serde::Serialize, #krate::__private::serde::Deserialize)]
        #[serde(crate = #serde_path)]
        #vis struct #ident {
            #(#struct_fields,)*
        }

        #(#cfgs)*
        impl #ident {
            /// A call of this task with these arguments: `.delay()` it to run it on a worker.
            #[allow(dead_code, clippy::too_many_arguments)]
            pub fn new(#(#field_idents: #field_tys),*) -> #krate::Call<Self> {
                #krate::Call::new(Self { #(#field_idents),* })
            }

            #partial_fn
        }
    };

    // The function: rewritten to return a `Call` when it can run in place, otherwise as it is.
    let body_ident = format_ident!("__taskq_body_{}", plain_name, span = span);
    let (the_fn, body_fn) = match task.kind {
        Kind::Invoke => {
            let wrapper_attrs = func.attrs.iter().filter(|a| !a.path().is_ident("expect"));
            let lint_attrs = func.attrs.iter().filter(|a| is_lint_attr(a));
            let fn_token = &func.sig.fn_token;
            let mut body_sig = func.sig.clone();
            body_sig.ident = body_ident.clone();
            let block = &func.block;
            (
                quote! {
                    #(#wrapper_attrs)*
                    #[allow(dead_code)]
                    #vis #fn_token #ident(#(#field_idents: #field_tys),*) -> #krate::Call<#ident> {
                        #krate::Call::new(#ident { #(#field_idents),* })
                    }
                },
                quote! {
                    #(#lint_attrs)*
                    #body_sig #block
                },
            )
        }
        Kind::AsyncWithContext | Kind::Blocking => (func.to_token_stream(), TokenStream::new()),
    };

    // `__taskq_run`: the user's future, from the struct (and the context).
    let ret = match &task.output {
        Output::Unit => quote!(()),
        Output::Plain(ty) | Output::Result(ty) => ty.to_token_stream(),
    };
    let takes_ctx = task.context_at.is_some();
    let mut call_args: Vec<TokenStream> = field_idents
        .iter()
        .map(|ident| quote!(__taskq_task.#ident))
        .collect();
    if let Some(position) = task.context_at {
        call_args.insert(position, quote!(__taskq_ctx));
    }
    let future = match task.kind {
        Kind::Invoke => quote!(#body_ident(#(#call_args),*)),
        Kind::AsyncWithContext => quote!(#ident(#(#call_args),*)),
        Kind::Blocking => quote! {
            #krate::__private::run_blocking(move || #ident(#(#call_args),*))
        },
    };
    let ctx_param = takes_ctx.then(|| quote!(, __taskq_ctx: #krate::Context));
    let ctx_arg = takes_ctx.then(|| quote!(, __taskq_ctx));
    // Spanned at the function's name, so "future cannot be sent between threads safely" points
    // at the function rather than at the attribute.
    let future_ty = quote_spanned! {span=>
        impl ::core::future::Future<Output = #ret> + ::core::marker::Send + 'static
    };
    let run_fn = quote! {
        fn __taskq_run(__taskq_task: #ident #ctx_param) -> #future_ty {
            #future
        }
    };

    // `impl Task`.
    let name = match &options.name {
        Some(name) => quote!(#name),
        None => quote!(::core::concat!(::core::module_path!(), "::", #plain_name)),
    };
    let task_options = task_options(options);
    let (output_ty, error_ty, into_result) = match &task.output {
        Output::Unit => (
            quote!(()),
            quote!(::core::convert::Infallible),
            quote!(::core::result::Result::Ok(__taskq_future.await)),
        ),
        Output::Plain(ty) => (
            ty.to_token_stream(),
            quote!(::core::convert::Infallible),
            quote!(::core::result::Result::Ok(__taskq_future.await)),
        ),
        Output::Result(ty) => {
            let ty_span = ty.span();
            (
                quote_spanned!(ty_span=> <#ty as #krate::__private::ResultParts>::Ok),
                quote_spanned!(ty_span=> <#ty as #krate::__private::ResultParts>::Err),
                quote!(#krate::__private::ResultParts::into_result(__taskq_future.await)),
            )
        }
    };
    let output_schema = match &task.output {
        Output::Unit => quote!(#krate::__private::null_schema()),
        Output::Plain(ty) => probe(krate, ty.to_token_stream()),
        Output::Result(ty) => probe(krate, quote!(<#ty as #krate::__private::ResultParts>::Ok)),
    };
    let schema_fn = schema_fn(krate, func, &task.fields, &output_schema);
    let ctx_pattern = if takes_ctx {
        quote!(__taskq_ctx)
    } else {
        quote!(_)
    };
    let task_impl = quote_spanned! {span=>
        #[automatically_derived]
        impl #krate::Task for #ident {
            const NAME: &'static str = #name;
            #[allow(clippy::needless_update)]
            const OPTIONS: #krate::TaskOptions = #task_options;
            type Output = #output_ty;
            type Error = #error_ty;
            type Return = #ret;

            fn run(
                self,
                #ctx_pattern: #krate::Context,
            ) -> impl ::core::future::Future<
                Output = ::core::result::Result<
                    <Self as #krate::Task>::Output,
                    <Self as #krate::Task>::Error,
                >,
            > + ::core::marker::Send {
                let __taskq_future = __taskq_run(self #ctx_arg);
                async move { #into_result }
            }

            #schema_fn
        }
    };
    let invoke_impl = (task.kind == Kind::Invoke).then(|| {
        quote! {
            #[automatically_derived]
            impl #krate::Invoke for #ident {
                fn invoke(
                    self,
                ) -> #krate::__private::BoxFuture<'static, <Self as #krate::Task>::Return> {
                    #krate::__private::boxed(__taskq_run(self))
                }
            }
        }
    });

    // `file!()` and `line!()` spanned at the function, so a duplicate name is reported there.
    let here = quote_spanned!(span=> ::core::file!(), ::core::line!());
    let schedule = options
        .schedule
        .as_ref()
        .map(|s| crate::attr_schedule::expand(s, krate, ident));
    quote! {
        #the_struct
        #the_fn

        #(#cfgs)*
        const _: () = {
            #body_fn
            #run_fn
            #task_impl
            #invoke_impl
            #takes_input_impl
            #krate::__private::link_submit! {
                krate = [#krate],
                slice = TASKS,
                ty = #krate::__private::TaskEntry,
                entry = #krate::__private::TaskEntry::of::<#ident>(#here),
            }
            #schedule
        };
    }
}

/// `partial(..)`: the task with every argument but `first`, for a later step of a workflow.
fn partial_fn(
    krate: &syn::Path,
    plain_name: &str,
    span: Span,
    first: &Field,
    rest: &[Field],
) -> TokenStream {
    let doc = format!(
        "`{plain_name}` with every argument but the first (`{}`), which the previous step of a \
         workflow provides: a step to chain with `.then(..)`.",
        first.ident.unraw()
    );
    let idents: Vec<_> = rest.iter().map(|f| &f.ident).collect();
    let tys = rest.iter().map(|f| &f.ty);
    // Spanned at the argument's type: "`T: Serialize` is not satisfied" points there.
    let fields = rest.iter().map(|f| {
        let ident = &f.ident;
        let name = ident.unraw().to_string();
        quote_spanned!(f.ty.span()=> #krate::__private::partial_field(#name, &#ident))
    });
    // Named at the task's name, where rustc's "associated function defined here" points.
    let partial = syn::Ident::new("partial", span);
    // An empty array needs its element type.
    let ty = rest.is_empty().then(|| {
        quote! {
            ::<[(
                &'static str,
                ::core::result::Result<
                    #krate::__private::serde_json::Value,
                    #krate::__private::serde_json::Error,
                >,
            ); 0]>
        }
    });
    quote! {
        #[doc = #doc]
        #[allow(dead_code, clippy::too_many_arguments, clippy::needless_pass_by_value)]
        pub fn #partial(#(#idents: #tys),*) -> #krate::canvas::Partial<Self> {
            #krate::canvas::Partial::from_fields #ty ([#(#fields),*])
        }
    }
}

/// `impl TakesInput`: the first argument's type and name.
fn takes_input_impl(krate: &syn::Path, ident: &syn::Ident, first: &Field) -> TokenStream {
    let ty = &first.ty;
    let name = first.ident.unraw().to_string();
    quote! {
        #[automatically_derived]
        impl #krate::canvas::TakesInput for #ident {
            type Input = #ty;
            const INPUT: &'static str = #name;
        }
    }
}

/// `TaskOptions { ..., ..TaskOptions::DEFAULT }` with the keys that were given.
fn task_options(options: &TaskAttr) -> TokenStream {
    let krate = &options.krate;
    let duration = |ms: u64| {
        let ms = Literal::u64_unsuffixed(ms);
        quote!(::core::option::Option::Some(::core::time::Duration::from_millis(#ms)))
    };
    let mut fields = Vec::new();
    if let Some(queue) = &options.queue {
        fields.push(quote!(queue: #queue));
    }
    if let Some(priority) = options.priority {
        let priority = Literal::u8_unsuffixed(priority);
        fields.push(quote!(priority: #priority));
    }
    if let Some(attempts) = options.max_attempts {
        let attempts = Literal::u32_unsuffixed(attempts);
        fields.push(quote!(max_attempts: #attempts));
    }
    let mut backoff = Vec::new();
    if let Some(ms) = options.backoff_ms {
        let ms = Literal::u64_unsuffixed(ms);
        backoff.push(quote!(base_ms: #ms));
    }
    if let Some(ms) = options.backoff_max_ms {
        let ms = Literal::u64_unsuffixed(ms);
        backoff.push(quote!(cap_ms: #ms));
    }
    if let Some(jitter) = options.jitter {
        backoff.push(quote!(jitter: #jitter));
    }
    if !backoff.is_empty() {
        let rest = (backoff.len() < 3).then(|| quote!(..#krate::TaskOptions::DEFAULT.backoff));
        fields.push(quote!(backoff: #krate::Backoff { #(#backoff,)* #rest }));
    }
    if let Some(ms) = options.timeout_ms {
        let timeout = duration(ms);
        fields.push(quote!(timeout: #timeout));
    }
    match options.result_ttl {
        ResultTtl::Default => {}
        ResultTtl::Keep(ms) => {
            let ttl = duration(ms);
            fields.push(quote!(result_ttl: #ttl));
        }
        ResultTtl::Ignore => fields.push(quote!(result_ttl: ::core::option::Option::None)),
    }
    if let Some(ms) = options.unique_for_ms {
        let window = duration(ms);
        fields.push(quote!(unique_for: #window));
    }
    fields.extend(crate::attr_flow::fields(&options.flow, krate));
    if fields.is_empty() {
        return quote!(#krate::TaskOptions::DEFAULT);
    }
    // Always `..DEFAULT`: `TaskOptions` grows; the const allows `clippy::needless_update`.
    let rest = quote!(..#krate::TaskOptions::DEFAULT);
    quote!(#krate::TaskOptions { #(#fields,)* #rest })
}

/// `#[workflow(args)] item`, expanded; on any mistake, the item unchanged plus every error.
pub(crate) fn workflow(args: TokenStream, item: TokenStream) -> TokenStream {
    let mut cx = Ctxt::new();
    let options = attr::parse_workflow(&mut cx, args);
    let func = match syn::parse2::<Item>(item.clone()) {
        Ok(Item::Fn(func)) => Some(func),
        Ok(_) => {
            not_a_function(
                &mut cx,
                item.clone(),
                "workflow",
                "fn pipeline(url: String) -> impl Canvas<Output = Report>",
            );
            None
        }
        Err(err) => {
            cx.syn_error(err);
            None
        }
    };
    let workflow = func
        .as_ref()
        .and_then(|func| model::check_workflow(&mut cx, func, &options.krate));
    match workflow {
        Some(workflow) if !cx.has_errors() => expand_workflow(&workflow, &options),
        _ => fallback(&cx, func.as_ref(), item, &options.krate),
    }
}

fn expand_workflow(workflow: &Workflow<'_>, options: &WorkflowAttr) -> TokenStream {
    let krate = &options.krate;
    let func = workflow.func;
    let ident = workflow.ident();
    let vis = &func.vis;
    let plain_name = ident.unraw().to_string();
    let span = ident.span();

    let (cfgs, hidden) = inherited_attrs(func);

    let field_idents: Vec<_> = workflow.fields.iter().map(|f| &f.ident).collect();
    let field_tys: Vec<_> = workflow.fields.iter().map(|f| &f.ty).collect();
    let struct_fields = struct_fields(&workflow.fields);
    let serde_path = options.serde_path();
    let struct_doc = format!(
        "The workflow [`{plain_name}()`], as its arguments: what is sent to start it.\n\n\
         `{plain_name}::new(..)` makes a `WorkflowCall` of it: `.delay()` it to start the \
         workflow. It is also registered by name, to be started with its arguments as JSON."
    );
    let name = match &options.name {
        Some(name) => quote!(#name),
        None => quote!(::core::concat!(::core::module_path!(), "::", #plain_name)),
    };

    // The canvas: the function's return type, or a box around it when it has no name.
    let call = quote!(#ident(#(#field_idents),*));
    let (canvas_ty, build) = match &workflow.canvas {
        CanvasType::Opaque(output) => (
            quote!(#krate::canvas::BoxedCanvas<#output>),
            quote!(#krate::canvas::BoxedCanvas::new(#call)),
        ),
        CanvasType::Named(ty) => (ty.to_token_stream(), call),
    };
    // Spanned at the return type, so that "the trait `Canvas` is not implemented for `u32`"
    // points at it.
    let canvas_span = match &func.sig.output {
        syn::ReturnType::Type(_, ty) => ty.span(),
        syn::ReturnType::Default => span,
    };
    let canvas_assoc = quote_spanned!(canvas_span=> type Canvas = #canvas_ty;);
    let output_schema = match &workflow.canvas {
        CanvasType::Opaque(output) => probe(krate, output.to_token_stream()),
        // A probe of the canvas rather than of `<T as Canvas>::Output`, so that a return type
        // that is not a canvas is reported once, at `type Canvas`, not here again.
        CanvasType::Named(_) => quote! {
            (&&#krate::__private::CanvasProbe::<
                <Self as #krate::canvas::Workflow>::Canvas,
            >::new())
            .output_schema(__taskq_gen)
        },
    };
    let schema_fn = schema_fn(krate, func, &workflow.fields, &output_schema);

    let here = quote_spanned!(span=> ::core::file!(), ::core::line!());
    quote! {
        #func

        #(#cfgs)*
        #(#hidden)*
        #[doc = #struct_doc]
        #[allow(non_camel_case_types, missing_debug_implementations)]
        #[derive(#krate::__private::serde::Serialize, #krate::__private::serde::Deserialize)]
        #[serde(crate = #serde_path)]
        #vis struct #ident {
            #(#struct_fields,)*
        }

        #(#cfgs)*
        impl #ident {
            /// This workflow with these arguments: `.delay()` it to start it.
            #[allow(dead_code, clippy::too_many_arguments)]
            pub fn new(#(#field_idents: #field_tys),*) -> #krate::canvas::WorkflowCall<Self> {
                #krate::canvas::WorkflowCall::new(Self { #(#field_idents),* })
            }
        }

        #(#cfgs)*
        const _: () = {
            #[automatically_derived]
            impl #krate::canvas::Workflow for #ident {
                const NAME: &'static str = #name;
                #canvas_assoc

                fn build(self) -> <Self as #krate::canvas::Workflow>::Canvas {
                    let Self { #(#field_idents),* } = self;
                    #build
                }

                #schema_fn
            }
            #krate::__private::link_submit! {
                krate = [#krate],
                slice = WORKFLOWS,
                ty = #krate::canvas::WorkflowEntry,
                entry = #krate::canvas::WorkflowEntry::of::<#ident>(#here),
            }
        };
    }
}

/// `__schema`, of `Task` or `Workflow`: the doc comment, each field's name, schema and whether
/// it is required (not an `Option`), and `output`, the output's schema.
fn schema_fn(
    krate: &syn::Path,
    func: &ItemFn,
    fields: &[Field],
    output: &TokenStream,
) -> TokenStream {
    let description = match model::description(&func.attrs) {
        Some(text) => quote!(::core::option::Option::Some(#text)),
        None => quote!(::core::option::Option::None),
    };
    let params = fields.iter().map(|field| {
        let name = field.ident.unraw().to_string();
        let schema = probe(krate, field.ty.to_token_stream());
        let required = !model::is_option(&field.ty);
        quote!((#name, #schema, #required))
    });
    quote! {
        fn __schema(
            __taskq_gen: &mut #krate::schema::SchemaGen,
        ) -> #krate::schema::TaskSchema {
            #[allow(unused_imports)]
            use #krate::__private::{
                ViaAny as _, ViaCanvas as _, ViaCanvasJsonSchema as _, ViaJsonSchema as _,
                ViaNotCanvas as _,
            };
            #krate::__private::task_schema(#description, [#(#params),*], #output)
        }
    }
}

/// The schema of type `ty`, by autoref specialization: `ViaJsonSchema` (on `Probe<T>`) when
/// `ty: JsonSchema`, else `ViaAny` (on `&Probe<T>`), whose `{}` never fails to compile. Needs
/// both traits in scope and `__taskq_gen`.
fn probe(krate: &syn::Path, ty: TokenStream) -> TokenStream {
    quote! {
        (&#krate::__private::Probe::<#ty>::new()).field_schema(__taskq_gen)
    }
}

/// The fields of the struct of arguments, each documented and spanned at its argument's type:
/// rustc's "`T: Serialize` is not satisfied" from serde's derive then points at the type, or at
/// least labels it.
fn struct_fields(fields: &[Field]) -> Vec<TokenStream> {
    fields
        .iter()
        .map(|field| {
            let ident = &field.ident;
            let ty = &field.ty;
            let doc = format!("The argument `{}`.", ident.unraw());
            quote_spanned!(ty.span()=> #[doc = #doc] pub #ident: #ty)
        })
        .collect()
}

fn is_doc_hidden(attr: &Attribute) -> bool {
    match &attr.meta {
        Meta::List(list) if list.path.is_ident("doc") => list
            .tokens
            .clone()
            .into_iter()
            .any(|tt| matches!(&tt, TokenTree::Ident(ident) if ident == "hidden")),
        _ => false,
    }
}

fn is_lint_attr(attr: &Attribute) -> bool {
    ["allow", "warn", "deny", "forbid", "expect"]
        .iter()
        .any(|lint| attr.path().is_ident(lint))
}

#[cfg(test)]
mod tests {
    use quote::quote;

    /// Expands `#[task(args)] item` outside the compiler, as a file of items.
    fn expand(args: proc_macro2::TokenStream, item: proc_macro2::TokenStream) -> syn::File {
        syn::parse2(super::task(args, item)).expect("the expansion is a list of items")
    }

    fn item_names(file: &syn::File) -> Vec<String> {
        file.items
            .iter()
            .map(|item| match item {
                syn::Item::Struct(s) => format!("struct {}", s.ident),
                syn::Item::Fn(f) => format!("fn {}", f.sig.ident),
                syn::Item::Impl(_) => "impl".to_owned(),
                syn::Item::Const(_) => "const".to_owned(),
                syn::Item::Macro(m) => format!(
                    "{}!",
                    quote!(#m).to_string().split('!').next().unwrap_or("")
                ),
                other => format!("{:?}", quote!(#other).to_string()),
            })
            .collect()
    }

    #[test]
    fn an_async_fn_becomes_struct_new_wrapper_and_hidden_impls() {
        let file = expand(
            quote!(retries = 3),
            quote! {
                /// Adds.
                pub async fn add(a: i64, b: i64) -> i64 { a + b }
            },
        );
        assert_eq!(
            item_names(&file),
            ["struct add", "impl", "fn add", "const"],
            "{}",
            quote!(#file)
        );
        let text = quote!(#file).to_string();
        assert!(text.contains("__taskq_body_add"), "{text}");
        assert!(text.contains("impl :: taskq :: Invoke for add"), "{text}");
        assert!(text.contains("max_attempts : 4"), "{text}");
    }

    #[test]
    fn the_schema_probes_every_field_and_the_output() {
        let file = expand(
            quote!(),
            quote! {
                /// Adds,
                /// slowly.
                async fn add(r#a: i64, b: Option<i64>) -> Result<i64, String> { Ok(a) }
            },
        );
        let text = quote!(#file).to_string();
        assert!(
            text.contains("fn __schema (__taskq_gen : & mut :: taskq :: schema :: SchemaGen"),
            "{text}"
        );
        assert!(text.contains("Some (\"Adds,\\nslowly.\")"), "{text}");
        assert!(
            text.contains("(\"a\" , (& :: taskq :: __private :: Probe :: < i64 > :: new ()) . field_schema (__taskq_gen) , true)"),
            "{text}"
        );
        assert!(
            text.contains(
                "Probe :: < Option < i64 > > :: new ()) . field_schema (__taskq_gen) , false)"
            ),
            "{text}"
        );
        assert!(
            text.contains("Probe :: < < Result < i64 , String > as :: taskq :: __private :: ResultParts > :: Ok >"),
            "{text}"
        );
    }

    #[test]
    fn reserved_parameter_names_are_refused() {
        for item in [
            quote!(
                async fn f(task: String) {}
            ),
            quote!(
                async fn f(a: u32, mut options: Vec<u32>) {}
            ),
            quote!(
                async fn f(r#task: u32) {}
            ),
        ] {
            let out = super::task(quote!(), item).to_string();
            assert_eq!(out.matches("compile_error").count(), 1, "{out}");
            assert!(out.contains("is a reserved parameter name"), "{out}");
        }
    }

    #[test]
    fn a_sync_fn_is_kept_and_has_no_invoke() {
        let file = expand(
            quote!(),
            quote!(
                fn mul(a: i64, b: i64) -> i64 {
                    a * b
                }
            ),
        );
        let text = quote!(#file).to_string();
        assert!(
            text.contains("fn mul (a : i64 , b : i64) -> i64 { a * b }"),
            "{text}"
        );
        assert!(text.contains("run_blocking"), "{text}");
        assert!(!text.contains("Invoke"), "{text}");
    }

    #[test]
    fn a_task_with_arguments_gets_partial_and_takes_input() {
        let file = expand(
            quote!(),
            quote!(
                async fn scale(ctx: taskq::Context, values: Vec<u32>, r#by: u32) -> u32 {
                    0
                }
            ),
        );
        let text = quote!(#file).to_string();
        assert!(text.contains("pub fn partial (r#by : u32)"), "{text}");
        assert!(text.contains("partial_field (\"by\" , & r#by)"), "{text}");
        assert!(
            text.contains("type Input = Vec < u32 > ; const INPUT : & 'static str = \"values\""),
            "{text}"
        );

        let file = expand(
            quote!(),
            quote!(
                async fn ping(ctx: taskq::Context) {}
            ),
        );
        let text = quote!(#file).to_string();
        assert!(!text.contains("partial"), "{text}");
        assert!(!text.contains("TakesInput"), "{text}");
    }

    #[test]
    fn a_workflow_returning_impl_canvas_is_boxed() {
        let out = super::workflow(
            quote!(name = "etl.pipeline"),
            quote! {
                /// Docs.
                pub fn pipeline(url: String, parts: u32) -> impl taskq::canvas::Canvas<Output = u32> {
                    build(url, parts)
                }
            },
        );
        let file: syn::File = syn::parse2(out).expect("a list of items");
        assert_eq!(
            item_names(&file),
            ["fn pipeline", "struct pipeline", "impl", "const"],
            "{}",
            quote!(#file)
        );
        let text = quote!(#file).to_string();
        assert!(
            text.contains("type Canvas = :: taskq :: canvas :: BoxedCanvas < u32 >"),
            "{text}"
        );
        assert!(
            text.contains(":: taskq :: canvas :: BoxedCanvas :: new (pipeline (url , parts))"),
            "{text}"
        );
        assert!(
            text.contains("const NAME : & 'static str = \"etl.pipeline\""),
            "{text}"
        );
        assert!(
            text.contains("WorkflowEntry :: of :: < pipeline >"),
            "{text}"
        );
    }

    #[test]
    fn a_workflow_returning_a_named_canvas_uses_it() {
        let out = super::workflow(
            quote!(crate = "tq"),
            quote!(
                fn summed(n: u32) -> Chain<Call<fetch>, Partial<sum>> {
                    fetch::new(n).then(sum::partial())
                }
            ),
        );
        let text = out.to_string();
        assert!(
            text.contains("type Canvas = Chain < Call < fetch > , Partial < sum > >"),
            "{text}"
        );
        assert!(
            text.contains("impl tq :: canvas :: Workflow for summed"),
            "{text}"
        );
        assert!(!text.contains("BoxedCanvas"), "{text}");
    }

    #[test]
    fn a_wrong_workflow_is_kept_with_every_error() {
        let item = quote!(
            async fn pipeline(url: &str) -> impl Iterator<Item = u32> {
                0..1
            }
        );
        let out = super::workflow(quote!(queue = "etl", name), item).to_string();
        assert_eq!(out.matches("compile_error").count(), 5, "{out}");
        assert!(out.starts_with("async fn pipeline (url : & str)"), "{out}");
        assert!(!out.contains("struct"), "{out}");
    }

    #[test]
    fn on_error_the_function_is_kept_with_every_error() {
        let item = quote!(
            async fn greet(name: &str) -> String {
                name.to_owned()
            }
        );
        let out = super::task(quote!(retries = "3", colour = 1), item).to_string();
        assert_eq!(out.matches("compile_error").count(), 3, "{out}");
        assert!(
            out.starts_with("async fn greet (name : & str) -> String"),
            "{out}"
        );
        assert!(!out.contains("struct"), "{out}");
    }
}
