//! Maintenance windows: when a new batch may start.
//!
//! A window is written `DAYS HH:MM-HH:MM [ZONE]`: `"Sat,Sun 01:00-06:00"`,
//! `"Mon-Fri 22:00-02:00"`, `"daily 03:00-04:00 Europe/Berlin"`. Days are three-letter or full
//! English names, comma lists and ranges (`Fri-Mon` wraps over the week end). A window whose end
//! is not after its start runs overnight and belongs to the day it starts on: `Fri 22:00-02:00`
//! is open from Friday 22:00 to Saturday 02:00. `24:00` may end a window. The zone is an IANA
//! name and defaults to UTC. A play may list several windows; it is open when any is.
//!
//! # Reading a window on DST nights: wall-clock per fold
//!
//! A window is open at instant `t` exactly when the wall clock of its zone at `t` (the date and
//! `HH:MM` the zone's clocks show then) is inside it: on a day the window starts, from the start
//! (inclusive) to the end (exclusive), or, for an overnight window, from the start to midnight
//! and from midnight to the end on the next day. Seconds do not matter: 02:29:59 is 02:29.
//! [`Windows::next_open`] is the first instant at or after a given one at which that holds, so
//! the two always agree. On the nights clocks change this reads as follows:
//!
//! - Fold (autumn; an hour of wall-clock times occurs twice). Each occurrence of the repeated
//!   hour is read by its wall clock. A start inside it opens the window at its first occurrence;
//!   when the clocks go back, the times before the start are outside the window again until the
//!   start comes round a second time. An end inside it closes the window at its first occurrence;
//!   when the clocks go back into the window it is open again until the end's second occurrence.
//!   `Sun 02:30-04:00 Europe/Berlin` on 2026-10-25 (clocks go back 03:00 CEST -> 02:00 CET at
//!   01:00Z) is open 00:30-01:00Z, closed 01:00-01:30Z (02:00-02:29 CET) and open 01:30-03:00Z.
//! - Gap (spring; an hour of wall-clock times is skipped). Skipped times are never on the clock:
//!   a start inside the gap opens the window at the first instant after the gap (when the end is
//!   after it), an end inside the gap closes it at the gap, and a window wholly inside the gap
//!   does not open that night. `Sun 02:30-04:00 Europe/Berlin` on 2026-03-29 opens at 03:00 CEST.
//!
//! Time zones come from jiff: it reads the system's /usr/share/zoneinfo and falls back to a
//! copy of the tz database compiled into rpatch (`tzdb-bundle-always`), so a window in
//! `Europe/Berlin` works the same in a minimal container that has no tzdata. jiff rather than
//! chrono + chrono-tz: one crate, DST-correct civil arithmetic built in, and the system tzdb is
//! preferred so operators get their distribution's tzdata updates.

use std::fmt;
use std::sync::Arc;

use jiff::civil::{Date, Time, Weekday};
use jiff::tz::TimeZone;
use jiff::{Timestamp, Zoned};

use crate::diagnostic::Source;
use crate::rolling::SpecError;
use crate::yaml::{Node, NodeKind};

const KEY: &str = "window";
const HINT: &str = "write days, hours and an optional IANA time zone, e.g. \
`\"Sat,Sun 01:00-06:00\"`, `\"Mon-Fri 22:00-02:00 Europe/Berlin\"` or `\"daily 03:00-05:00\"`";
const DAY_NAMES: [(&str, &str); 7] = [
    ("mon", "monday"),
    ("tue", "tuesday"),
    ("wed", "wednesday"),
    ("thu", "thursday"),
    ("fri", "friday"),
    ("sat", "saturday"),
    ("sun", "sunday"),
];
const MINUTES_PER_DAY: u16 = 24 * 60;

/// One maintenance window.
#[derive(Debug, Clone, PartialEq)]
pub struct Window {
    /// Bit `i` set when the window starts on day `i` (0 = Monday).
    days: u8,
    /// Minutes after midnight the window opens.
    start: u16,
    /// Minutes after midnight it closes (1..=1440); not after `start` means the next day.
    end: u16,
    /// The zone its times are in.
    tz: TimeZone,
    /// As written, for messages.
    text: String,
}

