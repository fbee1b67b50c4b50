//! Five-field cron schedules as CronJobs use them (robfig/cron's standard parser): minute,
//! hour, day of month, month, day of week; `*`/`?`, lists, ranges, steps, month and weekday
//! names, and the `@yearly`..`@hourly` descriptors. Day of month and day of week combine as in
//! cron: if either is `*`, both must match; otherwise either may.

use jiff::civil::DateTime;
use jiff::tz::TimeZone;
use jiff::{Timestamp, ToSpan};

#[derive(Clone, Debug, PartialEq, Eq)]
pub struct Schedule {
    minutes: u64,
    hours: u64,
    days: u64,
    months: u64,
    weekdays: u64,
    /// Whether day of month / day of week was `*` (or `?`).
    days_star: bool,
    weekdays_star: bool,
}

const MONTHS: [&str; 12] = [
    "jan", "feb", "mar", "apr", "may", "jun", "jul", "aug", "sep", "oct", "nov", "dec",
];
const WEEKDAYS: [&str; 7] = ["sun", "mon", "tue", "wed", "thu", "fri", "sat"];

impl Schedule {
    pub fn parse(text: &str) -> Result<Schedule, String> {
        let text = text.trim();
        let expanded = match text {
            "@yearly" | "@annually" => "0 0 1 1 *",
            "@monthly" => "0 0 1 * *",
            "@weekly" => "0 0 * * 0",
            "@daily" | "@midnight" => "0 0 * * *",
            "@hourly" => "0 * * * *",
            other if other.starts_with('@') => {
                return Err(format!("unrecognized descriptor: {other}"));
            }
            other => other,
        };
        let fields: Vec<&str> = expanded.split_whitespace().collect();
        if fields.len() != 5 {
            return Err(format!(
                "expected exactly 5 fields, found {}: {text}",
                fields.len()
            ));
        }
        let (minutes, _) = field(fields[0], 0, 59, &[])?;
        let (hours, _) = field(fields[1], 0, 23, &[])?;
        let (days, days_star) = field(fields[2], 1, 31, &[])?;
        let (months, _) = field(fields[3], 1, 12, &MONTHS)?;
        let (mut weekdays, weekdays_star) = field(fields[4], 0, 7, &WEEKDAYS)?;
        // 7 is Sunday too.
        if weekdays & (1 << 7) != 0 {
            weekdays = (weekdays | 1) & !(1 << 7);
        }
        Ok(Schedule {
            minutes,
            hours,
            days,
            months,
            weekdays,
            days_star,
            weekdays_star,
        })
    }

    fn day_matches(&self, time: DateTime) -> bool {
        let day = self.days & (1 << time.day()) != 0;
        let weekday = self.weekdays & (1 << time.weekday().to_sunday_zero_offset()) != 0;
        if self.days_star || self.weekdays_star {
            day && weekday
        } else {
            day || weekday
        }
    }

    /// The first scheduled time strictly after `after`, in `zone`; `None` if there is none
    /// within five years (e.g. February 30th).
    pub fn next_after(&self, after: Timestamp, zone: &TimeZone) -> Option<Timestamp> {
        let start = zone.to_datetime(after);
        // The next whole minute.
        let mut time = start
            .with()
            .second(0)
            .subsec_nanosecond(0)
            .build()
            .ok()?
            .checked_add(1.minute())
            .ok()?;
        let limit = start.checked_add(5.years()).ok()?;
        while time < limit {
            if self.months & (1 << time.month()) == 0 {
                time = time
                    .first_of_month()
                    .checked_add(1.month())
                    .ok()?
                    .start_of_day();
                continue;
            }
            if !self.day_matches(time) {
                time = time.start_of_day().checked_add(1.day()).ok()?;
                continue;
            }
            if self.hours & (1 << time.hour()) == 0 {
                time = time
                    .with()
                    .minute(0)
                    .build()
                    .ok()?
                    .checked_add(1.hour())
                    .ok()?;
                continue;
            }
            if self.minutes & (1 << time.minute()) == 0 {
                time = time.checked_add(1.minute()).ok()?;
                continue;
            }
            let instant = zone.to_ambiguous_timestamp(time).compatible().ok()?;
            if instant > after {
                return Some(instant);
            }
            time = time.checked_add(1.minute()).ok()?;
        }
        None
    }

    /// The latest scheduled time in `(earliest, now]` and how many were missed before it
    /// (counting stops at `cap`).
    pub fn most_recent(
        &self,
        earliest: Timestamp,
        now: Timestamp,
        zone: &TimeZone,
        cap: usize,
    ) -> (Option<Timestamp>, usize) {
        let mut latest = None;
        let mut count = 0;
        let mut from = earliest;
        while let Some(next) = self.next_after(from, zone) {
            if next > now {
                break;
            }
            latest = Some(next);
            count += 1;
            from = next;
            if count >= cap {
                // Skip ahead: only the most recent time matters past the cap.
                from = from.max(now.checked_sub(24.hours()).unwrap_or(now));
            }
        }
        (latest, count.saturating_sub(1))
    }
}

