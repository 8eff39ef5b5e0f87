use super::*;
use crate::receivers::filelog::operators::layout::{civil_from_days, days_from_civil};
use serde_json::json;

fn parse(layout_type: &str, layout: &str, value: Value) -> Result<u64, String> {
    let c = TimeConfig {
        parse_from: Some("body.t".into()),
        layout_type: Some(layout_type.into()),
        layout: Some(layout.into()),
        location: Some("UTC".into()),
    };
    let p = TimeParser::build(&c).map_err(|e| e.1)?;
    let mut e = Entry { body: json!({ "t": value }), ..Default::default() };
    p.parse(&mut e)?;
    Ok(e.timestamp.unwrap())
}

const S: u64 = 1_000_000_000;

/// pkg/stanza/docs/types/timestamp.md: the strptime, gotime and epoch
/// examples (2020-06-05T13:50:27 written with EST, which Go reads with a
/// zero offset unless the location knows the abbreviation; 1136214245).
#[test]
fn upstream_examples() {
    let t = 1591365027 * S; // 2020-06-05T13:50:27Z
    assert_eq!(parse("strptime", "%a %b %e %H:%M:%S %Z %Y", json!("Fri Jun  5 13:50:27 UTC 2020")), Ok(t));
    assert_eq!(parse("gotime", "Jan 2 15:04:05 MST 2006", json!("Jun 5 13:50:27 EST 2020")), Ok(t));
    assert_eq!(parse("epoch", "s", json!(1136214245)), Ok(1136214245 * S));
    // "Parse timestamps from plain text logs": a comma before the milliseconds, layout with a dot
    assert_eq!(
        parse("strptime", "%Y-%m-%d %H:%M:%S.%f %z", json!("2022-01-02 07:24:56,123 -0700")),
        Ok(1641133496 * S + 123_000_000)
    );
    // "Parse timestamps from JSON logs"
    assert_eq!(
        parse("strptime", "%Y-%m-%dT%H:%M:%S.%LZ", json!("2022-01-02T14:24:56.123123123Z")),
        Ok(1641133496 * S + 123_123_123)
    );
}

#[test]
fn epoch_layouts() {
    assert_eq!(parse("epoch", "ms", json!("1136214245123")), Ok(1136214245123 * 1_000_000));
    assert_eq!(parse("epoch", "us", json!(1136214245123456u64)), Ok(1136214245123456 * 1000));
    assert_eq!(parse("epoch", "ns", json!("1136214245123456789")), Ok(1136214245123456789));
    assert_eq!(parse("epoch", "s.ms", json!("1136214245.123")), Ok(1136214245 * S + 123_000_000));
    assert_eq!(parse("epoch", "s.ns", json!("1136214245.123456789")), Ok(1136214245123456789));
    // compared with otelcol-contrib 0.135 (tests/integration/test_filelog_upstream.py)
    assert_eq!(parse("epoch", "s", json!(1136214245.75)), Ok(1136214245 * S));
    assert_eq!(parse("epoch", "s.ms", json!(1136214245.5)), Ok(1136214245 * S + S / 2));
    assert!(parse("epoch", "s", json!("soon")).is_err());
    assert!(parse("epoch", "minutes", json!(1)).unwrap_err().contains("not an epoch layout"));
}

#[test]
fn gotime_layouts_and_offsets() {
    let t = 1136239445 * S; // 2006-01-02T22:04:05Z
    assert_eq!(parse("gotime", "2006-01-02T15:04:05Z07:00", json!("2006-01-02T15:04:05-07:00")), Ok(t));
    assert_eq!(parse("gotime", "2006-01-02T15:04:05Z07:00", json!("2006-01-02T22:04:05Z")), Ok(t));
    assert_eq!(parse("gotime", "02/Jan/2006:15:04:05 -0700", json!("02/Jan/2006:15:04:05 -0700")), Ok(t));
    assert_eq!(parse("gotime", "2006-01-02 15:04:05.000", json!("2006-01-02 22:04:05.250")), Ok(t + 250_000_000));
    assert_eq!(
        parse("gotime", "Monday, January 2, 2006 3:04PM", json!("Monday, January 2, 2006 10:04PM")),
        Ok(t - 5 * S)
    );
    // a fraction the layout does not mention is still read, as Go does
    assert_eq!(parse("gotime", "2006-01-02 15:04:05", json!("2006-01-02 22:04:05.5")), Ok(t + S / 2));
}

