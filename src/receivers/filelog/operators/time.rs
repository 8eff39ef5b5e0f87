//! Timestamp parsing (stanza's `helper/time.go`): `strptime` layouts
//! (the directives of pkg/stanza/docs/types/timestamp.md), Go reference
//! layouts (`gotime`) and `epoch` numbers. Both text flavours compile to
//! one list of items; a layout without a zone is read in `location`
//! (`Local`, `UTC` or an IANA name, see `tz.rs`), and one without a year
//! gets the current year, as stanza's `setTimestampYear` does.

use serde::Deserialize;
use serde_json::Value;

use super::super::entry::Entry;
use super::super::field::Field;
use super::layout::{civil_from_days, days_from_civil, gotime, strptime, Item, Piece};
use super::tz::Zone;

#[derive(Debug, Clone, Default, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct TimeConfig {
    pub parse_from: Option<String>,
    pub layout_type: Option<String>,
    pub layout: Option<String>,
    pub location: Option<String>,
}

#[derive(Debug)]
enum Layout {
    Text(Vec<Piece>),
    /// nanoseconds per unit of the integer part
    Epoch(&'static str),
}

/// Where a time without an offset is read.
#[derive(Debug)]
enum Location {
    Local,
    Utc,
    Zone(Zone),
}

impl Location {
    /// UTC seconds of a wall-clock time (the offset looked up twice, so a
    /// time near a change gets the offset in force then).
    fn to_utc(&self, naive: i64) -> i64 {
        let off = |t: i64| match self {
            Location::Local => local_offset(t),
            Location::Utc => 0,
            Location::Zone(z) => z.offset_at(t),
        };
        naive - off(naive - off(naive))
    }

    fn abbreviation(&self, name: &str) -> Option<i64> {
        match self {
            Location::Zone(z) => z.abbreviations.get(name).copied(),
            _ => None,
        }
    }
}

#[derive(Debug)]
pub struct TimeParser {
    parse_from: Field,
    layout: Layout,
    location: Location,
}

const MONTHS: [&str; 12] = ["jan", "feb", "mar", "apr", "may", "jun", "jul", "aug", "sep", "oct", "nov", "dec"];
const DAYS: [&str; 7] = ["mon", "tue", "wed", "thu", "fri", "sat", "sun"];

fn local_offset(utc_secs: i64) -> i64 {
    let t = utc_secs as libc::time_t;
    let mut tm: libc::tm = unsafe { std::mem::zeroed() };
    // SAFETY: localtime_r writes only into `tm`, which lives for the call.
    let ok = unsafe { !libc::localtime_r(&t, &mut tm).is_null() };
    if ok {
        tm.tm_gmtoff
    } else {
        0
    }
}

struct Reader<'a> {
    s: &'a str,
}

impl Reader<'_> {
    fn digits(&mut self, min: usize, max: usize) -> Result<(i64, usize), String> {
        let n = self.s.bytes().take(max).take_while(u8::is_ascii_digit).count();
        if n < min {
            return Err(format!("expected a number at {:?}", self.s));
        }
        let v = self.s[..n].parse().expect("digits");
        self.s = &self.s[n..];
        Ok((v, n))
    }

    fn word(&mut self) -> String {
        let n = self.s.bytes().take_while(u8::is_ascii_alphabetic).count();
        let w = self.s[..n].to_ascii_lowercase();
        self.s = &self.s[n..];
        w
    }
}

