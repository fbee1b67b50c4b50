//! Reading a run's log as `kubectl logs` asks for it: `PodLogOptions` from a query string (as
//! kube-apiserver decodes and validates them, and as it passes them on to the kubelet), and
//! the CRI log lines rendered with `tailLines`, `sinceSeconds`/`sinceTime`, `timestamps` and
//! `limitBytes` as the kubelet's `ReadLogs` does.

use std::fmt::Write as _;

/// `PodLogOptions` (core/v1), the fields the process kubelet serves.
#[derive(Clone, Debug, Default, PartialEq)]
pub struct LogOptions {
    pub container: Option<String>,
    pub follow: bool,
    pub previous: bool,
    pub timestamps: bool,
    pub since_seconds: Option<i64>,
    pub since_time: Option<jiff::Timestamp>,
    pub tail_lines: Option<i64>,
    pub limit_bytes: Option<i64>,
    /// Only with the `PodLogsQuerySplitStreams` feature, which v1.32 leaves off: refused.
    pub stream: Option<String>,
}

/// One failed check of `ValidatePodLogOptions`, as kube-apiserver's field error.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct Problem {
    /// `tailLines`, or empty for the options as a whole.
    pub field: &'static str,
    /// `Invalid value: -1` or `Forbidden`.
    pub what: String,
    pub detail: &'static str,
}

/// Percent-decoding of one query component (`+` is a space), as Go's `url.ParseQuery`.
pub fn percent_decode(text: &str) -> String {
    let bytes = text.as_bytes();
    let mut out = Vec::with_capacity(bytes.len());
    let mut index = 0;
    while index < bytes.len() {
        let hex = (bytes[index] == b'%')
            .then(|| text.get(index + 1..index + 3))
            .flatten()
            .and_then(|hex| u8::from_str_radix(hex, 16).ok());
        match (bytes[index], hex) {
            (_, Some(byte)) => {
                out.push(byte);
                index += 3;
            }
            (b'+', None) => {
                out.push(b' ');
                index += 1;
            }
            (byte, None) => {
                out.push(byte);
                index += 1;
            }
        }
    }
    String::from_utf8_lossy(&out).into_owned()
}

fn percent_encode(text: &str) -> String {
    let mut out = String::with_capacity(text.len());
    for byte in text.bytes() {
        if byte.is_ascii_alphanumeric() || matches!(byte, b'-' | b'_' | b'.' | b'~') {
            out.push(char::from(byte));
        } else {
            let _ = write!(out, "%{byte:02X}");
        }
    }
    out
}

/// `2026-01-02T03:04:05.000000000Z`: Go's `RFC3339NanoFixed`, what log timestamps look like.
pub fn fixed_nanos(at: jiff::Timestamp) -> String {
    at.strftime("%Y-%m-%dT%H:%M:%S%.9fZ").to_string()
}

impl LogOptions {
    /// Decodes the options from a raw query string as kube-apiserver's parameter codec does:
    /// the first value of a name counts, a boolean is true unless `0` or `false`, unknown names
    /// are ignored. The error names the parameter and its value.
    pub fn from_query(query: &str) -> Result<LogOptions, String> {
        let mut options = LogOptions::default();
        let mut given = std::collections::HashSet::new();
        for pair in query.split('&').filter(|pair| !pair.is_empty()) {
            let (name, value) = pair.split_once('=').unwrap_or((pair, ""));
            let (name, value) = (percent_decode(name), percent_decode(value));
            if !given.insert(name.clone()) {
                continue;
            }
            let flag = || !(value == "0" || value.eq_ignore_ascii_case("false"));
            let number = || {
                value.parse::<i64>().map_err(|_| {
                    format!("{name}: strconv.ParseInt: parsing {value:?}: invalid syntax")
                })
            };
            match name.as_str() {
                "container" => options.container = Some(value.clone()),
                "follow" => options.follow = flag(),
                "previous" => options.previous = flag(),
                "timestamps" => options.timestamps = flag(),
                "sinceSeconds" => options.since_seconds = Some(number()?),
                "tailLines" => options.tail_lines = Some(number()?),
                "limitBytes" => options.limit_bytes = Some(number()?),
                "sinceTime" if !value.is_empty() => {
                    options.since_time = Some(value.parse().map_err(|_| {
                        format!("sinceTime: parsing time {value:?}: not an RFC 3339 time")
                    })?);
                }
                "stream" => options.stream = Some(value.clone()),
                _ => {}
            }
        }
        Ok(options)
    }