#[test]
fn strptime_directives() {
    let t = 1136239445 * S;
    assert_eq!(parse("strptime", "%F %T", json!("2006-01-02 22:04:05")), Ok(t));
    assert_eq!(parse("strptime", "%d/%b/%Y:%H:%M:%S %z", json!("02/Jan/2006:15:04:05 -0700")), Ok(t));
    assert_eq!(parse("strptime", "%D %r", json!("01/02/06 10:04:05 PM")), Ok(t));
    assert_eq!(parse("strptime", "%Y-%m-%dT%H:%M:%S%j", json!("2006-01-03T07:04:05+09:00")), Ok(t));
    assert!(parse("strptime", "%Y-%m-%d", json!("2006-13-02")).unwrap_err().contains("not a valid date"));
    assert!(parse("strptime", "%Y-%m-%d", json!("2006-01-02 junk")).unwrap_err().contains("extra text"));
    assert!(parse("strptime", "%Q", json!("x")).unwrap_err().contains("%Q"));
}

#[test]
fn a_layout_without_a_year_gets_a_recent_year() {
    let now = std::time::SystemTime::now().duration_since(std::time::UNIX_EPOCH).unwrap().as_secs();
    let got = parse("strptime", "%b %d %H:%M:%S", json!("Jan 02 15:04:05")).unwrap() / S;
    assert!(got <= now + 7 * 86400 && got + 366 * 86400 > now, "{got} vs {now}");
}

fn parse_in(location: &str, layout: &str, value: &str) -> Result<u64, String> {
    let c = TimeConfig {
        parse_from: Some("body".into()),
        layout: Some(layout.into()),
        location: Some(location.into()),
        ..Default::default()
    };
    let p = TimeParser::build(&c).map_err(|e| e.1)?;
    let mut e = Entry { body: json!(value), ..Default::default() };
    p.parse(&mut e)?;
    Ok(e.timestamp.unwrap() / S)
}

/// timestamp.md's `time_zone_locations` example: IST read in Asia/Kolkata.
#[test]
fn iana_locations() {
    assert_eq!(parse_in("Asia/Kolkata", "%a %b %d %H:%M:%S %Z %Y", "Wed Aug 27 15:08:58 IST 2025"), Ok(1756287538));
    assert_eq!(parse_in("Asia/Seoul", "%Y-%m-%d %H:%M:%S", "2024-05-01 21:00:00"), Ok(1714564800));
    // New York on both sides of the 2024-11-03 change
    assert_eq!(parse_in("America/New_York", "%Y-%m-%d %H:%M", "2024-07-01 08:00"), Ok(1719835200));
    assert_eq!(parse_in("America/New_York", "%Y-%m-%d %H:%M", "2024-12-01 07:00"), Ok(1733054400));
    assert_eq!(parse_in("America/New_York", "%Y-%m-%d %H:%M %Z", "2024-12-01 07:00 EDT"), Ok(1733050800));
    assert_eq!(parse_in("America/New_York", "%Y-%m-%d %H:%M %z", "2024-12-01 07:00 +0000"), Ok(1733036400));
    let c = TimeConfig {
        parse_from: Some("body".into()),
        layout: Some("%Y".into()),
        location: Some("Asia/Nowhere".into()),
        ..Default::default()
    };
    assert_eq!(TimeParser::build(&c).unwrap_err().0, "location");
}

#[test]
fn civil_round_trip() {
    for d in [-1, 0, 11017, 19782, 20000, 2932896] {
        let (y, m, dd) = civil_from_days(d);
        assert_eq!(days_from_civil(y, m, dd), d);
    }
}

#[test]
fn civil_days() {
    assert_eq!(days_from_civil(1970, 1, 1), 0);
    assert_eq!(days_from_civil(2000, 3, 1), 11017);
    assert_eq!(days_from_civil(2024, 2, 29), 19782);
}
