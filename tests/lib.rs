//! Cross-crate end-to-end tests of taskq live in `tests/`.