/// One field as a bit set, and whether it was `*`.
fn field(text: &str, min: u32, max: u32, names: &[&str]) -> Result<(u64, bool), String> {
    let mut bits = 0u64;
    let mut star = false;
    for part in text.split(',') {
        let (range, step) = match part.split_once('/') {
            Some((range, step)) => {
                let step: u32 = step
                    .parse()
                    .map_err(|_| format!("invalid step {step:?} in {text:?}"))?;
                if step == 0 {
                    return Err(format!("step of zero in {text:?}"));
                }
                (range, Some(step))
            }
            None => (part, None),
        };
        let (low, high) = if range == "*" || range == "?" {
            if step.is_none() {
                star = true;
            }
            (min, max)
        } else if let Some((low, high)) = range.split_once('-') {
            (value(low, names, min)?, value(high, names, min)?)
        } else {
            let low = value(range, names, min)?;
            // `a/n` runs from a to the maximum.
            (low, if step.is_some() { max } else { low })
        };
        if low < min || high > max || low > high {
            return Err(format!("{range:?} is out of range {min}-{max} in {text:?}"));
        }
        let step = step.unwrap_or(1);
        let mut at = low;
        while at <= high {
            bits |= 1 << at;
            at += step;
        }
    }
    Ok((bits, star))
}

fn value(text: &str, names: &[&str], min: u32) -> Result<u32, String> {
    let lower = text.to_ascii_lowercase();
    if let Some(index) = names.iter().position(|name| *name == lower) {
        return Ok(u32::try_from(index).unwrap_or(0) + min);
    }
    text.parse().map_err(|_| format!("invalid value {text:?}"))
}

#[cfg(test)]
mod tests {
    use super::*;

    fn at(text: &str) -> Timestamp {
        text.parse().unwrap()
    }

    fn next(schedule: &str, after: &str) -> String {
        Schedule::parse(schedule)
            .unwrap()
            .next_after(at(after), &TimeZone::UTC)
            .unwrap()
            .to_string()
    }

    #[test]
    fn fields_ranges_lists_steps_and_names() {
        assert_eq!(
            next("* * * * *", "2026-01-01T00:00:00Z"),
            "2026-01-01T00:01:00Z"
        );
        assert_eq!(
            next("* * * * *", "2026-01-01T00:00:30Z"),
            "2026-01-01T00:01:00Z"
        );
        assert_eq!(
            next("*/15 * * * *", "2026-01-01T00:01:00Z"),
            "2026-01-01T00:15:00Z"
        );
        assert_eq!(
            next("5,10 * * * *", "2026-01-01T00:05:00Z"),
            "2026-01-01T00:10:00Z"
        );
        assert_eq!(
            next("0 9-17/4 * * *", "2026-01-01T10:00:00Z"),
            "2026-01-01T13:00:00Z"
        );
        assert_eq!(
            next("30 2 * FEB *", "2026-01-01T00:00:00Z"),
            "2026-02-01T02:30:00Z"
        );
        assert_eq!(
            next("0 0 * * MON", "2026-01-01T00:00:00Z"),
            "2026-01-05T00:00:00Z"
        );
        assert_eq!(
            next("0 0 * * 7", "2026-01-01T00:00:00Z"),
            "2026-01-04T00:00:00Z"
        );
        assert_eq!(
            next("10/20 * * * *", "2026-01-01T00:11:00Z"),
            "2026-01-01T00:30:00Z"
        );
        assert_eq!(
            next("@hourly", "2026-01-01T00:00:00Z"),
            "2026-01-01T01:00:00Z"
        );
        assert_eq!(
            next("@yearly", "2026-03-01T00:00:00Z"),
            "2027-01-01T00:00:00Z"
        );
        // Day of month OR day of week when both are restricted; AND when one is `*`.
        assert_eq!(
            next("0 0 13 * FRI", "2026-01-01T00:00:00Z"),
            "2026-01-02T00:00:00Z"
        );
        assert_eq!(
            next("0 0 * * FRI", "2026-01-01T00:00:00Z"),
            "2026-01-02T00:00:00Z"
        );
        assert_eq!(
            next("0 0 29 2 *", "2026-01-01T00:00:00Z"),
            "2028-02-29T00:00:00Z"
        );
    }

    #[test]
    fn malformed_schedules_are_errors() {
        for bad in [
            "* * * *",
            "60 * * * *",
            "* * 0 * *",
            "*/0 * * * *",
            "a * * * *",
            "5-1 * * * *",
            "@every 1h",
            "* * * 13 *",
        ] {
            assert!(Schedule::parse(bad).is_err(), "{bad}");
        }
        assert!(
            Schedule::parse("0 0 30 2 *")
                .unwrap()
                .next_after(at("2026-01-01T00:00:00Z"), &TimeZone::UTC)
                .is_none()
        );
    }

    #[test]
    fn time_zones_shift_the_schedule() {
        let zone = TimeZone::get("Europe/Berlin").unwrap();
        let schedule = Schedule::parse("0 9 * * *").unwrap();
        assert_eq!(
            schedule
                .next_after(at("2026-01-01T00:00:00Z"), &zone)
                .unwrap()
                .to_string(),
            "2026-01-01T08:00:00Z"
        );
    }

    #[test]
    fn the_most_recent_missed_time_is_found() {
        let schedule = Schedule::parse("*/10 * * * *").unwrap();
        let (latest, missed) = schedule.most_recent(
            at("2026-01-01T00:00:00Z"),
            at("2026-01-01T00:35:00Z"),
            &TimeZone::UTC,
            100,
        );
        assert_eq!(latest.unwrap().to_string(), "2026-01-01T00:30:00Z");
        assert_eq!(missed, 2);
        let (none, _) = schedule.most_recent(
            at("2026-01-01T00:00:00Z"),
            at("2026-01-01T00:05:00Z"),
            &TimeZone::UTC,
            100,
        );
        assert!(none.is_none());
    }
}
