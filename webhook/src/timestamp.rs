//! RFC 3339 timestamps parsed the way Go's `time.Parse(time.RFC3339, s)` parses them, because
//! policies written for Calico use that leniency (its own example is `2022-01-02T0:00:00Z`,
//! with a one-digit hour). Strict RFC 3339 parsers reject such policies.
//!
//! Accepted, as in Go: `YYYY-MM-DDTH[H]:MM:SS[(.|,)digits](Z|±HH:MM)`, where more than nine
//! fractional digits are truncated and zone offsets up to ±24:60 are tolerated.

use jiff::Timestamp;
use jiff::civil::{Date, DateTime, Time};
use jiff::tz::Offset;

#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
#[error("invalid RFC 3339 timestamp {text:?}: {reason}")]
pub struct TimestampError {
    pub text: String,
    pub reason: String,
}

/// Parses what Go's `time.Parse(time.RFC3339, text)` accepts.
pub fn parse_rfc3339(text: &str) -> Result<Timestamp, TimestampError> {
    parse(text).map_err(|reason| TimestampError {
        text: text.to_string(),
        reason,
    })
}

/// `2026-11-25T10:00:00Z`: UTC, with a fractional part only when it is not zero (trailing
/// zeros trimmed, like Go's `RFC3339Nano`).
pub fn format_rfc3339(timestamp: Timestamp) -> String {
    timestamp.strftime("%Y-%m-%dT%H:%M:%S%.fZ").to_string()
}

/// serde `deserialize_with` helper: a string parsed with [`parse_rfc3339`].
pub fn deserialize<'de, D: serde::Deserializer<'de>>(
    deserializer: D,
) -> Result<Timestamp, D::Error> {
    let text = <String as serde::Deserialize>::deserialize(deserializer)?;
    parse_rfc3339(&text).map_err(serde::de::Error::custom)
}

/// serde `deserialize_with` helper for optional timestamps (`null` or absent → `None`; pair it
/// with `#[serde(default)]`).
pub fn deserialize_option<'de, D: serde::Deserializer<'de>>(
    deserializer: D,
) -> Result<Option<Timestamp>, D::Error> {
    let text = <Option<String> as serde::Deserialize>::deserialize(deserializer)?;
    text.map(|text| parse_rfc3339(&text).map_err(serde::de::Error::custom))
        .transpose()
}

struct Cursor<'a> {
    bytes: &'a [u8],
    position: usize,
}

impl Cursor<'_> {
    fn peek(&self) -> Option<u8> {
        self.bytes.get(self.position).copied()
    }

    fn peek_is_digit(&self, ahead: usize) -> bool {
        self.bytes
            .get(self.position + ahead)
            .is_some_and(u8::is_ascii_digit)
    }

    /// Between `min` and `max` digits (greedy), as a number.
    fn number(&mut self, min: usize, max: usize) -> Option<u32> {
        let mut value = 0u32;
        let mut count = 0;
        while count < max && self.peek_is_digit(0) {
            value = value * 10 + u32::from(self.bytes[self.position] - b'0');
            self.position += 1;
            count += 1;
        }
        (count >= min).then_some(value)
    }

    fn literal(&mut self, byte: u8) -> bool {
        let matches = self.peek() == Some(byte);
        if matches {
            self.position += 1;
        }
        matches
    }

    fn at_end(&self) -> bool {
        self.position == self.bytes.len()
    }
}

