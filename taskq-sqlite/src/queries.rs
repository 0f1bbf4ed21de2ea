//! Named SQL statements from the `.sql` files beside the code that runs them.
//!
//! A file holds several statements, each introduced by a line `-- name: <name>`; the text up
//! to the next such line is the statement. [`Queries::get`] hands one out by name; the
//! connection's prepared-statement cache (keyed by the text) does the rest.
//!
//! ```text
//! -- name: promote
//! UPDATE tasks SET state = 0 WHERE queue = ?1 AND state = 1 AND at <= ?2;
//! ```

use std::collections::HashMap;
use std::sync::OnceLock;

/// The statements of one `.sql` file, parsed on first use.
pub(crate) struct Queries {
    file: &'static str,
    text: &'static str,
    parsed: OnceLock<HashMap<&'static str, &'static str>>,
}

impl Queries {
    /// The statements of `text` (the contents of `file`, for messages).
    pub(crate) const fn new(file: &'static str, text: &'static str) -> Self {
        Self {
            file,
            text,
            parsed: OnceLock::new(),
        }
    }

    /// The statement called `name`.
    ///
    /// # Panics
    /// When the file has no statement of that name: a mistake in this crate's source, caught
    /// by its tests (every statement is run by the conformance suite).
    pub(crate) fn get(&self, name: &str) -> &'static str {
        let map = self.parsed.get_or_init(|| parse(self.text));
        match map.get(name) {
            Some(sql) => sql,
            None => panic!("taskq-sqlite: no statement `{name}` in {}", self.file),
        }
    }
}

fn parse(text: &'static str) -> HashMap<&'static str, &'static str> {
    let mut out = HashMap::new();
    let mut rest = text;
    while let Some(at) = rest.find("-- name: ") {
        let after = &rest[at + "-- name: ".len()..];
        let (name, body) = after.split_once('\n').unwrap_or((after, ""));
        let end = body.find("-- name: ").unwrap_or(body.len());
        out.insert(name.trim(), body[..end].trim());
        rest = &body[end..];
    }
    out
}

/// Declares `static SQL: Queries` for the `.sql` file named, beside the calling file.
macro_rules! queries {
    ($file:literal) => {
        static SQL: $crate::queries::Queries =
            $crate::queries::Queries::new($file, include_str!($file));
    };
}
pub(crate) use queries;

#[cfg(test)]
mod tests {
    #[test]
    fn statements_are_split_by_their_name_lines() {
        let q = super::parse(
            "-- a file comment\n-- name: one\nSELECT 1;\n\n-- name: two\nSELECT\n 2;\n",
        );
        assert_eq!(q.get("one"), Some(&"SELECT 1;"));
        assert_eq!(q.get("two"), Some(&"SELECT\n 2;"));
        assert_eq!(q.len(), 2);
    }
}
