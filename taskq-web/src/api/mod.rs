//! The API's request and response bodies (serde, documented). Routes live in `routes/`.

mod health;

pub use health::Health;
