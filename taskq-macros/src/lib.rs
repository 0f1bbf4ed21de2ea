//! Placeholder; the real macro is being written.
use proc_macro::TokenStream;

/// Placeholder.
#[proc_macro_attribute]
pub fn task(_attr: TokenStream, item: TokenStream) -> TokenStream {
    item
}
