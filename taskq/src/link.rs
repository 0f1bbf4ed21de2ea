//! Link-time registration: how `#[task]`, `#[workflow]` and backend crates make themselves known
//! to the binary they are linked into, without a line in `main`.
//!
//! Two mechanisms, chosen by a cargo feature of `taskq`; user code is the same under both:
//!
//! - **`inventory`** (the default): each registration is a constructor that runs before `main`
//!   and pushes its entry onto a list. It works wherever the platform runs such constructors
//!   (`.init_array` on ELF, `__mod_init_func` on Mach-O, `.CRT$XCU` on Windows), which covers
//!   ordinary executables, tests and `cdylib`s loaded by a host that runs them.
//! - **`linkme`** (feature `linkme`): each registration is a static placed in a named linker
//!   section; the registry reads the section in place. Nothing runs before `main`, so it also
//!   works where life-before-main constructors do not run or are forbidden (some embedded and
//!   sandboxed targets, binaries whose start-up code is audited), and the list costs nothing
//!   at start. It needs linker support on the target: Linux, macOS, Windows, the BSDs and
//!   illumos.
//!
//! Under both, a registration only exists if its crate is linked: name a crate that only
//! registers things (`use taskq_redis as _;`) so the linker keeps it.
//!
//! Generated code calls [`link_submit!`](crate::__private::link_submit) (not public API); the
//! functions here are what the registry, [`crate::canvas::workflows`] and
//! [`crate::backend::connect`] read.

use crate::backend::BackendFactory;
use crate::canvas::WorkflowEntry;
use crate::hooks::HookEntry;
use crate::registry::TaskEntry;
use crate::schedule::ScheduleEntry;

/// Which link-time mechanism this build of `taskq` uses: `"inventory"` or `"linkme"`.
///
/// ```
/// assert!(["inventory", "linkme"].contains(&taskq::link::MECHANISM));
/// ```
pub const MECHANISM: &str = if cfg!(feature = "linkme") {
    "linkme"
} else {
    "inventory"
};

#[cfg(not(feature = "linkme"))]
mod lists {
    use super::{BackendFactory, HookEntry, ScheduleEntry, TaskEntry, WorkflowEntry};

    inventory::collect!(HookEntry);

    pub(crate) fn hooks() -> impl Iterator<Item = &'static HookEntry> {
        inventory::iter::<HookEntry>.into_iter()
    }

    inventory::collect!(ScheduleEntry);
    inventory::collect!(TaskEntry);
    inventory::collect!(WorkflowEntry);
    inventory::collect!(BackendFactory);

    pub(crate) fn tasks() -> impl Iterator<Item = &'static TaskEntry> {
        inventory::iter::<TaskEntry>.into_iter()
    }

    pub(crate) fn workflows() -> impl Iterator<Item = &'static WorkflowEntry> {
        inventory::iter::<WorkflowEntry>.into_iter()
    }

    pub(crate) fn backends() -> impl Iterator<Item = &'static BackendFactory> {
        inventory::iter::<BackendFactory>.into_iter()
    }

    pub(crate) fn schedules() -> impl Iterator<Item = &'static ScheduleEntry> {
        inventory::iter::<ScheduleEntry>.into_iter()
    }
}

#[cfg(feature = "linkme")]
mod lists {
    use super::{BackendFactory, HookEntry, ScheduleEntry, TaskEntry, WorkflowEntry};

    /// Every `#[taskq::hook]` linked into the binary.
    #[linkme::distributed_slice]
    pub static HOOKS: [HookEntry];

    pub(crate) fn hooks() -> impl Iterator<Item = &'static HookEntry> {
        HOOKS.iter()
    }

    /// Every `#[task(cron = ..)]` schedule linked into the binary.
    #[linkme::distributed_slice]
    pub static SCHEDULES: [ScheduleEntry];

    pub(crate) fn schedules() -> impl Iterator<Item = &'static ScheduleEntry> {
        SCHEDULES.iter()
    }

    /// Every `#[task]` linked into the binary.
    #[linkme::distributed_slice]
    pub static TASKS: [TaskEntry];

    /// Every `#[workflow]` linked into the binary.
    #[linkme::distributed_slice]
    pub static WORKFLOWS: [WorkflowEntry];

    /// Every backend URL scheme linked into the binary.
    #[linkme::distributed_slice]
    pub static BACKENDS: [BackendFactory];

    pub(crate) fn tasks() -> impl Iterator<Item = &'static TaskEntry> {
        TASKS.iter()
    }

    pub(crate) fn workflows() -> impl Iterator<Item = &'static WorkflowEntry> {
        WORKFLOWS.iter()
    }

    pub(crate) fn backends() -> impl Iterator<Item = &'static BackendFactory> {
        BACKENDS.iter()
    }
}

#[cfg(feature = "linkme")]
#[doc(hidden)]
pub use lists::{BACKENDS, HOOKS, SCHEDULES, TASKS, WORKFLOWS};

pub(crate) use lists::{backends, hooks, schedules, tasks, workflows};

/// Every backend URL scheme linked into the binary (`memory`, and `redis` with `taskq-redis`).
///
/// ```
/// assert!(taskq::link::schemes().any(|s| s == "memory"));
/// ```
pub fn schemes() -> impl Iterator<Item = &'static str> {
    backends().map(|f| f.scheme)
}

/// Registers one entry at link time, through `inventory` or `linkme` as `taskq` was built.
///
/// `krate` is the path to `taskq` as the calling crate names it, `slice` the list (`TASKS`,
/// `WORKFLOWS`, `BACKENDS`), `ty` the entry's type and `entry` a constant expression.
#[cfg(not(feature = "linkme"))]
#[doc(hidden)]
#[macro_export]
macro_rules! __link_submit {
    (krate = [$($krate:tt)*], slice = $slice:ident, ty = $ty:ty, entry = $entry:expr $(,)?) => {
        $($krate)*::__private::inventory::submit! { $entry }
    };
}

/// Registers one entry at link time, through `inventory` or `linkme` as `taskq` was built.
///
/// `krate` is the path to `taskq` as the calling crate names it, `slice` the list (`TASKS`,
/// `WORKFLOWS`, `BACKENDS`), `ty` the entry's type and `entry` a constant expression.
#[cfg(feature = "linkme")]
#[doc(hidden)]
#[macro_export]
macro_rules! __link_submit {
    (krate = [$($krate:tt)*], slice = $slice:ident, ty = $ty:ty, entry = $entry:expr $(,)?) => {
        // A static in a link section is "unsafe code" to the lint: the allowance is for this
        // one generated item (a crate that forbids unsafe code cannot use this feature).
        #[allow(unsafe_code)]
        const _: () = {
            #[$($krate)*::__private::linkme::distributed_slice($($krate)*::link::$slice)]
            #[linkme(crate = $($krate)*::__private::linkme)]
            static ENTRY: $ty = $entry;
        };
    };
}