impl Window {
    /// Parses one window.
    pub fn parse(text: &str) -> Result<Self, String> {
        let words: Vec<&str> = text.split_whitespace().collect();
        let (days, hours, zone) = match words.as_slice() {
            [days, hours] => (*days, *hours, None),
            [days, hours, zone] => (*days, *hours, Some(*zone)),
            _ => return Err(format!("`{text}` is not `DAYS HH:MM-HH:MM [ZONE]`")),
        };
        let days = parse_days(days)?;
        let (start, end) = hours
            .split_once('-')
            .ok_or_else(|| format!("`{hours}` is not a range of hours like `01:00-06:00`"))?;
        let start = parse_clock(start, false)?;
        let end = parse_clock(end, true)?;
        if start == end {
            return Err(format!(
                "`{hours}` is empty (write `00:00-24:00` for a whole day)"
            ));
        }
        let tz = match zone {
            None => TimeZone::UTC,
            Some(name) => TimeZone::get(name).map_err(|_| {
                format!("unknown time zone `{name}` (use an IANA name like Europe/Berlin)")
            })?,
        };
        Ok(Self {
            days,
            start,
            end,
            tz,
            text: words.join(" "),
        })
    }

    /// The window's time zone.
    pub fn time_zone(&self) -> &TimeZone {
        &self.tz
    }

    fn starts_on(&self, date: Date) -> bool {
        self.days & (1 << weekday_index(date.weekday())) != 0
    }

    fn overnight(&self) -> bool {
        self.end <= self.start
    }

    /// True when `at` is inside this window.
    pub fn is_open(&self, at: Timestamp) -> bool {
        let local = self.tz.to_datetime(at);
        let minute = u16::try_from(local.hour()).unwrap_or(0) * 60
            + u16::try_from(local.minute()).unwrap_or(0);
        let date = local.date();
        if self.overnight() {
            (self.starts_on(date) && minute >= self.start)
                || (minute < self.end && date.yesterday().is_ok_and(|day| self.starts_on(day)))
        } else {
            self.starts_on(date) && minute >= self.start && minute < self.end
        }
    }

    /// Instants at which this window may open, from the day before `after` for two weeks
    /// (the week repeats; the second week covers a window lost to a DST gap): every instant the
    /// wall clock reads the start time (both occurrences in a fold), and every time-zone
    /// transition (a wall clock jumping into the window). Between those the wall clock runs on
    /// without reaching the start, so [`Window::is_open`] cannot turn true anywhere else.
    fn candidates(&self, after: Timestamp) -> Vec<Timestamp> {
        let mut out = Vec::new();
        let Ok(mut date) = self.tz.to_datetime(after).date().yesterday() else {
            return out;
        };
        let start = Time::constant(
            i8::try_from(self.start / 60).unwrap_or(0),
            i8::try_from(self.start % 60).unwrap_or(0),
            0,
            0,
        );
        for _ in 0..16 {
            if self.starts_on(date) {
                let occurrences = self.tz.to_ambiguous_timestamp(date.to_datetime(start));
                out.extend(occurrences.earlier().ok());
                out.extend(occurrences.later().ok());
            }
            match date.tomorrow() {
                Ok(next) => date = next,
                Err(_) => break,
            }
        }
        let horizon = out.iter().max().copied().unwrap_or(after);
        out.extend(
            self.tz
                .following(after)
                .map(|transition| transition.timestamp())
                .take_while(|at| *at <= horizon)
                .take(8),
        );
        out
    }
}

impl fmt::Display for Window {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(&self.text)
    }
}

/// The maintenance windows of a play: open when any of them is.
#[derive(Debug, Clone, PartialEq)]
pub struct Windows {
    windows: Vec<Window>,
}

impl Windows {
    /// Windows from already-parsed ones; `None` for an empty list.
    pub fn new(windows: Vec<Window>) -> Option<Self> {
        (!windows.is_empty()).then_some(Self { windows })
    }

    /// The windows.
    pub fn windows(&self) -> &[Window] {
        &self.windows
    }

    /// Reads `window`: one window as a string, or a non-empty list of them.
    pub fn from_node(node: &Node, source: &Arc<Source>) -> Result<Self, SpecError> {
        let one = |node: &Node| match &node.kind {
            NodeKind::Str(text) => Window::parse(text)
                .map_err(|message| SpecError::at_node(KEY, message, source, node).with_hint(HINT)),
            _ => Err(SpecError::at_node(
                KEY,
                format!(
                    "expected a window like \"Sat 01:00-06:00\", found {}",
                    node.type_name()
                ),
                source,
                node,
            )
            .with_hint(HINT)),
        };
        let windows = match &node.kind {
            NodeKind::Seq(items) if items.is_empty() => {
                return Err(
                    SpecError::at_node(KEY, "the list of windows is empty", source, node)
                        .with_hint(HINT),
                )
            }
            NodeKind::Seq(items) => items.iter().map(one).collect::<Result<Vec<_>, _>>()?,
            _ => vec![one(node)?],
        };
        Ok(Self { windows })
    }