fn parse_text(pieces: &[Piece], value: &str, loc: &Location) -> Result<u64, String> {
    let mut r = Reader { s: value };
    let (mut year, mut month, mut day, mut hour, mut min, mut sec, mut nanos) = (None, 1, 1, 0, 0, 0, 0i64);
    let (mut pm, mut offset) = (None, None);
    for (i, p) in pieces.iter().enumerate() {
        match p {
            Piece::Lit(l) => {
                for c in l.chars() {
                    let next = r.s.chars().next();
                    let ok = next == Some(c)
                        || (c == ' ' && next.is_some_and(char::is_whitespace))
                        || ((c == '.' || c == ',') && (next == Some('.') || next == Some(',')));
                    if !ok {
                        return Err(format!("{value:?} does not match the layout at {:?}", r.s));
                    }
                    r.s = &r.s[next.expect("matched").len_utf8()..];
                    if c == ' ' {
                        r.s = r.s.trim_start_matches(' ');
                    }
                }
            }
            Piece::Item(item) => match item {
                Item::Year4 => year = Some(r.digits(4, 4)?.0),
                Item::Year2 => year = Some(r.digits(2, 2).map(|(y, _)| if y >= 69 { 1900 + y } else { 2000 + y })?),
                Item::Month => month = r.digits(1, 2)?.0,
                Item::MonthName => {
                    let w = r.word();
                    let m = MONTHS.iter().position(|m| w.starts_with(m)).ok_or(format!("{w:?} is not a month"))?;
                    month = m as i64 + 1;
                }
                Item::Day => day = r.digits(1, 2)?.0,
                Item::Weekday => {
                    let w = r.word();
                    DAYS.iter().find(|d| w.starts_with(*d)).ok_or(format!("{w:?} is not a weekday"))?;
                }
                Item::Hour24 | Item::Hour12 => hour = r.digits(1, 2)?.0,
                Item::Minute => min = r.digits(1, 2)?.0,
                Item::Second => {
                    sec = r.digits(1, 2)?.0;
                    // Go accepts a fraction after the seconds the layout does not mention
                    let layout_has_fraction = matches!(pieces.get(i + 1), Some(Piece::Lit(l)) if l.starts_with(['.', ',']))
                        || matches!(pieces.get(i + 1), Some(Piece::Item(Item::Fraction)));
                    let b = r.s.as_bytes();
                    if !layout_has_fraction && b.len() > 1 && (b[0] == b'.' || b[0] == b',') && b[1].is_ascii_digit() {
                        r.s = &r.s[1..];
                        let (f, n) = r.digits(1, 9)?;
                        nanos = f * 10i64.pow(9 - n as u32);
                    }
                }
                Item::Fraction => {
                    let (f, n) = r.digits(1, 9)?;
                    nanos = f * 10i64.pow(9 - n as u32);
                    r.s = r.s.trim_start_matches(|c: char| c.is_ascii_digit());
                }
                Item::AmPm => pm = Some(r.word() == "pm"),
                Item::ZoneName => {
                    let n = r.s.bytes().take_while(u8::is_ascii_alphabetic).count();
                    let w = &r.s[..n];
                    r.s = &r.s[n..];
                    if matches!(w, "UTC" | "GMT" | "Z") {
                        offset = Some(0);
                    } else if w.is_empty() {
                        return Err(format!("expected a time zone name at {:?}", r.s));
                    } else {
                        // the location's own abbreviations; an unknown one reads as UTC, as Go does
                        offset = Some(loc.abbreviation(w).unwrap_or(0));
                    }
                }
                Item::Offset => {
                    if r.s.starts_with('Z') {
                        r.s = &r.s[1..];
                        offset = Some(0);
                        continue;
                    }
                    let sign = match r.s.chars().next() {
                        Some('+') => 1,
                        Some('-') => -1,
                        _ => return Err(format!("expected a UTC offset at {:?}", r.s)),
                    };
                    r.s = &r.s[1..];
                    let mut secs = r.digits(2, 2)?.0 * 3600;
                    for unit in [60, 1] {
                        let colon = r.s.starts_with(':');
                        let after = if colon { &r.s[1..] } else { r.s };
                        if after.len() >= 2 && after.as_bytes()[..2].iter().all(u8::is_ascii_digit) {
                            r.s = after;
                            secs += r.digits(2, 2)?.0 * unit;
                        }
                    }
                    offset = Some(sign * secs);
                }
            },
        }
    }
    if !r.s.is_empty() {
        return Err(format!("{value:?} has extra text after the layout: {:?}", r.s));
    }
    if let Some(pm) = pm {
        hour = match (pm, hour) {
            (true, h) if h < 12 => h + 12,
            (false, 12) => 0,
            (_, h) => h,
        };
    }
    if !(1..=12).contains(&month) || !(1..=31).contains(&day) || hour > 24 || min > 59 || sec > 60 {
        return Err(format!("{value:?} is not a valid date and time"));
    }
    let naive = |y: i64| days_from_civil(y, month, day) * 86400 + hour * 3600 + min * 60 + sec;
    let to_utc = |n: i64| match offset {
        Some(o) => n - o,
        None => loc.to_utc(n),
    };
    let secs = match year {
        Some(y) => to_utc(naive(y)),
        None => {
            let now = std::time::SystemTime::now().duration_since(std::time::UNIX_EPOCH).unwrap_or_default();
            let now = now.as_secs() as i64;
            let (this_year, _, _) = civil_from_days(now.div_euclid(86400));
            let t = to_utc(naive(this_year));
            // more than a week ahead: last year's, as stanza's setTimestampYear
            if t > now + 7 * 86400 {
                to_utc(naive(this_year - 1))
            } else {
                t
            }
        }
    };
    if secs < 0 {
        return Err(format!("{value:?} is before 1970"));
    }
    Ok(secs as u64 * 1_000_000_000 + nanos as u64)
}

