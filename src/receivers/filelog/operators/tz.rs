//! IANA time zones for the time parsers' `location` (as Go's
//! `time.LoadLocation`): the compiled TZif file from the system's zoneinfo
//! (`/usr/share/zoneinfo`, or `$ZONEINFO`), its transitions, and the POSIX
//! rule in its footer for times after the last transition
//! (`EST5EDT,M3.2.0,M11.1.0`).

use std::collections::HashMap;

use super::layout::{civil_from_days, days_from_civil};

/// A `Mm.w.d/time` change: month, week (5: last), weekday (0: Sunday),
/// seconds after local midnight.
type Change = (i64, i64, i64, i64);

#[derive(Debug, Clone, PartialEq)]
struct Rule {
    std_off: i64,
    /// daylight offset and the changes into and out of it, if the zone has DST
    dst: Option<(i64, Change, Change)>,
}

#[derive(Debug, Clone, PartialEq)]
pub struct Zone {
    transitions: Vec<(i64, i64)>,
    /// offset before the first transition
    initial: i64,
    rule: Option<Rule>,
    /// abbreviations this zone uses (`EST`, `EDT`) and their offsets
    pub abbreviations: HashMap<String, i64>,
}

fn be(b: &[u8], at: usize, n: usize) -> Option<i64> {
    let s = b.get(at..at + n)?;
    Some(match n {
        4 => i32::from_be_bytes(s.try_into().ok()?) as i64,
        _ => i64::from_be_bytes(s.try_into().ok()?),
    })
}

impl Zone {
    pub fn load(name: &str) -> Result<Zone, String> {
        if name.is_empty() || name.contains("..") || name.starts_with('/') {
            return Err(format!("{name:?} is not a time zone name"));
        }
        let dir = std::env::var("ZONEINFO").unwrap_or_else(|_| "/usr/share/zoneinfo".into());
        let bytes = std::fs::read(format!("{dir}/{name}"))
            .map_err(|e| format!("unknown time zone {name:?} ({dir}/{name}: {e}); install tzdata or use Local/UTC"))?;
        Zone::parse(&bytes).ok_or_else(|| format!("{dir}/{name} is not a TZif file"))
    }

    fn parse(b: &[u8]) -> Option<Zone> {
        let counts = |at: usize| -> Option<[usize; 6]> {
            let mut c = [0usize; 6];
            for (i, v) in c.iter_mut().enumerate() {
                *v = be(b, at + 20 + 4 * i, 4)? as usize;
            }
            Some(c)
        };
        if b.get(..4)? != b"TZif" {
            return None;
        }
        // skip the 32-bit block when a 64-bit one follows (version 2+)
        let [isut, isstd, leap, time, typ, chars] = counts(0)?;
        let (mut at, wide) = (44, b[4] >= b'2');
        if wide {
            at += time * 5 + typ * 6 + chars + leap * 8 + isstd + isut;
            if b.get(at..at + 4)? != b"TZif" {
                return None;
            }
        }
        let [isut, isstd, leap, time, typ, chars] = counts(at)?;
        at += 44;
        let w = if wide { 8 } else { 4 };
        let times: Vec<i64> = (0..time).map(|i| be(b, at + i * w, w)).collect::<Option<_>>()?;
        at += time * w;
        let idx: Vec<usize> = b.get(at..at + time)?.iter().map(|i| *i as usize).collect();
        at += time;
        let types: Vec<(i64, usize)> =
            (0..typ).map(|i| Some((be(b, at + i * 6, 4)?, *b.get(at + i * 6 + 5)? as usize))).collect::<Option<_>>()?;
        at += typ * 6;
        let abbr = b.get(at..at + chars)?;
        at += chars + leap * (w + 4) + isstd + isut;
        let name = |i: usize| {
            let s = abbr.get(i..).unwrap_or_default();
            String::from_utf8_lossy(&s[..s.iter().position(|c| *c == 0).unwrap_or(s.len())]).into_owned()
        };
        let abbreviations = types.iter().map(|(off, ai)| (name(*ai), *off)).collect();
        let transitions = times.iter().zip(&idx).map(|(t, i)| Some((*t, types.get(*i)?.0))).collect::<Option<_>>()?;
        let footer = if wide { b.get(at..).map(|f| String::from_utf8_lossy(f).trim().to_owned()) } else { None };
        Some(Zone {
            transitions,
            initial: types.first()?.0,
            rule: footer.as_deref().and_then(parse_rule),
            abbreviations,
        })
    }

    /// The offset from UTC in force at `utc` (seconds since the epoch).
    pub fn offset_at(&self, utc: i64) -> i64 {
        match self.transitions.partition_point(|(t, _)| *t <= utc) {
            0 => self.initial,
            n if n == self.transitions.len() && self.rule.is_some() => {
                rule_offset(self.rule.as_ref().expect("some"), utc)
            }
            n => self.transitions[n - 1].1,
        }
    }
}

