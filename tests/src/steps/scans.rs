//! Scan results, given as Trivy VulnerabilityReports (the same on every backend). The status a
//! feature names is produced the way the webhook derives it by default: a high finding makes
//! `Fail`, a medium one `Warn`, only low ones `Pass`.

use cucumber::step::Context;
use image_assurance::image::ImageRef;
use jiff::{Span, Timestamp, tz::TimeZone};
use kube::api::{Api, ApiResource, DynamicObject, GroupVersionKind};
use serde_json::json;

use super::{Keyword, Registration, arg, step, table_rows};
use crate::world::World;

pub fn steps() -> Vec<Registration> {
    vec![
        (Keyword::Given, r"these scan results:", step!(scan_results)),
        (
            Keyword::When,
            r#"the scan result of "([^"]+)" changes to (Pass|Warn|Fail)"#,
            step!(change_scan),
        ),
    ]
}

#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum Status {
    Pass,
    Warn,
    Fail,
}

impl Status {
    pub fn parse(text: &str) -> Result<Status, String> {
        match text {
            "Pass" => Ok(Status::Pass),
            "Warn" => Ok(Status::Warn),
            "Fail" => Ok(Status::Fail),
            other => Err(format!(
                "scan status {other:?}: a VulnerabilityReport gives Pass, Warn or Fail (an image without one is Unknown)"
            )),
        }
    }

    /// The report summary that yields this status under the default thresholds.
    fn summary(self) -> serde_json::Value {
        let (high, medium) = match self {
            Status::Pass => (0, 0),
            Status::Warn => (0, 2),
            Status::Fail => (1, 2),
        };
        json!({"criticalCount": 0, "highCount": high, "mediumCount": medium, "lowCount": 3, "unknownCount": 0})
    }
}

/// `3 days ago`, `2 months ago`, `1 year ago`, `5 hours ago`, `just now`, or an RFC 3339 time.
pub fn parse_scanned(text: &str, now: Timestamp) -> Result<Timestamp, String> {
    let text = text.trim();
    if text == "just now" {
        return Ok(now);
    }
    if let Ok(time) = text.parse::<Timestamp>() {
        return Ok(time);
    }
    let words: Vec<&str> = text.split_whitespace().collect();
    let [count, unit, "ago"] = words[..] else {
        return Err(format!(
            "scanned {text:?}: expected `N days ago` (hours, days, months, years), `just now` or an RFC 3339 time"
        ));
    };
    let count: i64 = count
        .parse()
        .map_err(|_| format!("scanned {text:?}: {count:?} is not a number"))?;
    let span = match unit.trim_end_matches('s') {
        "hour" => Span::new().hours(count),
        "day" => Span::new().days(count),
        "month" => Span::new().months(count),
        "year" => Span::new().years(count),
        other => return Err(format!("scanned {text:?}: unknown unit {other:?}")),
    };
    now.to_zoned(TimeZone::UTC)
        .checked_sub(span)
        .map(|zoned| zoned.timestamp())
        .map_err(|error| format!("scanned {text:?}: {error}"))
}

pub fn report_resource() -> ApiResource {
    ApiResource::from_gvk_with_plural(
        &GroupVersionKind::gvk("aquasecurity.github.io", "v1alpha1", "VulnerabilityReport"),
        "vulnerabilityreports",
    )
}

/// The VulnerabilityReport body for `image` (as the Trivy Operator writes it).
pub fn report(
    name: &str,
    image: &str,
    status: Status,
    scanned: Timestamp,
) -> Result<serde_json::Value, String> {
    let reference = ImageRef::parse(image).map_err(|error| error.to_string())?;
    let mut artifact = json!({"repository": reference.path()});
    if let Some(tag) = reference.tag() {
        artifact["tag"] = json!(tag);
    }
    if let Some(digest) = reference.digest() {
        artifact["digest"] = json!(digest);
    }
    Ok(json!({
        "apiVersion": "aquasecurity.github.io/v1alpha1",
        "kind": "VulnerabilityReport",
        "metadata": {"name": name},
        "report": {
            "updateTimestamp": scanned.to_string(),
            "scanner": {"name": "Trivy", "vendor": "Aqua Security", "version": "0.58.1"},
            "registry": {"server": reference.registry()},
            "artifact": artifact,
            "summary": status.summary(),
            "vulnerabilities": [],
        },
    }))
}