fn parse(text: &str) -> Result<Timestamp, String> {
    let mut cursor = Cursor {
        bytes: text.as_bytes(),
        position: 0,
    };
    let require = |ok: bool, what: &str| {
        if ok {
            Ok(())
        } else {
            Err(format!("expected {what}"))
        }
    };

    let year = cursor.number(4, 4).ok_or("expected a 4-digit year")?;
    require(cursor.literal(b'-'), "`-` after the year")?;
    let month = cursor.number(2, 2).ok_or("expected a 2-digit month")?;
    require(cursor.literal(b'-'), "`-` after the month")?;
    let day = cursor.number(2, 2).ok_or("expected a 2-digit day")?;
    if cursor.at_end() {
        return Err("a date without a time (expected `T` and a time after the date)".into());
    }
    require(
        cursor.literal(b'T'),
        "an uppercase `T` between the date and the time",
    )?;
    // Go's layout hour `15` accepts one or two digits.
    let hour = cursor.number(1, 2).ok_or("expected a 1- or 2-digit hour")?;
    require(cursor.literal(b':'), "`:` after the hour")?;
    let minute = cursor.number(2, 2).ok_or("expected a 2-digit minute")?;
    require(cursor.literal(b':'), "`:` after the minute")?;
    let second = cursor.number(2, 2).ok_or("expected a 2-digit second")?;
    let nanosecond = fraction(&mut cursor);
    let offset_seconds = zone(&mut cursor)?;
    if !cursor.at_end() {
        return Err("unexpected text after the time zone".into());
    }

    if !(1..=12).contains(&month) {
        return Err(format!("month {month} is out of range"));
    }
    if hour >= 24 {
        return Err(format!("hour {hour} is out of range"));
    }
    if minute >= 60 {
        return Err(format!("minute {minute} is out of range"));
    }
    // Go has no leap seconds: second 60 is out of range.
    if second >= 60 {
        return Err(format!("second {second} is out of range"));
    }
    // The casts are lossless: the year has 4 digits, the other fields 2.
    let first_of_month =
        Date::new(year as i16, month as i8, 1).map_err(|error| error.to_string())?;
    if day < 1 || day > first_of_month.days_in_month() as u32 {
        return Err(format!(
            "day {day} is out of range for {year:04}-{month:02}"
        ));
    }
    let date = Date::new(year as i16, month as i8, day as i8).map_err(|error| error.to_string())?;
    let time = Time::new(hour as i8, minute as i8, second as i8, nanosecond)
        .map_err(|error| error.to_string())?;
    let offset = Offset::from_seconds(offset_seconds).map_err(|error| error.to_string())?;
    offset
        .to_timestamp(DateTime::from_parts(date, time))
        .map_err(|_| "the instant is outside the supported range (years -9999 to 9999)".into())
}

/// Optional `.digits` or `,digits` (Go accepts either), truncated to nanoseconds.
fn fraction(cursor: &mut Cursor<'_>) -> i32 {
    let has_fraction = matches!(cursor.peek(), Some(b'.' | b',')) && cursor.peek_is_digit(1);
    if !has_fraction {
        return 0;
    }
    cursor.position += 1;
    let mut nanosecond = 0i32;
    let mut digits = 0;
    while cursor.peek_is_digit(0) {
        if digits < 9 {
            nanosecond = nanosecond * 10 + i32::from(cursor.bytes[cursor.position] - b'0');
            digits += 1;
        }
        cursor.position += 1;
    }
    for _ in digits..9 {
        nanosecond *= 10;
    }
    nanosecond
}

/// `Z` or `±HH:MM`, as seconds east of UTC. Go tolerates hours up to 24 and minutes up to 60.
fn zone(cursor: &mut Cursor<'_>) -> Result<i32, String> {
    if cursor.literal(b'Z') {
        return Ok(0);
    }
    let sign = match cursor.peek() {
        Some(b'+') => 1,
        Some(b'-') => -1,
        None => return Err("missing time zone (expected `Z` or an offset such as +02:00)".into()),
        Some(_) => {
            return Err("expected fractional seconds, `Z` or an offset such as +02:00".into());
        }
    };
    cursor.position += 1;
    let bad_offset = || "expected a zone offset of the form ±HH:MM".to_string();
    let hours = cursor.number(2, 2).ok_or_else(bad_offset)?;
    if !cursor.literal(b':') {
        return Err(bad_offset());
    }
    let minutes = cursor.number(2, 2).ok_or_else(bad_offset)?;
    if hours > 24 {
        return Err(format!("zone offset hour {hours} is out of range"));
    }
    if minutes > 60 {
        return Err(format!("zone offset minute {minutes} is out of range"));
    }
    // At most 24 × 3600 + 60 × 60 seconds, far inside i32.
    Ok(sign * (hours as i32 * 3600 + minutes as i32 * 60))
}

#[cfg(test)]
mod tests {
    use super::*;
    use proptest::prelude::*;

