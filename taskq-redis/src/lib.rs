//! The Redis backend of taskq (being written).
