//! Timestamp layouts compiled to one list of pieces: strptime directives
//! (the table of pkg/stanza/docs/types/timestamp.md) and Go reference
//! layouts chunked as Go's `time.nextStdChunk` does.

#[derive(Debug, Clone, Copy, PartialEq)]
pub enum Item {
    Year4,
    Year2,
    /// month number: zero-padded, space-padded or bare
    Month,
    MonthName,
    Day,
    Weekday,
    Hour24,
    Hour12,
    AmPm,
    Minute,
    Second,
    /// digits of a fraction of a second
    Fraction,
    ZoneName,
    /// `Z` or a numeric offset in any of the ±hh[:mm[:ss]] forms
    Offset,
}

#[derive(Debug, Clone, PartialEq)]
pub enum Piece {
    Lit(String),
    Item(Item),
}

pub fn strptime(layout: &str) -> Result<Vec<Piece>, String> {
    let mut out = Vec::new();
    let mut chars = layout.chars();
    let mut lit = String::new();
    while let Some(c) = chars.next() {
        if c != '%' {
            lit.push(c);
            continue;
        }
        let d = chars.next().ok_or("the layout ends with a lone %")?;
        let expand = |s: &str| strptime(s);
        let items: Vec<Piece> = match d {
            'Y' => vec![Piece::Item(Item::Year4)],
            'y' => vec![Piece::Item(Item::Year2)],
            'm' | 'o' | 'q' => vec![Piece::Item(Item::Month)],
            'b' | 'h' | 'B' => vec![Piece::Item(Item::MonthName)],
            'd' | 'e' | 'g' => vec![Piece::Item(Item::Day)],
            'a' | 'A' => vec![Piece::Item(Item::Weekday)],
            'H' => vec![Piece::Item(Item::Hour24)],
            'I' | 'l' => vec![Piece::Item(Item::Hour12)],
            'p' | 'P' => vec![Piece::Item(Item::AmPm)],
            'M' => vec![Piece::Item(Item::Minute)],
            'S' => vec![Piece::Item(Item::Second)],
            'L' | 'f' | 's' => vec![Piece::Item(Item::Fraction)],
            'Z' => vec![Piece::Item(Item::ZoneName)],
            'z' | 'i' | 'j' | 'k' => vec![Piece::Item(Item::Offset)],
            'D' => expand("%m/%d/%y")?,
            'F' => expand("%Y-%m-%d")?,
            'T' => expand("%H:%M:%S")?,
            'r' => expand("%I:%M:%S %p")?,
            'c' => expand("%a %b %d %H:%M:%S %Y")?,
            'R' => expand("%H:%M")?,
            'n' => vec![Piece::Lit("\n".into())],
            't' => vec![Piece::Lit("\t".into())],
            '%' => vec![Piece::Lit("%".into())],
            other => return Err(format!("%{other} is not a strptime directive stanza knows")),
        };
        for p in items {
            match p {
                Piece::Lit(s) => lit.push_str(&s),
                item => {
                    if !lit.is_empty() {
                        out.push(Piece::Lit(std::mem::take(&mut lit)));
                    }
                    out.push(item);
                }
            }
        }
    }
    if !lit.is_empty() {
        out.push(Piece::Lit(lit));
    }
    Ok(out)
}

/// Go's reference layout, chunked as `time.nextStdChunk` does.
pub fn gotime(layout: &str) -> Vec<Piece> {
    const STD: &[(&str, Item)] = &[
        ("January", Item::MonthName),
        ("Jan", Item::MonthName),
        ("Monday", Item::Weekday),
        ("Mon", Item::Weekday),
        ("MST", Item::ZoneName),
        ("2006", Item::Year4),
        ("Z07:00:00", Item::Offset),
        ("-07:00:00", Item::Offset),
        ("Z070000", Item::Offset),
        ("-070000", Item::Offset),
        ("Z07:00", Item::Offset),
        ("-07:00", Item::Offset),
        ("Z0700", Item::Offset),
        ("-0700", Item::Offset),
        ("Z07", Item::Offset),
        ("-07", Item::Offset),
        ("01", Item::Month),
        ("02", Item::Day),
        ("03", Item::Hour12),
        ("04", Item::Minute),
        ("05", Item::Second),
        ("06", Item::Year2),
        ("_2", Item::Day),
        ("15", Item::Hour24),
        ("1", Item::Month),
        ("2", Item::Day),
        ("3", Item::Hour12),
        ("4", Item::Minute),
        ("5", Item::Second),
        ("PM", Item::AmPm),
        ("pm", Item::AmPm),
    ];
    let mut out = Vec::new();
    let mut lit = String::new();
    let mut rest = layout;
    'outer: while !rest.is_empty() {
        // .000 / ,999: a fraction of a second
        let b = rest.as_bytes();
        if (b[0] == b'.' || b[0] == b',') && b.len() > 1 && (b[1] == b'0' || b[1] == b'9') {
            let n = b[1..].iter().take_while(|c| **c == b[1]).count();
            if !b.get(1 + n).is_some_and(u8::is_ascii_digit) {
                lit.push(b[0] as char);
                out.push(Piece::Lit(std::mem::take(&mut lit)));
                out.push(Piece::Item(Item::Fraction));
                rest = &rest[1 + n..];
                continue;
            }
        }
        for (s, item) in STD {
            if rest.starts_with(s) {
                if !lit.is_empty() {
                    out.push(Piece::Lit(std::mem::take(&mut lit)));
                }
                out.push(Piece::Item(*item));
                rest = &rest[s.len()..];
                continue 'outer;
            }
        }
        let c = rest.chars().next().expect("not empty");
        lit.push(c);
        rest = &rest[c.len_utf8()..];
    }
    if !lit.is_empty() {
        out.push(Piece::Lit(lit));
    }
    out
}

/// Days since 1970-01-01 of a proleptic Gregorian date (Howard Hinnant's algorithm).
pub fn days_from_civil(y: i64, m: i64, d: i64) -> i64 {
    let y = if m <= 2 { y - 1 } else { y };
    let era = if y >= 0 { y } else { y - 399 } / 400;
    let yoe = y - era * 400;
    let doy = (153 * (m + if m > 2 { -3 } else { 9 }) + 2) / 5 + d - 1;
    let doe = yoe * 365 + yoe / 4 - yoe / 100 + doy;
    era * 146097 + doe - 719468
}

/// The (year, month, day) of a day count since 1970-01-01 (Hinnant's inverse).
pub fn civil_from_days(z: i64) -> (i64, i64, i64) {
    let z = z + 719468;
    let era = if z >= 0 { z } else { z - 146096 } / 146097;
    let doe = z - era * 146097;
    let yoe = (doe - doe / 1460 + doe / 36524 - doe / 146096) / 365;
    let doy = doe - (365 * yoe + yoe / 4 - yoe / 100);
    let mp = (5 * doy + 2) / 153;
    let d = doy - (153 * mp + 2) / 5 + 1;
    let m = if mp < 10 { mp + 3 } else { mp - 9 };
    (yoe + era * 400 + i64::from(m <= 2), m, d)
}
