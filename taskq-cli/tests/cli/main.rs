//! The `taskq` binary, run against a private Redis with tasks in every state (ready,
//! scheduled, leased by a running worker, dead, succeeded and failed), the worker running in
//! this test process.

#![allow(clippy::unwrap_used)]

mod acting;
mod breakers;
mod dead;
mod errors;
mod events;
mod fixture;
mod harness;
mod help;
mod reading;
mod schedules;
mod sqlite;
mod web;