    /// True when a new batch may start at `at`.
    pub fn is_open(&self, at: Timestamp) -> bool {
        self.windows.iter().any(|window| window.is_open(at))
    }

    /// The first moment at or after `after` when a window is open, in that window's zone;
    /// `after` itself when a window is open then. `None` only if no window opens within two
    /// weeks, which a valid weekly window cannot do.
    pub fn next_open(&self, after: Timestamp) -> Option<Zoned> {
        if let Some(window) = self.windows.iter().find(|window| window.is_open(after)) {
            return Some(after.to_zoned(window.tz.clone()));
        }
        self.windows
            .iter()
            .flat_map(|window| {
                window
                    .candidates(after)
                    .into_iter()
                    .filter(move |at| *at > after && window.is_open(*at))
                    .map(move |at| (at, window))
            })
            .min_by_key(|(at, _)| *at)
            .map(|(at, window)| at.to_zoned(window.tz.clone()))
    }
}

impl fmt::Display for Windows {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        for (i, window) in self.windows.iter().enumerate() {
            if i > 0 {
                f.write_str(", ")?;
            }
            write!(f, "{window}")?;
        }
        Ok(())
    }
}

fn weekday_index(day: Weekday) -> u8 {
    match day {
        Weekday::Monday => 0,
        Weekday::Tuesday => 1,
        Weekday::Wednesday => 2,
        Weekday::Thursday => 3,
        Weekday::Friday => 4,
        Weekday::Saturday => 5,
        Weekday::Sunday => 6,
    }
}

fn parse_day(text: &str) -> Result<u8, String> {
    let lower = text.to_ascii_lowercase();
    DAY_NAMES
        .iter()
        .position(|(short, long)| lower == *short || lower == *long)
        .and_then(|i| u8::try_from(i).ok())
        .ok_or_else(|| format!("`{text}` is not a day (Mon, Tue, ... Sun)"))
}

fn parse_days(text: &str) -> Result<u8, String> {
    if matches!(text.to_ascii_lowercase().as_str(), "daily" | "*") {
        return Ok(0x7f);
    }
    let mut days = 0u8;
    for part in text.split(',') {
        match part.split_once('-') {
            Some((first, last)) => {
                let (first, last) = (parse_day(first)?, parse_day(last)?);
                let mut day = first;
                loop {
                    days |= 1 << day;
                    if day == last {
                        break;
                    }
                    day = (day + 1) % 7;
                }
            }
            None => days |= 1 << parse_day(part)?,
        }
    }
    Ok(days)
}