/// Creates or replaces the report `name` in `namespace`.
pub async fn put_report(
    client: &kube::Client,
    namespace: &str,
    name: &str,
    image: &str,
    status: Status,
    scanned: Timestamp,
) -> Result<(), String> {
    let api: Api<DynamicObject> =
        Api::namespaced_with(client.clone(), namespace, &report_resource());
    let body = report(name, image, status, scanned)?;
    let object: DynamicObject = serde_json::from_value(body)
        .map_err(|error| format!("VulnerabilityReport {name}: {error}"))?;
    crate::install::put_dynamic(&api, &object).await
}

async fn scan_results(world: &mut World, ctx: Context) -> Result<(), String> {
    let namespace = world.namespace()?.to_string();
    let now = Timestamp::now();
    for row in table_rows(&ctx)? {
        let written = row
            .get("image")
            .ok_or("the scan results table needs an `image` column")?
            .clone();
        let status = Status::parse(row.get("status").map_or("", String::as_str))?;
        let scanned = parse_scanned(row.get("scanned").map_or("just now", String::as_str), now)?;
        let image = world.image(&written);
        let name = format!("scan-{}", world.reports.len() + 1);
        put_report(&world.client(), &namespace, &name, &image, status, scanned).await?;
        world.log(format!(
            "VulnerabilityReport {name}: {image} {status:?}, scanned {scanned}"
        ));
        world.reports.insert(written, name);
    }
    world.dirty = true;
    Ok(())
}

async fn change_scan(world: &mut World, ctx: Context) -> Result<(), String> {
    let written = arg(&ctx, 0)?;
    let status = Status::parse(&arg(&ctx, 1)?)?;
    let namespace = world.namespace()?.to_string();
    let name = world
        .reports
        .get(&written)
        .cloned()
        .ok_or_else(|| format!("no scan result was given for {written:?}"))?;
    let image = world.image(&written);
    put_report(
        &world.client(),
        &namespace,
        &name,
        &image,
        status,
        Timestamp::now(),
    )
    .await?;
    world.log(format!(
        "VulnerabilityReport {name}: {image} now {status:?}"
    ));
    world.dirty = true;
    Ok(())
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn scan_ages_are_calendar_arithmetic_in_utc() {
        let now: Timestamp = "2026-03-31T12:00:00Z".parse().unwrap();
        assert_eq!(
            parse_scanned("1 month ago", now).unwrap().to_string(),
            "2026-02-28T12:00:00Z"
        );
        assert_eq!(
            parse_scanned("4 days ago", now).unwrap().to_string(),
            "2026-03-27T12:00:00Z"
        );
        assert_eq!(
            parse_scanned("1 year ago", now).unwrap().to_string(),
            "2025-03-31T12:00:00Z"
        );
        assert_eq!(parse_scanned("just now", now).unwrap(), now);
        assert!(parse_scanned("yesterday", now).is_err());
    }

    #[test]
    fn a_report_names_registry_repository_and_tag() {
        let now: Timestamp = "2026-03-31T12:00:00Z".parse().unwrap();
        let body = report("r", "nginx:1.27", Status::Fail, now).unwrap();
        assert_eq!(body["report"]["registry"]["server"], "docker.io");
        assert_eq!(body["report"]["artifact"]["repository"], "library/nginx");
        assert_eq!(body["report"]["artifact"]["tag"], "1.27");
        assert_eq!(body["report"]["summary"]["highCount"], 1);
    }
}
