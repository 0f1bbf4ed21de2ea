//! Tick computation across the real 2026 DST transitions of Europe/Berlin and
//! America/New_York, under both policies; intervals; and the runner on a clock the test moves.

use taskq::schedule::{Dst, Ticks, When};
use taskq::Timestamp;

/// Milliseconds of an RFC 3339 UTC instant.
fn at(s: &str) -> Timestamp {
    let t: jiff::Timestamp = s.parse().expect("a valid instant");
    Timestamp(u64::try_from(t.as_millisecond()).expect("after 1970"))
}

fn show(t: Timestamp) -> String {
    let j = jiff::Timestamp::from_millisecond(t.0 as i64).expect("in range");
    j.to_string()
}

fn ticks(expr: &str, tz: &str, dst: Dst) -> Ticks {
    Ticks::new(
        &When::Cron {
            expr: expr.into(),
            tz: tz.into(),
        },
        dst,
    )
    .expect("valid")
}

fn next(t: &Ticks, from: &str, n: usize) -> Vec<String> {
    t.upcoming(at(from), n).into_iter().map(show).collect()
}

#[test]
fn berlin_spring_forward_fixed_time() {
    // 2026-03-29: 02:00 CET jumps to 03:00 CEST (01:00Z); 02:30 does not exist.
    let vixie = ticks("30 2 * * *", "Europe/Berlin", Dst::Vixie);
    assert_eq!(
        next(&vixie, "2026-03-27T12:00:00Z", 3),
        [
            "2026-03-28T01:30:00Z", // 02:30 CET
            "2026-03-29T01:00:00Z", // the first instant after the gap (03:00 CEST)
            "2026-03-30T00:30:00Z", // 02:30 CEST
        ]
    );
    let literal = ticks("30 2 * * *", "Europe/Berlin", Dst::Literal);
    assert_eq!(
        next(&literal, "2026-03-27T12:00:00Z", 2),
        ["2026-03-28T01:30:00Z", "2026-03-30T00:30:00Z"]
    );
}

#[test]
fn berlin_fall_back_fixed_time() {
    // 2026-10-25: 03:00 CEST goes back to 02:00 CET (01:00Z); 02:30 happens twice.
    let vixie = ticks("30 2 * * *", "Europe/Berlin", Dst::Vixie);
    assert_eq!(
        next(&vixie, "2026-10-24T12:00:00Z", 2),
        ["2026-10-25T00:30:00Z", "2026-10-26T01:30:00Z"]
    );
    let literal = ticks("30 2 * * *", "Europe/Berlin", Dst::Literal);
    assert_eq!(
        next(&literal, "2026-10-24T12:00:00Z", 3),
        [
            "2026-10-25T00:30:00Z", // 02:30 CEST
            "2026-10-25T01:30:00Z", // 02:30 CET
            "2026-10-26T01:30:00Z"
        ]
    );
    // Asked from between the two occurrences, each policy goes on consistently.
    assert_eq!(
        next(&vixie, "2026-10-25T00:45:00Z", 1),
        ["2026-10-26T01:30:00Z"]
    );
    assert_eq!(
        next(&literal, "2026-10-25T00:45:00Z", 1),
        ["2026-10-25T01:30:00Z"]
    );
}

#[test]
fn new_york_spring_forward() {
    // 2026-03-08: 02:00 EST jumps to 03:00 EDT (07:00Z).
    let vixie = ticks("30 2 * * *", "America/New_York", Dst::Vixie);
    assert_eq!(
        next(&vixie, "2026-03-07T12:00:00Z", 2),
        ["2026-03-08T07:00:00Z", "2026-03-09T06:30:00Z"]
    );
    let literal = ticks("30 2 * * *", "America/New_York", Dst::Literal);
    assert_eq!(
        next(&literal, "2026-03-07T12:00:00Z", 1),
        ["2026-03-09T06:30:00Z"]
    );
    // A stepped job runs on the wall clock: nothing inside the gap, no burst after it.
    let every_half_hour = ticks("*/30 * * * *", "America/New_York", Dst::Vixie);
    assert_eq!(
        next(&every_half_hour, "2026-03-08T06:00:00Z", 3),
        [
            "2026-03-08T06:30:00Z", // 01:30 EST
            "2026-03-08T07:00:00Z", // 03:00 EDT
            "2026-03-08T07:30:00Z", // 03:30 EDT
        ]
    );
}