fn parse_epoch(unit: &str, v: &Value) -> Result<u64, String> {
    let per: f64 = match unit {
        "s" | "s.ms" | "s.us" | "s.ns" => 1e9,
        "ms" => 1e6,
        "us" => 1e3,
        _ => 1.0,
    };
    match v {
        Value::Number(n) if n.is_u64() => Ok(n.as_u64().expect("u64") * per as u64),
        // a whole-unit layout drops the fraction, as upstream does
        Value::Number(n) => n
            .as_f64()
            .filter(|f| *f >= 0.0)
            .map(|f| if unit.starts_with("s.") { (f * per) as u64 } else { f.trunc() as u64 * per as u64 })
            .ok_or(format!("{n} is negative")),
        Value::String(s) => {
            let (int, frac) = s.trim().split_once('.').unwrap_or((s.trim(), ""));
            let i: u64 = int.parse().map_err(|_| format!("{s:?} is not an epoch timestamp"))?;
            if frac.is_empty() {
                return Ok(i * per as u64);
            }
            if !unit.starts_with("s.") || frac.len() > 9 || !frac.bytes().all(|b| b.is_ascii_digit()) {
                return Err(format!("{s:?} is not a {unit} epoch timestamp"));
            }
            let nanos: u64 = format!("{frac:0<9}").parse().expect("digits");
            Ok(i * 1_000_000_000 + nanos)
        }
        other => Err(format!("{other} is not an epoch timestamp")),
    }
}

impl TimeParser {
    /// Errors are `(key path inside the block, message)`.
    pub fn build(c: &TimeConfig) -> Result<TimeParser, (String, String)> {
        let err = |k: &str, m: String| (k.to_owned(), m);
        let parse_from = Field::parse(c.parse_from.as_deref().ok_or(err("parse_from", "is required".into()))?)
            .map_err(|e| err("parse_from", e))?;
        let layout_text = c.layout.as_deref().ok_or(err("layout", "is required".into()))?;
        let layout = match c.layout_type.as_deref().unwrap_or("strptime") {
            "strptime" => Layout::Text(strptime(layout_text).map_err(|e| err("layout", e))?),
            "gotime" => Layout::Text(gotime(layout_text)),
            "epoch" => match layout_text {
                "s" | "ms" | "us" | "ns" | "s.ms" | "s.us" | "s.ns" => Layout::Epoch(
                    ["s", "ms", "us", "ns", "s.ms", "s.us", "s.ns"]
                        .into_iter()
                        .find(|u| *u == layout_text)
                        .expect("listed"),
                ),
                other => {
                    return Err(err(
                        "layout",
                        format!("{other:?} is not an epoch layout; use s, ms, us, ns, s.ms, s.us or s.ns"),
                    ))
                }
            },
            other => {
                return Err(err(
                    "layout_type",
                    format!("{other:?} is not a layout type; use strptime, gotime or epoch"),
                ))
            }
        };
        let location = match c.location.as_deref().unwrap_or("Local") {
            "Local" | "" => Location::Local,
            "UTC" | "Etc/UTC" => Location::Utc,
            other => Location::Zone(Zone::load(other).map_err(|e| err("location", e))?),
        };
        Ok(TimeParser { parse_from, layout, location })
    }

    pub fn parse(&self, e: &mut Entry) -> Result<(), String> {
        let v = self.parse_from.get(e).ok_or_else(|| format!("the entry has no {}", self.parse_from))?;
        let ns = match &self.layout {
            Layout::Epoch(unit) => parse_epoch(unit, v)?,
            Layout::Text(pieces) => match v {
                Value::String(s) => parse_text(pieces, s, &self.location)?,
                other => return Err(format!("{other} is not a string to parse as a time")),
            },
        };
        e.timestamp = Some(ns);
        Ok(())
    }
}

#[cfg(test)]
#[path = "time_tests.rs"]
mod tests;
