//! How the journal names things that every layer shows: a slot's trial id and the
//! timestamp written with each event. Writers (the coordinator) and readers (inspect,
//! report, the CLI) use these two functions, so the forms are declared once.

/// The trial id of a schedule slot: `trial_` and the index, six digits at least
/// (`trial_000042`); stable across sessions and concurrency levels.
pub fn trial_id_of(schedule_idx: u64) -> String {
    format!("trial_{schedule_idx:06}")
}

/// Milliseconds since the Unix epoch as RFC 3339 UTC with milliseconds
/// (`2026-11-28T07:04:05.123Z`), the form of every event's `ts`.
pub fn format_ts(ms: i64) -> String {
    let secs = ms.div_euclid(1000);
    let millis = ms.rem_euclid(1000);
    let days = secs.div_euclid(86_400);
    let rem = secs.rem_euclid(86_400);
    let (h, m, s) = (rem / 3600, (rem % 3600) / 60, rem % 60);
    // Civil-from-days (Howard Hinnant's algorithm).
    let z = days + 719_468;
    let era = z.div_euclid(146_097);
    let doe = z.rem_euclid(146_097);
    let yoe = (doe - doe / 1460 + doe / 36_524 - doe / 146_096) / 365;
    let y = yoe + era * 400;
    let doy = doe - (365 * yoe + yoe / 4 - yoe / 100);
    let mp = (5 * doy + 2) / 153;
    let d = doy - (153 * mp + 2) / 5 + 1;
    let mo = if mp < 10 { mp + 3 } else { mp - 9 };
    let y = if mo <= 2 { y + 1 } else { y };
    format!("{y:04}-{mo:02}-{d:02}T{h:02}:{m:02}:{s:02}.{millis:03}Z")
}

#[cfg(test)]
mod tests {
    #[test]
    fn timestamps_are_rfc3339_utc() {
        assert_eq!(super::format_ts(0), "1970-01-01T00:00:00.000Z");
        assert_eq!(
            super::format_ts(1_795_849_445_123),
            "2026-11-28T07:04:05.123Z"
        );
        assert_eq!(
            super::format_ts(951_782_400_000),
            "2000-02-29T00:00:00.000Z"
        );
    }

    #[test]
    fn trial_ids_are_the_padded_index() {
        assert_eq!(super::trial_id_of(42), "trial_000042");
        assert_eq!(super::trial_id_of(1_234_567), "trial_1234567");
    }
}
