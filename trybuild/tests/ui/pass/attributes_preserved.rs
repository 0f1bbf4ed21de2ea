//! The function keeps its visibility, docs and attributes.

#![deny(warnings)]

mod jobs {
    /// Greets: this doc comment stays on the function.
    #[doc(alias = "hello")]
    #[taskq::task(name = "jobs.greet")]
    #[inline]
    #[allow(unused_variables)] // must reach the body too, where `unused` is
    pub(crate) async fn greet(name: String) -> String {
        let unused = 1;
        format!("hello {name}")
    }

    /// A sync function keeps its attributes as written.
    #[taskq::task(queue = "sync")]
    #[inline(always)]
    #[allow(clippy::needless_return)]
    pub(crate) fn shout(mut text: String) -> String {
        text.push('!');
        return text.to_uppercase();
    }

    /// Only compiled when its `cfg` holds; everything generated for it follows.
    #[taskq::task]
    #[cfg(all())]
    pub(super) async fn kept() -> u8 {
        1
    }

    /// Compiled out, struct and registry entry too (`Missing` does not even exist).
    #[taskq::task]
    #[cfg(any())]
    pub(crate) async fn gone(x: Missing) -> u8 {
        1
    }

    /// Hidden from the docs, along with its struct.
    #[doc(hidden)]
    #[taskq::task]
    pub async fn hidden() {}
}

#[tokio::main(flavor = "current_thread")]
async fn main() {
    use taskq::Task;
    // `pub(crate)` and `pub(super)` reach here, for the function and for its struct.
    assert_eq!(jobs::greet("you".into()).await, "hello you");
    assert_eq!(<jobs::greet as Task>::NAME, "jobs.greet");
    assert_eq!(jobs::shout("hey".into()), "HEY!");
    let _ = jobs::shout::new("hey".into());
    assert_eq!(jobs::kept().await, 1);
    jobs::hidden().await;
}
