//! The task registry: every `#[task]` linked into the binary, by name.
//!
//! `#[task]` submits a [`TaskEntry`] at link time with `inventory`; [`Registry::global`] collects
//! them into a map the first time a worker needs it, and refuses duplicate names, naming both
//! declarations. [`Registry::register`] adds a task by hand, for a crate whose tasks the linker
//! would otherwise drop (nothing else in the binary refers to it).

use std::collections::{BTreeSet, HashMap};
use std::fmt;
use std::hash::BuildHasherDefault;
use std::sync::OnceLock;

use futures_util::future::BoxFuture;
use futures_util::FutureExt;

use crate::context::Context;
use crate::error::RegistryError;
use crate::message::{FailureKind, IdHasher, Payload, TaskFailure};
use crate::schema::SchemaFn;
use crate::task::{Task, TaskOptions};

/// The type-erased body of a task: decode the arguments (an error means the message is
/// poison), then run and encode the result.
pub type RunFn = fn(
    &Payload,
    Context,
) -> Result<BoxFuture<'static, Result<Payload, TaskFailure>>, serde_json::Error>;

/// One registered task: its name, options, where it is declared, and how to run it.
pub struct TaskEntry {
    /// The task's name.
    pub name: &'static str,
    /// Its declared options.
    pub options: TaskOptions,
    /// Runs it from its serialized arguments.
    pub run: RunFn,
    /// The source file that declares it.
    pub file: &'static str,
    /// The line.
    pub line: u32,
    /// The Rust type behind it (tells a duplicate name from the same task registered twice).
    pub type_name: fn() -> &'static str,
    /// The task's parameter names in declaration order (its struct's fields), for callers that
    /// pass arguments by position, such as Celery messages; empty for a task whose arguments
    /// are not a struct.
    pub params: fn() -> &'static [&'static str],
    /// The task's JSON Schemas: its doc comment, its arguments as an object, its output (see
    /// [`crate::schema`]).
    ///
    /// ```
    /// /// Says hello.
    /// #[taskq::task]
    /// async fn greet(name: String, times: Option<u32>) -> String {
    ///     format!("hello {name}").repeat(times.unwrap_or(1) as usize)
    /// }
    ///
    /// let entry = taskq::Registry::global().unwrap().get(<greet as taskq::Task>::NAME).unwrap();
    /// let schema = (entry.schema)(&mut taskq::schema::SchemaGen::new());
    /// assert_eq!(schema.description.as_deref(), Some("Says hello."));
    /// assert_eq!(schema.args["required"], serde_json::json!(["name"]));
    /// println!("{}", schema.args);
    /// ```
    pub schema: SchemaFn,
}

impl fmt::Debug for TaskEntry {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.debug_struct("TaskEntry")
            .field("name", &self.name)
            .field("options", &self.options)
            .field("at", &format_args!("{}:{}", self.file, self.line))
            .finish()
    }
}

impl TaskEntry {
    /// The entry of task `T`, declared at `file:line`.
    pub const fn of<T: Task>(file: &'static str, line: u32) -> Self {
        TaskEntry {
            name: T::NAME,
            options: T::OPTIONS,
            run: run_erased::<T>,
            file,
            line,
            type_name: std::any::type_name::<T>,
            params: params::<T>,
            schema: T::__schema,
        }
    }

    /// Where the task is declared, as `file:line`.
    pub fn location(&self) -> String {
        format!("{}:{}", self.file, self.line)
    }
}

/// The field names of `T`'s struct, in declaration order: what serde's derive hands to
/// `deserialize_struct`, captured by a deserializer that reads nothing.
fn params<T: Task>() -> &'static [&'static str] {
    use serde::de::{Deserializer, Visitor};

    struct Capture<'a>(&'a mut &'static [&'static str]);

    impl<'de> Deserializer<'de> for Capture<'_> {
        type Error = serde::de::value::Error;

        fn deserialize_any<V: Visitor<'de>>(self, _visitor: V) -> Result<V::Value, Self::Error> {
            Err(serde::de::Error::custom("not a struct"))
        }

        fn deserialize_struct<V: Visitor<'de>>(
            self,
            _name: &'static str,
            fields: &'static [&'static str],
            _visitor: V,
        ) -> Result<V::Value, Self::Error> {
            *self.0 = fields;
            Err(serde::de::Error::custom("captured"))
        }

        serde::forward_to_deserialize_any! {
            bool i8 i16 i32 i64 i128 u8 u16 u32 u64 u128 f32 f64 char str string bytes byte_buf
            option unit unit_struct newtype_struct seq tuple tuple_struct map enum identifier
            ignored_any
        }
    }

    let mut fields: &'static [&'static str] = &[];
    let _ = T::deserialize(Capture(&mut fields));
    fields
}