/// `<+09>-9`, `KST-9`, `EST5EDT,M3.2.0,M11.1.0`, `CET-1CEST,M3.5.0,M10.5.0/3`.
fn parse_rule(s: &str) -> Option<Rule> {
    let mut r = s;
    let name = |r: &mut &str| -> Option<()> {
        if let Some(rest) = r.strip_prefix('<') {
            *r = &rest[rest.find('>')? + 1..];
        } else {
            let n = r.bytes().take_while(u8::is_ascii_alphabetic).count();
            (n >= 3).then_some(())?;
            *r = &r[n..];
        }
        Some(())
    };
    let offset = |r: &mut &str| -> Option<i64> {
        let sign = if r.starts_with('-') { -1 } else { 1 };
        let body = r.trim_start_matches(['+', '-']);
        let n = body.bytes().take_while(|c| c.is_ascii_digit() || *c == b':').count();
        let mut secs = 0;
        for (i, part) in body[..n].split(':').enumerate() {
            secs += part.parse::<i64>().ok()? * [3600, 60, 1].get(i)?;
        }
        *r = &body[n..];
        Some(sign * secs)
    };
    name(&mut r)?;
    let std_off = -offset(&mut r)?;
    if r.is_empty() {
        return Some(Rule { std_off, dst: None });
    }
    name(&mut r)?;
    let dst_off = if r.starts_with(',') { std_off + 3600 } else { -offset(&mut r)? };
    let change = |part: &str| -> Option<Change> {
        let (date, time) = part.split_once('/').unwrap_or((part, "2"));
        let mut f = date.strip_prefix('M')?.split('.').map(|x| x.parse::<i64>().ok());
        let (m, w, d) = (f.next()??, f.next()??, f.next()??);
        let mut t = time;
        Some((m, w, d, offset(&mut t)?))
    };
    let mut parts = r.strip_prefix(',')?.split(',');
    let (start, end) = (change(parts.next()?)?, change(parts.next()?)?);
    Some(Rule { std_off, dst: Some((dst_off, start, end)) })
}

/// The day of month of "weekday `d` of week `w` (5: the last) of month `m`".
fn mwd(year: i64, (m, w, d, _): Change) -> i64 {
    let first = days_from_civil(year, m, 1);
    let weekday = (first + 4).rem_euclid(7); // 1970-01-01 was a Thursday
    let mut day = 1 + (d - weekday).rem_euclid(7) + (w - 1) * 7;
    let next = if m == 12 { days_from_civil(year + 1, 1, 1) } else { days_from_civil(year, m + 1, 1) };
    while day > next - first {
        day -= 7;
    }
    day
}

fn rule_offset(r: &Rule, utc: i64) -> i64 {
    let Some((dst_off, start, end)) = r.dst else { return r.std_off };
    let (year, _, _) = civil_from_days(utc.div_euclid(86400));
    let at = |c: Change, off: i64| (days_from_civil(year, c.0, mwd(year, c)) * 86400) + c.3 - off;
    let (s, e) = (at(start, r.std_off), at(end, dst_off));
    let dst = if s < e { utc >= s && utc < e } else { utc >= s || utc < e };
    if dst {
        dst_off
    } else {
        r.std_off
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn posix_rules() {
        assert_eq!(parse_rule("KST-9"), Some(Rule { std_off: 9 * 3600, dst: None }));
        assert_eq!(parse_rule("<+0530>-5:30").unwrap().std_off, 5 * 3600 + 1800);
        let ny = parse_rule("EST5EDT,M3.2.0,M11.1.0").unwrap();
        // 2024: DST from 2024-03-10 07:00Z to 2024-11-03 06:00Z
        assert_eq!(rule_offset(&ny, 1710053999), -5 * 3600);
        assert_eq!(rule_offset(&ny, 1710054000), -4 * 3600);
        assert_eq!(rule_offset(&ny, 1730613599), -4 * 3600);
        assert_eq!(rule_offset(&ny, 1730613600), -5 * 3600);
        let sydney = parse_rule("AEST-10AEDT,M10.1.0,M4.1.0/3").unwrap();
        assert_eq!(rule_offset(&sydney, 1704067200), 11 * 3600, "January is summer");
        assert_eq!(rule_offset(&sydney, 1719792000), 10 * 3600, "July is winter");
    }

    #[test]
    fn system_zones() {
        let seoul = Zone::load("Asia/Seoul").unwrap();
        assert_eq!(seoul.offset_at(1714564800), 9 * 3600);
        assert_eq!(seoul.abbreviations.get("KST"), Some(&(9 * 3600)));
        let ny = Zone::load("America/New_York").unwrap();
        assert_eq!(ny.offset_at(1719792000), -4 * 3600);
        assert_eq!(ny.offset_at(1704067200), -5 * 3600);
        assert_eq!(ny.offset_at(0), -5 * 3600);
        assert!(Zone::load("Mars/Olympus").unwrap_err().contains("unknown time zone"));
        assert!(Zone::load("../etc/passwd").is_err());
    }
}