/// `HH:MM` as minutes after midnight; `24:00` only as an end.
fn parse_clock(text: &str, is_end: bool) -> Result<u16, String> {
    let error = || format!("`{text}` is not a time like `06:30`");
    let (hours, minutes) = text.split_once(':').ok_or_else(error)?;
    if hours.is_empty() || hours.len() > 2 || minutes.len() != 2 {
        return Err(error());
    }
    let hours: u16 = hours.parse().map_err(|_| error())?;
    let minutes: u16 = minutes.parse().map_err(|_| error())?;
    match (hours, minutes) {
        (24, 0) if is_end => Ok(MINUTES_PER_DAY),
        (0..=23, 0..=59) => Ok(hours * 60 + minutes),
        _ => Err(format!("`{text}` is not a time of day")),
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn at(text: &str) -> Timestamp {
        text.parse().expect("timestamp")
    }

    fn windows(texts: &[&str]) -> Windows {
        Windows::new(
            texts
                .iter()
                .map(|text| Window::parse(text).expect(text))
                .collect(),
        )
        .expect("non-empty")
    }

    #[test]
    fn is_open_follows_days_hours_and_overnight_wrap() {
        // 2026-11-21 is a Saturday.
        let cases = [
            ("Sat,Sun 01:00-06:00", "2026-11-21T01:00:00Z", true),
            ("Sat,Sun 01:00-06:00", "2026-11-21T05:59:59Z", true),
            ("Sat,Sun 01:00-06:00", "2026-11-21T06:00:00Z", false),
            ("Sat,Sun 01:00-06:00", "2026-11-21T00:59:00Z", false),
            ("Sat,Sun 01:00-06:00", "2026-11-22T03:00:00Z", true),
            ("Sat,Sun 01:00-06:00", "2026-11-23T03:00:00Z", false),
            ("Mon-Fri 22:00-02:00", "2026-11-20T23:00:00Z", true),
            ("Mon-Fri 22:00-02:00", "2026-11-21T01:30:00Z", true),
            ("Mon-Fri 22:00-02:00", "2026-11-21T22:30:00Z", false),
            ("Mon-Fri 22:00-02:00", "2026-11-23T01:00:00Z", false),
            ("Mon-Fri 22:00-02:00", "2026-11-24T01:00:00Z", true),
            ("Fri-Mon 10:00-11:00", "2026-11-23T10:30:00Z", true),
            ("Fri-Mon 10:00-11:00", "2026-11-24T10:30:00Z", false),
            ("daily 00:00-24:00", "2026-11-25T13:00:00Z", true),
            (
                "saturday 01:00-06:00 Europe/Berlin",
                "2026-11-21T00:30:00Z",
                true,
            ),
            (
                "saturday 01:00-06:00 Europe/Berlin",
                "2026-11-21T05:30:00Z",
                false,
            ),
        ];
        for (window, time, open) in cases {
            assert_eq!(
                windows(&[window]).is_open(at(time)),
                open,
                "{window} at {time}"
            );
        }
    }

    #[test]
    fn several_windows_are_open_when_any_is() {
        let both = windows(&["Sat 01:00-02:00", "Wed 12:00-13:00"]);
        assert!(both.is_open(at("2026-11-21T01:30:00Z")));
        assert!(both.is_open(at("2026-11-25T12:30:00Z")));
        assert!(!both.is_open(at("2026-11-25T13:30:00Z")));
    }

    #[test]
    fn next_open_finds_the_earliest_opening() {
        let cases = [
            // Friday noon: next is Saturday 01:00.
            (
                &["Sat,Sun 01:00-06:00"][..],
                "2026-11-20T12:00:00Z",
                "2026-11-21T01:00:00+00:00[UTC]",
            ),
            // Already open: now.
            (
                &["Sat,Sun 01:00-06:00"][..],
                "2026-11-21T02:00:00Z",
                "2026-11-21T02:00:00+00:00[UTC]",
            ),
            // Sunday after the window: next Saturday.
            (
                &["Sat,Sun 01:00-06:00"][..],
                "2026-11-22T07:00:00Z",
                "2026-11-28T01:00:00+00:00[UTC]",
            ),
            // Overnight window on Friday night, asked on Saturday morning after it closed.
            (
                &["Fri 22:00-02:00"][..],
                "2026-11-21T03:00:00Z",
                "2026-11-27T22:00:00+00:00[UTC]",
            ),
            // The earlier of two windows wins.
            (
                &["Sun 01:00-02:00", "Sat 23:00-23:30"][..],
                "2026-11-20T00:00:00Z",
                "2026-11-21T23:00:00+00:00[UTC]",
            ),
            // Zoned: Saturday 01:00 in Berlin is Friday 23:00 UTC in winter.
            (
                &["Sat 01:00-06:00 Europe/Berlin"][..],
                "2026-11-20T12:00:00Z",
                "2026-11-21T01:00:00+01:00[Europe/Berlin]",
            ),
        ];
        for (texts, after, expected) in cases {
            let next = windows(texts).next_open(at(after)).expect("opens");
            assert_eq!(next.to_string(), expected, "{texts:?} after {after}");
        }
    }

    #[test]
    fn windows_follow_daylight_saving_time() {
        // Clocks in Berlin jump from 02:00 to 03:00 on Sunday 2026-03-29 (01:00 UTC).
        let gap = windows(&["Sun 02:30-04:00 Europe/Berlin"]);
        let next = gap.next_open(at("2026-03-28T12:00:00Z")).expect("opens");
        assert_eq!(
            next.timestamp(),
            at("2026-03-29T01:00:00Z"),
            "opens at 03:00 CEST"
        );
        // A window that lies wholly in the gap does not exist that night: the next Sunday.
        let lost = windows(&["Sun 02:00-03:00 Europe/Berlin"]);
        let next = lost.next_open(at("2026-03-28T12:00:00Z")).expect("opens");
        assert_eq!(next.to_string(), "2026-04-05T02:00:00+02:00[Europe/Berlin]");
        // Summer: 01:00 in Berlin is 23:00 UTC the day before.
        assert!(windows(&["Sat 01:00-06:00 Europe/Berlin"]).is_open(at("2026-07-03T23:30:00Z")));
    }

    #[test]
    fn a_window_starting_in_the_repeated_hour_reopens_when_the_clocks_go_back() {
        // Berlin, 2026-10-25: 03:00 CEST -> 02:00 CET at 01:00Z; 02:00-03:00 happens twice.
        let fold = windows(&["Sun 02:30-04:00 Europe/Berlin"]);
        assert!(fold.is_open(at("2026-10-25T00:30:00Z")), "02:30 CEST");
        assert!(!fold.is_open(at("2026-10-25T01:00:00Z")), "02:00 CET");
        assert!(!fold.is_open(at("2026-10-25T01:29:59Z")), "02:29:59 CET");
        assert!(fold.is_open(at("2026-10-25T01:30:00Z")), "02:30 CET");
        for asked in ["2026-10-25T01:00:00Z", "2026-10-25T01:29:00Z"] {
            let next = fold.next_open(at(asked)).expect("opens");
            assert_eq!(
                next.to_string(),
                "2026-10-25T02:30:00+01:00[Europe/Berlin]",
                "{asked}"
            );
        }
        // Asked the evening before: the first occurrence of 02:30.
        let next = fold.next_open(at("2026-10-24T18:00:00Z")).expect("opens");
        assert_eq!(next.to_string(), "2026-10-25T02:30:00+02:00[Europe/Berlin]");
        // An end inside the repeated hour: closed at its first occurrence, open again after.
        let ends = windows(&["Sun 01:00-02:30 Europe/Berlin"]);
        assert!(!ends.is_open(at("2026-10-25T00:45:00Z")), "02:45 CEST");
        let next = ends.next_open(at("2026-10-25T00:45:00Z")).expect("opens");
        assert_eq!(next.to_string(), "2026-10-25T02:00:00+01:00[Europe/Berlin]");
    }

    /// Every row of `tests/fixtures/windows/dst-2026.txt`, computed by Python's zoneinfo
    /// (`gen.py` beside it) under the semantics in this module's documentation.
    #[test]
    fn windows_agree_with_zoneinfo_around_the_2026_dst_nights() {
        let fixture = include_str!("../../tests/fixtures/windows/dst-2026.txt");
        let mut window = None;
        let (mut rows, mut wrong) = (0, Vec::new());
        for line in fixture.lines() {
            if let Some(text) = line.strip_prefix("# ") {
                let (_, spec) = text.split_once('|').expect("# ZONE|WINDOW");
                window = Some(windows(&[spec]));
                continue;
            }
            let fields: Vec<i64> = line
                .split(',')
                .map(|field| field.parse().expect("number"))
                .collect();
            let [instant, open, wait] = fields[..] else {
                panic!("bad row {line}");
            };
            let window = window.as_ref().expect("a window before its rows");
            let t = Timestamp::from_second(instant).expect("instant");
            let next = window
                .next_open(t)
                .map(|zoned| zoned.timestamp().as_second());
            if window.is_open(t) != (open == 1) || next != Some(instant + wait) {
                wrong.push(format!(
                    "{window} at {t}: zoneinfo open={open} next={}, rpatch open={} next={next:?}",
                    instant + wait,
                    window.is_open(t)
                ));
            }
            rows += 1;
        }
        assert!(rows > 10_000, "only {rows} rows");
        assert!(
            wrong.is_empty(),
            "{} of {rows} rows differ:\n{}",
            wrong.len(),
            wrong
                .iter()
                .take(20)
                .cloned()
                .collect::<Vec<_>>()
                .join("\n")
        );
    }

    /// The fixture is what Python's zoneinfo computes on this machine today (its tzdata), not
    /// a file that could drift from the reference: `gen.py` runs again and must print it.
    #[test]
    fn the_dst_fixture_is_what_python_zoneinfo_computes() {
        let dir = concat!(env!("CARGO_MANIFEST_DIR"), "/tests/fixtures/windows");
        let output = std::process::Command::new("python3")
            .arg(format!("{dir}/gen.py"))
            .output()
            .expect("this test needs python3 (with zoneinfo, Python 3.9 or later)");
        assert!(
            output.status.success(),
            "gen.py failed: {}",
            String::from_utf8_lossy(&output.stderr)
        );
        let fixture = include_str!("../../tests/fixtures/windows/dst-2026.txt");
        assert!(
            String::from_utf8_lossy(&output.stdout) == fixture,
            "tests/fixtures/windows/dst-2026.txt differs from what gen.py computes now"
        );
    }

    proptest::proptest! {
        #![proptest_config(proptest::prelude::ProptestConfig::with_cases(256))]

        /// `next_open` is the first minute at or after `t` at which `is_open` holds, for any
        /// window near any 2026 transition of zones with 1-hour, 30-minute and midnight changes.
        #[test]
        fn next_open_is_the_first_open_minute(
            zone in proptest::sample::select(vec![
                "Europe/Berlin", "America/New_York", "Australia/Sydney",
                "America/Santiago", "Australia/Lord_Howe", "UTC",
            ]),
            days in 1u8..128,
            shift in -8i64..8,
            length in 1u16..32,
            night in 0usize..2,
            offset in -180i64..180,
        ) {
            let tz = TimeZone::get(zone).expect("zone");
            let year = at("2026-01-01T00:00:00Z");
            let transitions: Vec<Timestamp> = tz
                .following(year)
                .map(|t| t.timestamp())
                .take_while(|t| *t < at("2027-01-01T00:00:00Z"))
                .collect();
            let base = transitions.get(night).copied().unwrap_or(year);
            let minutes = |delta: i64| {
                base.checked_add(jiff::SignedDuration::from_mins(delta))
                    .expect("in range")
            };
            // Start near the wall-clock time of the change, so folds and gaps are hit often.
            let wall = tz.to_datetime(minutes(shift * 15));
            let start = (u16::try_from(wall.hour()).unwrap_or(0) * 60
                + u16::try_from(wall.minute()).unwrap_or(0)) / 15 * 15;
            let end = (start + length * 15) % 1440;
            let end = if end == 0 { 1440 } else { end };
            proptest::prop_assume!(start != end);
            let text = format!(
                "{} {:02}:{:02}-{:02}:{:02} {zone}",
                (0..7)
                    .filter(|day| days & (1 << day) != 0)
                    .map(|day| DAY_NAMES[day].0)
                    .collect::<Vec<_>>()
                    .join(","),
                start / 60, start % 60, end / 60, end % 60
            );
            let t = minutes(offset);
            let window = windows(&[&text]);
            let next = window.next_open(t).expect("opens").timestamp();
            let mut scan = t;
            while !window.is_open(scan) {
                scan = scan
                    .checked_add(jiff::SignedDuration::from_mins(1))
                    .expect("in range");
                proptest::prop_assert!(scan <= next, "{text}: open at {scan}? next_open said {next}");
            }
            proptest::prop_assert_eq!(scan, next, "{} from {}", text, t);
        }
    }

    #[test]
    fn bad_windows_are_located_errors() {
        let cases = [
            ("\"Sat\"", "not `DAYS HH:MM-HH:MM [ZONE]`"),
            ("\"Sat 01:00\"", "not a range of hours"),
            ("\"Sat 1-6\"", "not a time like"),
            ("\"Sat 25:00-26:00\"", "not a time of day"),
            ("\"Sat 24:00-02:00\"", "not a time of day"),
            ("\"Sat 01:00-01:00\"", "is empty"),
            ("\"Sam 01:00-06:00\"", "`Sam` is not a day"),
            (
                "\"Sat 01:00-06:00 Mars/Olympus\"",
                "unknown time zone `Mars/Olympus`",
            ),
            ("[]", "list of windows is empty"),
            ("3", "found an integer"),
            ("[\"Sat 01:00-06:00\", \"Sun 1:00-6\"]", "not a time like"),
        ];
        for (text, message) in cases {
            let source = Source::new("play.yml", format!("window: {text}\n"));
            let doc = crate::yaml::parse(&source).expect("yaml");
            let error =
                Windows::from_node(doc.get("window").expect("window"), &source).expect_err(text);
            assert!(error.message.contains(message), "{text}: {}", error.message);
            let location = error.at.as_ref().expect("located").to_string();
            assert!(location.starts_with("play.yml:1:"), "{text}: {location}");
            assert!(error.hint.is_some());
        }
    }

    #[test]
    fn windows_display_as_written() {
        let both = windows(&["Sat,Sun   01:00-06:00", "Mon-Fri 22:00-02:00 Europe/Berlin"]);
        assert_eq!(
            both.to_string(),
            "Sat,Sun 01:00-06:00, Mon-Fri 22:00-02:00 Europe/Berlin"
        );
    }
}
