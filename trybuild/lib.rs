//! Compile-fail and compile-pass cases of the taskq macros: see `tests/`.
