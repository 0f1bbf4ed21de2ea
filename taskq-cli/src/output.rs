//! How results are printed: tables and short sentences for people, JSON for scripts (one
//! document per command, or JSON Lines for streams such as `events --follow`).
//!
//! Everything goes through [`Out`], which writes to a locked stdout and reports a closed pipe as
//! an error that `main` ends quietly on (`taskq events --follow | head -3`).

use std::io::{self, Write};

use comfy_table::{presets, ContentArrangement, Table};
use serde::Serialize;

use crate::error::CliError;

/// Where and how to print.
#[derive(Debug)]
pub struct Out {
    json: bool,
    stdout: io::Stdout,
}

impl Out {
    /// Prints JSON when `json`, tables and sentences otherwise.
    pub fn new(json: bool) -> Self {
        Self {
            json,
            stdout: io::stdout(),
        }
    }

    /// Whether the user asked for JSON.
    pub fn is_json(&self) -> bool {
        self.json
    }

    /// One JSON document, pretty-printed.
    pub fn json<T: Serialize + ?Sized>(&self, value: &T) -> Result<(), CliError> {
        let mut out = self.stdout.lock();
        serde_json::to_writer_pretty(&mut out, value)?;
        out.write_all(b"\n")?;
        out.flush()?;
        Ok(())
    }

    /// One JSON document on one line, flushed at once (JSON Lines, for streams).
    pub fn json_line<T: Serialize + ?Sized>(&self, value: &T) -> Result<(), CliError> {
        let mut out = self.stdout.lock();
        serde_json::to_writer(&mut out, value)?;
        out.write_all(b"\n")?;
        out.flush()?;
        Ok(())
    }

    /// A line of text, flushed at once.
    pub fn line(&self, text: impl std::fmt::Display) -> Result<(), CliError> {
        let mut out = self.stdout.lock();
        writeln!(out, "{text}")?;
        out.flush()?;
        Ok(())
    }

    /// A table: `rows` under `header`, or `empty` when there are no rows.
    pub fn table<R>(&self, header: &[&str], rows: R, empty: &str) -> Result<(), CliError>
    where
        R: IntoIterator<Item = Vec<String>>,
    {
        let mut table = new_table();
        table.set_header(header.iter().copied());
        let mut any = false;
        for row in rows {
            any = true;
            table.add_row(row);
        }
        if any {
            self.line(table)
        } else {
            self.line(empty)
        }
    }

    /// A two-column table of fields and values (one record, `taskq inspect`).
    pub fn record<'a, R>(&self, fields: R) -> Result<(), CliError>
    where
        R: IntoIterator<Item = (&'a str, String)>,
    {
        let mut table = new_table();
        for (k, v) in fields {
            table.add_row(vec![k.to_owned(), v]);
        }
        self.line(table)
    }
}

fn new_table() -> Table {
    let mut table = Table::new();
    table
        .load_preset(presets::UTF8_FULL_CONDENSED)
        .set_content_arrangement(ContentArrangement::Dynamic);
    table
}

/// A count with thousands separators, for people (`100,000`).
pub fn count(n: usize) -> String {
    let digits = n.to_string();
    let mut out = String::with_capacity(digits.len() + digits.len() / 3);
    for (i, c) in digits.chars().enumerate() {
        if i > 0 && (digits.len() - i) % 3 == 0 {
            out.push(',');
        }
        out.push(c);
    }
    out
}

/// `n thing` or `n things`.
pub fn plural(n: usize, one: &str, many: &str) -> String {
    if n == 1 {
        format!("1 {one}")
    } else {
        format!("{} {many}", count(n))
    }
}

/// A time in milliseconds since the epoch as UTC `2026-12-03 09:26:06.123`.
pub fn time(ms: u64) -> String {
    let secs = ms / 1_000;
    let (days, rem) = (secs / 86_400, secs % 86_400);
    let (y, m, d) = civil_from_days(i64::try_from(days).unwrap_or(i64::MAX));
    format!(
        "{y:04}-{m:02}-{d:02} {:02}:{:02}:{:02}.{:03}",
        rem / 3_600,
        rem % 3_600 / 60,
        rem % 60,
        ms % 1_000
    )
}

/// A span of milliseconds for people: `850ms`, `12.3s`, `4m05s`, `2h10m`, `3d4h`.
pub fn span_ms(ms: u64) -> String {
    match ms {
        0..=999 => format!("{ms}ms"),
        1_000..=59_999 => format!("{:.1}s", ms as f64 / 1_000.0),
        60_000..=3_599_999 => format!("{}m{:02}s", ms / 60_000, ms % 60_000 / 1_000),
        3_600_000..=86_399_999 => format!("{}h{:02}m", ms / 3_600_000, ms % 3_600_000 / 60_000),
        _ => format!("{}d{}h", ms / 86_400_000, ms % 86_400_000 / 3_600_000),
    }
}

/// Howard Hinnant's `civil_from_days`: the proleptic Gregorian date of a day count since
/// 1970-01-01.
fn civil_from_days(z: i64) -> (i64, u32, u32) {
    let z = z + 719_468;
    let era = z.div_euclid(146_097);
    let doe = z.rem_euclid(146_097);
    let yoe = (doe - doe / 1_460 + doe / 36_524 - doe / 146_096) / 365;
    let y = yoe + era * 400;
    let doy = doe - (365 * yoe + yoe / 4 - yoe / 100);
    let mp = (5 * doy + 2) / 153;
    let d = (doy - (153 * mp + 2) / 5 + 1) as u32;
    let m = if mp < 10 { mp + 3 } else { mp - 9 } as u32;
    (if m <= 2 { y + 1 } else { y }, m, d)
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn counts_have_separators() {
        assert_eq!(count(0), "0");
        assert_eq!(count(999), "999");
        assert_eq!(count(1_000), "1,000");
        assert_eq!(count(100_000), "100,000");
        assert_eq!(count(1_234_567), "1,234,567");
        assert_eq!(plural(1, "task", "tasks"), "1 task");
        assert_eq!(plural(2_000, "task", "tasks"), "2,000 tasks");
    }

    #[test]
    fn times_are_utc() {
        assert_eq!(time(0), "1970-01-01 00:00:00.000");
        // 2024-02-29 12:34:56.789 UTC
        assert_eq!(time(1_709_210_096_789), "2024-02-29 12:34:56.789");
    }

    #[test]
    fn spans() {
        assert_eq!(span_ms(850), "850ms");
        assert_eq!(span_ms(12_345), "12.3s");
        assert_eq!(span_ms(245_000), "4m05s");
        assert_eq!(span_ms(7_800_000), "2h10m");
        assert_eq!(span_ms(273_600_000), "3d4h");
    }
}