    fn parsed(text: &str) -> String {
        match parse_rfc3339(text) {
            Ok(timestamp) => format_rfc3339(timestamp),
            Err(error) => panic!("{error}"),
        }
    }

    fn reason(text: &str) -> String {
        match parse_rfc3339(text) {
            Ok(timestamp) => panic!("{text:?} parsed as {timestamp}"),
            Err(error) => {
                assert_eq!(error.text, text);
                error.reason
            }
        }
    }

    #[test]
    fn accepts_a_plain_utc_timestamp() {
        assert_eq!(parsed("2026-11-25T10:00:00Z"), "2026-11-25T10:00:00Z");
    }

    #[test]
    fn accepts_a_one_digit_hour_as_in_calicos_example() {
        assert_eq!(parsed("2022-01-02T0:00:00Z"), "2022-01-02T00:00:00Z");
        assert_eq!(parsed("2022-01-02T9:30:00Z"), "2022-01-02T09:30:00Z");
    }

    #[test]
    fn accepts_fractional_seconds() {
        assert_eq!(parsed("2022-01-02T00:00:00.5Z"), "2022-01-02T00:00:00.5Z");
        assert_eq!(
            parsed("2022-01-02T00:00:00.123456789Z"),
            "2022-01-02T00:00:00.123456789Z"
        );
    }

    #[test]
    fn truncates_fractional_seconds_beyond_nanoseconds_like_go() {
        assert_eq!(
            parsed("2022-01-02T00:00:00.1234567899Z"),
            "2022-01-02T00:00:00.123456789Z"
        );
    }

    #[test]
    fn accepts_a_comma_before_fractional_seconds_like_go() {
        assert_eq!(parsed("2022-01-02T00:00:00,25Z"), "2022-01-02T00:00:00.25Z");
    }

    #[test]
    fn accepts_numeric_offsets_and_converts_to_utc() {
        assert_eq!(parsed("2022-01-02T02:00:00+02:00"), "2022-01-02T00:00:00Z");
        assert_eq!(parsed("2022-01-01T19:30:00-04:30"), "2022-01-02T00:00:00Z");
        assert_eq!(parsed("2022-01-02T00:00:00-00:00"), "2022-01-02T00:00:00Z");
    }

    #[test]
    fn tolerates_offsets_up_to_24_60_like_go() {
        assert_eq!(parsed("2022-01-02T00:00:00+24:60"), "2021-12-31T23:00:00Z");
        assert!(reason("2022-01-02T00:00:00+25:00").contains("offset hour 25"));
        assert!(reason("2022-01-02T00:00:00+01:61").contains("offset minute 61"));
    }

    #[test]
    fn accepts_leap_day_in_a_leap_year() {
        assert_eq!(parsed("2024-02-29T12:00:00Z"), "2024-02-29T12:00:00Z");
    }

    #[test]
    fn rejects_a_space_instead_of_t() {
        assert!(reason("2022-01-02 00:00:00Z").contains("uppercase `T`"));
    }

    #[test]
    fn rejects_a_lowercase_t() {
        assert!(reason("2022-01-02t00:00:00Z").contains("uppercase `T`"));
    }

    #[test]
    fn rejects_a_lowercase_z() {
        assert!(reason("2022-01-02T00:00:00z").contains("`Z`"));
    }

    #[test]
    fn rejects_a_bare_date() {
        assert!(reason("2022-01-02").contains("date without a time"));
    }

    #[test]
    fn rejects_a_missing_zone() {
        assert!(reason("2022-01-02T00:00:00").contains("missing time zone"));
    }

    #[test]
    fn rejects_a_dot_without_digits() {
        assert!(reason("2022-01-02T00:00:00.Z").contains("expected fractional seconds"));
    }

    #[test]
    fn rejects_offsets_without_colon_or_with_one_digit() {
        assert!(reason("2022-01-02T00:00:00+0200").contains("±HH:MM"));
        assert!(reason("2022-01-02T00:00:00+2:00").contains("±HH:MM"));
        assert!(reason("2022-01-02T00:00:00+02").contains("±HH:MM"));
    }

    #[test]
    fn rejects_trailing_text() {
        assert!(reason("2022-01-02T00:00:00Zjunk").contains("unexpected text"));
        assert!(reason("2022-01-02T00:00:00Z ").contains("unexpected text"));
    }

