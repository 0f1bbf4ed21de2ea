//! Durations as written in `#[task(timeout = "1m30s")]`: whole numbers, each followed by a unit
//! (`ms`, `s`, `m`, `h`, `d`), largest unit first.

/// The units, largest first, with their length in milliseconds.
const UNITS: [(&str, u64); 5] = [
    ("d", 86_400_000),
    ("h", 3_600_000),
    ("m", 60_000),
    ("s", 1_000),
    ("ms", 1),
];

const HOW: &str =
    "write whole numbers followed by `ms`, `s`, `m`, `h` or `d`, as in \"30s\" or \"1m30s\"";

/// Parses `text` into milliseconds, or says what is wrong with it.
pub(crate) fn parse_millis(text: &str) -> Result<u64, String> {
    if text.is_empty() {
        return Err(format!("a duration cannot be empty; {HOW}"));
    }
    let mut total: u64 = 0;
    // The rank of the last unit seen; each unit must be smaller than the one before it.
    let mut last_rank: Option<usize> = None;
    let mut rest = text;
    while !rest.is_empty() {
        let digits = rest.len() - rest.trim_start_matches(|c: char| c.is_ascii_digit()).len();
        let (number, after) = rest.split_at(digits);
        let letters = after.len()
            - after
                .trim_start_matches(|c: char| c.is_ascii_alphabetic())
                .len();
        let (unit, after) = after.split_at(letters);
        if number.is_empty() {
            return Err(match after.chars().next() {
                Some(c) if unit.is_empty() => format!("unexpected character `{c}`; {HOW}"),
                _ => format!("expected a number before `{unit}`; {HOW}"),
            });
        }
        if unit.is_empty() {
            return Err(match after.chars().next() {
                Some(c) => format!("unexpected character `{c}` after `{number}`; {HOW}"),
                None => format!("missing unit after `{number}`; {HOW}"),
            });
        }
        let Some(rank) = UNITS.iter().position(|(name, _)| *name == unit) else {
            return Err(format!(
                "unknown unit `{unit}`; use `ms`, `s`, `m`, `h` or `d`"
            ));
        };
        if last_rank.is_some_and(|last| rank <= last) {
            return Err(
                "units must go from the largest to the smallest, each at most once, as in \"1h30m\""
                    .to_owned(),
            );
        }
        last_rank = Some(rank);
        let too_long = || format!("duration \"{text}\" is too long");
        let value: u64 = number.parse().map_err(|_| too_long())?;
        total = value
            .checked_mul(UNITS[rank].1)
            .and_then(|ms| total.checked_add(ms))
            .ok_or_else(too_long)?;
        rest = after;
    }
    Ok(total)
}

/// `millis` in the largest units that say it exactly, for messages: `90000` is `1m30s`.
pub(crate) fn display(millis: u64) -> String {
    if millis == 0 {
        return "0s".to_owned();
    }
    let mut out = String::new();
    let mut rest = millis;
    for (name, size) in UNITS {
        if rest >= size {
            out.push_str(&format!("{}{name}", rest / size));
            rest %= size;
        }
    }
    out
}

#[cfg(test)]
mod tests {
    use super::{display, parse_millis};

    #[test]
    fn parses_simple_and_compound_durations() {
        assert_eq!(parse_millis("500ms"), Ok(500));
        assert_eq!(parse_millis("30s"), Ok(30_000));
        assert_eq!(parse_millis("5m"), Ok(300_000));
        assert_eq!(parse_millis("1h"), Ok(3_600_000));
        assert_eq!(parse_millis("2d"), Ok(172_800_000));
        assert_eq!(parse_millis("1m30s"), Ok(90_000));
        assert_eq!(parse_millis("1d2h3m4s5ms"), Ok(93_784_005));
        assert_eq!(parse_millis("0s"), Ok(0));
    }

    #[test]
    fn rejects_bad_durations() {
        for bad in [
            "",
            "30",
            "s",
            "30sec",
            "1.5s",
            "30s1m",
            "1s1s",
            "-1s",
            " 1s",
            "1s ",
            "1 s",
            "1m30",
            "99999999999999999999s",
            "999999999999999d",
        ] {
            assert!(parse_millis(bad).is_err(), "{bad:?} should be rejected");
        }
    }

    #[test]
    fn messages_name_the_problem() {
        let missing = parse_millis("30").expect_err("rejected");
        assert!(missing.starts_with("missing unit after `30`"), "{missing}");
        let unknown = parse_millis("30sec").expect_err("rejected");
        assert!(unknown.starts_with("unknown unit `sec`"), "{unknown}");
        let order = parse_millis("30s1m").expect_err("rejected");
        assert!(order.starts_with("units must go"), "{order}");
    }

    #[test]
    fn displays_in_the_largest_units() {
        assert_eq!(display(90_000), "1m30s");
        assert_eq!(display(1_500), "1s500ms");
        assert_eq!(display(86_400_000), "1d");
        assert_eq!(display(0), "0s");
    }
}