#[test]
fn new_york_fall_back() {
    // 2026-11-01: 02:00 EDT goes back to 01:00 EST (06:00Z); 01:30 happens twice.
    let vixie = ticks("30 1 * * *", "America/New_York", Dst::Vixie);
    assert_eq!(
        next(&vixie, "2026-10-31T12:00:00Z", 2),
        ["2026-11-01T05:30:00Z", "2026-11-02T06:30:00Z"]
    );
    let literal = ticks("30 1 * * *", "America/New_York", Dst::Literal);
    assert_eq!(
        next(&literal, "2026-10-31T12:00:00Z", 3),
        [
            "2026-11-01T05:30:00Z", // 01:30 EDT
            "2026-11-01T06:30:00Z", // 01:30 EST
            "2026-11-02T06:30:00Z"
        ]
    );
    // A stepped job keeps its real-time rhythm through the repeated hour.
    let every_half_hour = ticks("*/30 * * * *", "America/New_York", Dst::Vixie);
    assert_eq!(
        next(&every_half_hour, "2026-11-01T04:45:00Z", 6),
        [
            "2026-11-01T05:00:00Z", // 01:00 EDT
            "2026-11-01T05:30:00Z", // 01:30 EDT
            "2026-11-01T06:00:00Z", // 01:00 EST
            "2026-11-01T06:30:00Z", // 01:30 EST
            "2026-11-01T07:00:00Z", // 02:00 EST
            "2026-11-01T07:30:00Z",
        ]
    );
}

#[test]
fn seconds_field_and_weekdays() {
    let t = ticks("*/15 * * * * *", "UTC", Dst::Vixie);
    assert_eq!(
        next(&t, "2026-01-01T00:00:00.500Z", 2),
        ["2026-01-01T00:00:15Z", "2026-01-01T00:00:30Z"]
    );
    // 2026-12-04 is a Friday; the next weekday 09:00 in Berlin (CET, +01) after it is Monday.
    let t = ticks("0 9 * * MON-FRI", "Europe/Berlin", Dst::Vixie);
    assert_eq!(
        next(&t, "2026-12-04T09:00:00Z", 1),
        ["2026-12-07T08:00:00Z"]
    );
}

#[test]
fn intervals_are_clock_aligned() {
    let t = Ticks::new(
        &When::Every {
            every_ms: 90_000,
            phase_ms: 0,
        },
        Dst::Vixie,
    )
    .expect("valid");
    assert_eq!(t.next_after(Timestamp(0)), Some(Timestamp(90_000)));
    assert_eq!(t.next_after(Timestamp(89_999)), Some(Timestamp(90_000)));
    assert_eq!(t.next_after(Timestamp(90_000)), Some(Timestamp(180_000)));
    let phased = Ticks::new(
        &When::Every {
            every_ms: 3_600_000,
            phase_ms: 420_000,
        },
        Dst::Vixie,
    )
    .expect("valid");
    assert_eq!(phased.next_after(Timestamp(0)), Some(Timestamp(420_000)));
    assert_eq!(
        phased.next_after(Timestamp(420_000)),
        Some(Timestamp(4_020_000))
    );
}

#[test]
fn bad_input_is_a_typed_error() {
    use taskq::schedule::ScheduleError;
    assert!(matches!(
        taskq::Schedule::cron("* * *"),
        Err(ScheduleError::BadCron { .. })
    ));
    assert!(matches!(
        taskq::Schedule::cron("0 0 31 2 * * * *"),
        Err(ScheduleError::BadCron { .. })
    ));
    assert!(matches!(
        taskq::Schedule::cron("0 9 * * *").and_then(|s| s.tz("Europe/Atlantis")),
        Err(ScheduleError::UnknownTimeZone { .. })
    ));
    assert!(matches!(
        taskq::Schedule::every("0s"),
        Err(ScheduleError::BadInterval { .. })
    ));
    assert!(matches!(
        taskq::Schedule::every("5 parsecs"),
        Err(ScheduleError::BadInterval { .. })
    ));
}

#[test]
fn seconds_across_both_transitions() {
    for dst in [Dst::Vixie, Dst::Literal] {
        let t = ticks("*/20 * * * * *", "America/New_York", dst);
        assert_eq!(
            next(&t, "2026-11-01T05:59:20Z", 3),
            [
                "2026-11-01T05:59:40Z", // 01:59:40 EDT
                "2026-11-01T06:00:00Z", // 01:00:00 EST, the second pass
                "2026-11-01T06:00:20Z",
            ],
            "{dst:?}"
        );
        let t = ticks("*/20 * * * * *", "Europe/Berlin", dst);
        assert_eq!(
            next(&t, "2026-03-29T00:59:20Z", 2),
            ["2026-03-29T00:59:40Z", "2026-03-29T01:00:00Z"], // 01:59:40 CET, 03:00:00 CEST
            "{dst:?}"
        );
    }
}