    /// `ValidatePodLogOptions` with split streams disabled (v1.32's default).
    pub fn problems(&self) -> Vec<Problem> {
        let mut problems = Vec::new();
        if let Some(lines) = self.tail_lines.filter(|lines| *lines < 0) {
            problems.push(Problem {
                field: "tailLines",
                what: format!("Invalid value: {lines}"),
                detail: "must be greater than or equal to 0",
            });
        }
        if let Some(bytes) = self.limit_bytes.filter(|bytes| *bytes < 1) {
            problems.push(Problem {
                field: "limitBytes",
                what: format!("Invalid value: {bytes}"),
                detail: "must be greater than 0",
            });
        }
        match (self.since_seconds, self.since_time) {
            (Some(_), Some(_)) => problems.push(Problem {
                field: "",
                what: "Forbidden".into(),
                detail: "at most one of `sinceTime` or `sinceSeconds` may be specified",
            }),
            (Some(seconds), None) if seconds < 1 => problems.push(Problem {
                field: "sinceSeconds",
                what: format!("Invalid value: {seconds}"),
                detail: "must be greater than 0",
            }),
            _ => {}
        }
        if self.stream.is_some() {
            problems.push(Problem {
                field: "stream",
                what: "Forbidden".into(),
                detail: "may not be specified",
            });
        }
        problems
    }

    /// The query kube-apiserver sends the kubelet (`LogLocation`: `url.Values.Encode`, keys
    /// in order; the container is in the path).
    pub fn to_query(&self) -> String {
        let mut pairs: Vec<(&str, String)> = Vec::new();
        if self.follow {
            pairs.push(("follow", "true".into()));
        }
        if let Some(bytes) = self.limit_bytes {
            pairs.push(("limitBytes", bytes.to_string()));
        }
        if self.previous {
            pairs.push(("previous", "true".into()));
        }
        if let Some(seconds) = self.since_seconds {
            pairs.push(("sinceSeconds", seconds.to_string()));
        }
        if let Some(time) = self.since_time {
            pairs.push(("sinceTime", time.strftime("%Y-%m-%dT%H:%M:%SZ").to_string()));
        }
        if let Some(lines) = self.tail_lines {
            pairs.push(("tailLines", lines.to_string()));
        }
        if self.timestamps {
            pairs.push(("timestamps", "true".into()));
        }
        pairs
            .iter()
            .map(|(name, value)| format!("{name}={}", percent_encode(value)))
            .collect::<Vec<_>>()
            .join("&")
    }
}

/// One line of a CRI log file: `<RFC 3339 time> <stdout|stderr> <F|P> <content>`.
pub struct CriLine<'a> {
    pub at: jiff::Timestamp,
    /// `P`: a part of a longer line, whose content continues in the next one.
    pub partial: bool,
    pub content: &'a [u8],
}

/// Parses a CRI log line (without its newline); `None` for anything else.
pub fn parse_cri(line: &[u8]) -> Option<CriLine<'_>> {
    let mut fields = line.splitn(4, |byte| *byte == b' ');
    let at = std::str::from_utf8(fields.next()?).ok()?.parse().ok()?;
    let stream = fields.next()?;
    if stream != b"stdout" && stream != b"stderr" {
        return None;
    }
    let partial = match fields.next()? {
        b"P" => true,
        b"F" => false,
        _ => return None,
    };
    Some(CriLine {
        at,
        partial,
        content: fields.next().unwrap_or_default(),
    })
}

/// Where the last `lines` lines of `content` start (all of it when it has fewer).
pub fn tail_start(content: &[u8], lines: u64) -> usize {
    if lines == 0 {
        return content.len();
    }
    // A final newline ends the last line rather than starting another.
    let body = content.strip_suffix(b"\n").unwrap_or(content);
    let mut seen = 0u64;
    for (at, byte) in body.iter().enumerate().rev() {
        if *byte == b'\n' {
            seen += 1;
            if seen == lines {
                return at + 1;
            }
        }
    }
    0
}

/// Renders CRI lines as the container printed them, with the options' filters.
pub struct Render {
    timestamps: bool,
    since: Option<jiff::Timestamp>,
    /// Bytes still allowed by `limitBytes`.
    remaining: Option<u64>,
    /// The previous line was partial: this one continues it (no timestamp prefix).
    continues: bool,
}

impl Render {
    pub fn new(options: &LogOptions, now: jiff::Timestamp) -> Render {
        let since = match (options.since_time, options.since_seconds) {
            (Some(time), _) => Some(time),
            (None, Some(seconds)) => now
                .checked_sub(jiff::SignedDuration::from_secs(seconds))
                .ok(),
            (None, None) => None,
        };
        Render {
            timestamps: options.timestamps,
            since,
            remaining: options
                .limit_bytes
                .map(|bytes| u64::try_from(bytes).unwrap_or(0)),
            continues: false,
        }
    }

    /// Whether `limitBytes` has been reached: nothing more is written.
    pub fn full(&self) -> bool {
        self.remaining == Some(0)
    }

    /// Appends the complete lines of `chunk` to `out`; returns how many bytes of `chunk` were
    /// used (an unfinished last line is left for later).
    pub fn lines(&mut self, chunk: &[u8], out: &mut Vec<u8>) -> usize {
        let mut used = 0;
        while let Some(end) = chunk[used..].iter().position(|byte| *byte == b'\n') {
            self.line(&chunk[used..used + end], out);
            used += end + 1;
        }
        used
    }