    #[test]
    fn rejects_short_fields() {
        assert!(reason("22-01-02T00:00:00Z").contains("4-digit year"));
        assert!(reason("2022-1-02T00:00:00Z").contains("2-digit month"));
        assert!(reason("2022-01-2T00:00:00Z").contains("2-digit day"));
        assert!(reason("2022-01-02T00:0:00Z").contains("2-digit minute"));
        assert!(reason("2022-01-02T00:00:0Z").contains("2-digit second"));
        assert!(reason("2022-01-02T000:00:00Z").contains("`:` after the hour"));
        assert!(reason("2022-01-02T:00:00Z").contains("hour"));
    }

    #[test]
    fn rejects_out_of_range_fields() {
        assert!(reason("2022-13-01T00:00:00Z").contains("month 13"));
        assert!(reason("2022-00-01T00:00:00Z").contains("month 0"));
        assert!(reason("2022-01-32T00:00:00Z").contains("day 32"));
        assert!(reason("2022-01-00T00:00:00Z").contains("day 0"));
        assert!(reason("2023-02-29T00:00:00Z").contains("day 29"));
        assert!(reason("2024-02-30T00:00:00Z").contains("day 30"));
        assert!(reason("2022-01-02T24:00:00Z").contains("hour 24"));
        assert!(reason("2022-01-02T00:60:00Z").contains("minute 60"));
        assert!(reason("2022-01-02T00:00:60Z").contains("second 60"));
    }

    #[test]
    fn rejects_instants_beyond_the_supported_range() {
        assert!(reason("9999-12-31T23:00:00-24:00").contains("supported range"));
    }

    #[test]
    fn accepts_year_zero() {
        assert_eq!(parsed("0000-01-01T00:00:00Z"), "0000-01-01T00:00:00Z");
    }

    #[test]
    fn rejects_empty_and_non_ascii_text() {
        assert!(reason("").contains("4-digit year"));
        assert!(reason("２０２２-01-02T00:00:00Z").contains("4-digit year"));
    }

    #[test]
    fn error_display_names_the_text_and_reason() {
        let error = parse_rfc3339("yesterday").unwrap_err();
        assert_eq!(
            error.to_string(),
            "invalid RFC 3339 timestamp \"yesterday\": expected a 4-digit year"
        );
    }

    #[test]
    fn serde_helpers_parse_leniently_and_report_errors() {
        #[derive(serde::Deserialize, Debug)]
        struct Record {
            #[serde(deserialize_with = "deserialize")]
            at: Timestamp,
            #[serde(default, deserialize_with = "deserialize_option")]
            last: Option<Timestamp>,
        }
        let record: Record = serde_json::from_str(r#"{"at": "2022-01-02T0:00:00Z"}"#).unwrap();
        assert_eq!(format_rfc3339(record.at), "2022-01-02T00:00:00Z");
        assert_eq!(record.last, None);
        let record: Record =
            serde_json::from_str(r#"{"at": "2022-01-02T0:00:00Z", "last": null}"#).unwrap();
        assert_eq!(record.last, None);
        let error = serde_json::from_str::<Record>(r#"{"at": "2022-01-02"}"#).unwrap_err();
        assert!(error.to_string().contains("date without a time"), "{error}");
    }

    proptest! {
        #[test]
        fn arbitrary_text_never_panics(text in any::<String>()) {
            let _ = parse_rfc3339(&text);
        }

        #[test]
        fn near_miss_text_never_panics(text in "[0-9]{4}-[0-9]{2}-[0-9]{2}[Tt ][0-9]{1,3}:[0-9]{2}:[0-9]{2}([.,][0-9]{0,12})?(Z|z|[+-][0-9]{2}:[0-9]{2})?") {
            let _ = parse_rfc3339(&text);
        }

        #[test]
        fn formatted_timestamps_parse_back_to_the_same_instant(
            seconds in 0i64..253_402_300_799, nanos in 0i32..1_000_000_000
        ) {
            let timestamp = Timestamp::new(seconds, nanos).unwrap();
            prop_assert_eq!(parse_rfc3339(&format_rfc3339(timestamp)).unwrap(), timestamp);
        }
    }
}