fn run_erased<T: Task>(
    args: &Payload,
    ctx: Context,
) -> Result<BoxFuture<'static, Result<Payload, TaskFailure>>, serde_json::Error> {
    let task: T = args.decode()?;
    Ok(async move {
        match task.run(ctx).await {
            Ok(out) => Payload::encode(&out).map_err(|e| {
                TaskFailure::new(
                    FailureKind::Error,
                    format!("the task's result does not serialize: {e}"),
                )
            }),
            Err(e) => Err(TaskFailure::new(FailureKind::Error, e.to_string())),
        }
    }
    .boxed())
}

/// Task names to entries.
#[derive(Debug, Default)]
pub struct Registry {
    tasks: HashMap<&'static str, &'static TaskEntry, BuildHasherDefault<IdHasher>>,
}

impl Registry {
    /// An empty registry.
    pub fn new() -> Self {
        Self::default()
    }

    /// Every task linked into the binary, checked for duplicate names.
    ///
    /// # Errors
    /// [`RegistryError::DuplicateName`] naming both declarations of a name.
    pub fn from_inventory() -> Result<Self, RegistryError> {
        let mut registry = Self::new();
        for entry in crate::link::tasks() {
            registry.insert(entry)?;
        }
        Ok(registry)
    }

    /// The registry of every task linked into the binary, built once.
    ///
    /// ```
    /// #[taskq::task]
    /// async fn ping() -> String {
    ///     "pong".to_string()
    /// }
    ///
    /// let registry = taskq::Registry::global().unwrap();
    /// assert!(registry.get(<ping as taskq::Task>::NAME).is_some());
    /// ```
    ///
    /// # Errors
    /// [`RegistryError::DuplicateName`], on every call, if two tasks share a name.
    pub fn global() -> Result<&'static Registry, RegistryError> {
        static GLOBAL: OnceLock<Result<Registry, RegistryError>> = OnceLock::new();
        match GLOBAL.get_or_init(Registry::from_inventory) {
            Ok(r) => Ok(r),
            Err(RegistryError::DuplicateName {
                name,
                first,
                second,
            }) => Err(RegistryError::DuplicateName {
                name: name.clone(),
                first: first.clone(),
                second: second.clone(),
            }),
        }
    }

    /// Adds task `T` by hand.
    ///
    /// # Errors
    /// [`RegistryError::DuplicateName`] if another task already has its name.
    pub fn register<T: Task>(&mut self) -> Result<&mut Self, RegistryError> {
        let entry: &'static TaskEntry =
            Box::leak(Box::new(TaskEntry::of::<T>("<registered by hand>", 0)));
        self.insert(entry)?;
        Ok(self)
    }

    fn insert(&mut self, entry: &'static TaskEntry) -> Result<(), RegistryError> {
        if let Some(prev) = self.tasks.get(entry.name) {
            if std::ptr::eq(*prev, entry) || (prev.type_name)() == (entry.type_name)() {
                return Ok(());
            }
            let (mut a, mut b) = (prev.location(), entry.location());
            if a > b {
                std::mem::swap(&mut a, &mut b);
            }
            return Err(RegistryError::DuplicateName {
                name: entry.name.to_owned(),
                first: a,
                second: b,
            });
        }
        self.tasks.insert(entry.name, entry);
        Ok(())
    }

    /// Adds every task of `other`.
    ///
    /// # Errors
    /// [`RegistryError::DuplicateName`] if a name is in both, for different tasks.
    pub fn merge(&mut self, other: &Registry) -> Result<(), RegistryError> {
        for entry in other.tasks.values() {
            self.insert(entry)?;
        }
        Ok(())
    }

    /// The task named `name`.
    pub fn get(&self, name: &str) -> Option<&'static TaskEntry> {
        self.tasks.get(name).copied()
    }

    /// How many tasks.
    pub fn len(&self) -> usize {
        self.tasks.len()
    }

    /// Whether there are none.
    pub fn is_empty(&self) -> bool {
        self.tasks.is_empty()
    }

    /// The entries, in no particular order.
    pub fn entries(&self) -> impl Iterator<Item = &'static TaskEntry> + '_ {
        self.tasks.values().copied()
    }

    /// The queues the tasks are declared on, sorted.
    pub fn queues(&self) -> Vec<String> {
        let set: BTreeSet<&str> = self.tasks.values().map(|e| e.options.queue).collect();
        set.into_iter().map(str::to_owned).collect()
    }
}

impl Clone for Registry {
    fn clone(&self) -> Self {
        Self {
            tasks: self.tasks.clone(),
        }
    }
}
