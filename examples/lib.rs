//! Runnable examples of taskq: see `examples/`.