    /// Appends one CRI line (without its newline) as the container wrote it.
    pub fn line(&mut self, line: &[u8], out: &mut Vec<u8>) {
        let Some(parsed) = parse_cri(line) else {
            return;
        };
        let continues = std::mem::replace(&mut self.continues, parsed.partial);
        if self.full() || self.since.is_some_and(|since| parsed.at < since) {
            return;
        }
        let mut text = Vec::with_capacity(parsed.content.len() + 32);
        if self.timestamps && !continues {
            text.extend_from_slice(fixed_nanos(parsed.at).as_bytes());
            text.push(b' ');
        }
        text.extend_from_slice(parsed.content);
        if !parsed.partial {
            text.push(b'\n');
        }
        if let Some(remaining) = self.remaining.as_mut() {
            let allowed = usize::try_from(*remaining).unwrap_or(usize::MAX);
            text.truncate(allowed);
            *remaining -= text.len() as u64;
        }
        out.extend_from_slice(&text);
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    const LOG: &str = "2026-01-02T03:04:05.000000001Z stdout F one\n\
        2026-01-02T03:04:06.000000000Z stderr F two\n\
        2026-01-02T03:04:07.000000000Z stdout P thr\n\
        2026-01-02T03:04:07.500000000Z stdout F ee\n\
        2026-01-02T03:04:08.000000000Z stdout F four\n";

    fn render(options: &LogOptions, content: &str) -> String {
        let now: jiff::Timestamp = "2026-01-02T03:04:10Z".parse().unwrap();
        let mut render = Render::new(options, now);
        let mut out = Vec::new();
        let used = render.lines(content.as_bytes(), &mut out);
        assert_eq!(used, content.len());
        String::from_utf8(out).unwrap()
    }

    #[test]
    fn lines_come_back_as_the_container_printed_them() {
        let options = LogOptions::default();
        assert_eq!(render(&options, LOG), "one\ntwo\nthree\nfour\n");
        let timestamps = LogOptions {
            timestamps: true,
            ..LogOptions::default()
        };
        assert_eq!(
            render(&timestamps, LOG).lines().nth(2),
            Some("2026-01-02T03:04:07.000000000Z three"),
            "a line split in parts has one timestamp"
        );
    }

    #[test]
    fn tail_since_and_limit_filter_as_the_kubelet_does() {
        let start = tail_start(LOG.as_bytes(), 2);
        assert_eq!(render(&LogOptions::default(), &LOG[start..]), "ee\nfour\n");
        assert_eq!(tail_start(LOG.as_bytes(), 0), LOG.len());
        assert_eq!(tail_start(LOG.as_bytes(), 99), 0);
        let since = LogOptions {
            since_seconds: Some(3),
            ..LogOptions::default()
        };
        assert_eq!(render(&since, LOG), "three\nfour\n");
        let since_time = LogOptions {
            since_time: Some("2026-01-02T03:04:06Z".parse().unwrap()),
            ..LogOptions::default()
        };
        assert_eq!(render(&since_time, LOG), "two\nthree\nfour\n");
        let limited = LogOptions {
            limit_bytes: Some(6),
            ..LogOptions::default()
        };
        assert_eq!(render(&limited, LOG), "one\ntw");
    }

    #[test]
    fn an_unfinished_line_waits_for_its_end() {
        let mut render = Render::new(&LogOptions::default(), jiff::Timestamp::now());
        let mut out = Vec::new();
        let chunk = b"2026-01-02T03:04:05Z stdout F a\n2026-01-02T03:04:05Z std";
        assert_eq!(render.lines(chunk, &mut out), 32);
        assert_eq!(out, b"a\n");
    }

    #[test]
    fn options_are_decoded_validated_and_passed_on_as_kube_apiserver_does() {
        let options = LogOptions::from_query(
            "container=web&follow=1&previous=false&tailLines=10&sinceTime=2026-01-02T03%3A04%3A05Z&timestamps&unknown=x",
        )
        .unwrap();
        assert_eq!(options.container.as_deref(), Some("web"));
        assert!(options.follow && !options.previous && options.timestamps);
        assert_eq!(options.tail_lines, Some(10));
        assert!(options.problems().is_empty());
        assert_eq!(
            options.to_query(),
            "follow=true&sinceTime=2026-01-02T03%3A04%3A05Z&tailLines=10&timestamps=true"
        );
        let error = LogOptions::from_query("tailLines=ten").unwrap_err();
        assert_eq!(
            error,
            "tailLines: strconv.ParseInt: parsing \"ten\": invalid syntax"
        );
        let bad = LogOptions::from_query(
            "tailLines=-1&limitBytes=0&sinceSeconds=5&sinceTime=2026-01-02T03:04:05Z&stream=All",
        )
        .unwrap();
        let problems: Vec<(&str, String)> = bad
            .problems()
            .into_iter()
            .map(|p| (p.field, format!("{}: {}", p.what, p.detail)))
            .collect();
        assert_eq!(
            problems,
            [
                (
                    "tailLines",
                    "Invalid value: -1: must be greater than or equal to 0".to_string()
                ),
                (
                    "limitBytes",
                    "Invalid value: 0: must be greater than 0".to_string()
                ),
                (
                    "",
                    "Forbidden: at most one of `sinceTime` or `sinceSeconds` may be specified"
                        .to_string()
                ),
                ("stream", "Forbidden: may not be specified".to_string()),
            ]
        );
    }
}
