//! The Art. 12(3) clock: one month from receipt, clamped to the month's end, moved to the next
//! working day when it falls on a Saturday, Sunday or Swedish public holiday (Regulation 1182/71,
//! Art. 3(4)); midsommarafton, julafton and nyårsafton count as holidays. Pure.
use chrono::{Datelike, Days, Months, NaiveDate, Weekday};

/// Easter Sunday of `year` (the anonymous Gregorian algorithm).
pub fn easter(year: i32) -> NaiveDate {
    let a = year % 19;
    let b = year / 100;
    let c = year % 100;
    let d = b / 4;
    let e = b % 4;
    let f = (b + 8) / 25;
    let g = (b - f + 1) / 3;
    let h = (19 * a + b - d - g + 15) % 30;
    let i = c / 4;
    let k = c % 4;
    let l = (32 + 2 * e + 2 * i - h - k) % 7;
    let m = (a + 11 * h + 22 * l) / 451;
    let month = (h + l - 7 * m + 114) / 31;
    let day = (h + l - 7 * m + 114) % 31 + 1;
    NaiveDate::from_ymd_opt(year, month as u32, day as u32).unwrap_or_default()
}

/// The first `weekday` on or after `from`.
fn first_on_or_after(from: NaiveDate, weekday: Weekday) -> NaiveDate {
    let mut d = from;
    while d.weekday() != weekday {
        d = d.succ_opt().unwrap_or(d);
    }
    d
}

/// The Swedish public holidays of `year` (lag 1989:253), with midsommarafton, julafton and
/// nyårsafton, which Swedish time-limit law treats alike.
pub fn holidays(year: i32) -> Vec<(NaiveDate, &'static str)> {
    let date = |m, d| NaiveDate::from_ymd_opt(year, m, d).unwrap_or_default();
    let e = easter(year);
    let midsommarafton = first_on_or_after(date(6, 19), Weekday::Fri);
    vec![
        (date(1, 1), "nyårsdagen"),
        (date(1, 6), "trettondedag jul"),
        (e - Days::new(2), "långfredagen"),
        (e, "påskdagen"),
        (e + Days::new(1), "annandag påsk"),
        (date(5, 1), "första maj"),
        (e + Days::new(39), "Kristi himmelsfärdsdag"),
        (e + Days::new(49), "pingstdagen"),
        (date(6, 6), "Sveriges nationaldag"),
        (midsommarafton, "midsommarafton"),
        (midsommarafton + Days::new(1), "midsommardagen"),
        (
            first_on_or_after(date(10, 31), Weekday::Sat),
            "alla helgons dag",
        ),
        (date(12, 24), "julafton"),
        (date(12, 25), "juldagen"),
        (date(12, 26), "annandag jul"),
        (date(12, 31), "nyårsafton"),
    ]
}

pub fn is_working_day(d: NaiveDate) -> bool {
    !matches!(d.weekday(), Weekday::Sat | Weekday::Sun)
        && !holidays(d.year()).iter().any(|(h, _)| *h == d)
}

/// The deadline `months` calendar months after `received`: the same day of the month, or the
/// month's last day when it has none (31 January + 1 month = 28/29 February), then the next
/// working day.
pub fn due_date(received: NaiveDate, months: u32) -> NaiveDate {
    let mut d = received
        .checked_add_months(Months::new(months))
        .unwrap_or(received);
    while !is_working_day(d) {
        d = d.succ_opt().unwrap_or(d);
    }
    d
}

/// Days from `today` to `due`: negative when overdue.
pub fn days_left(today: NaiveDate, due: NaiveDate) -> i64 {
    (due - today).num_days()
}

#[cfg(test)]
mod tests {
    use super::*;

    fn d(y: i32, m: u32, day: u32) -> NaiveDate {
        NaiveDate::from_ymd_opt(y, m, day).unwrap()
    }

    #[test]
    fn easter_for_known_years() {
        assert_eq!(easter(2024), d(2024, 3, 31));
        assert_eq!(easter(2025), d(2025, 4, 20));
        assert_eq!(easter(2026), d(2026, 4, 5));
        assert_eq!(easter(2027), d(2027, 3, 28));
        assert_eq!(easter(2038), d(2038, 4, 25));
    }

    #[test]
    fn movable_holidays() {
        let h2026: Vec<NaiveDate> = holidays(2026).into_iter().map(|(d, _)| d).collect();
        for day in [
            d(2026, 4, 3),   // långfredagen
            d(2026, 4, 6),   // annandag påsk
            d(2026, 5, 14),  // Kristi himmelsfärd
            d(2026, 6, 19),  // midsommarafton
            d(2026, 6, 20),  // midsommardagen
            d(2026, 10, 31), // alla helgons dag
        ] {
            assert!(h2026.contains(&day), "{day}");
        }
        assert!(holidays(2027).iter().any(|(x, _)| *x == d(2027, 6, 25)));
        assert!(holidays(2027).iter().any(|(x, _)| *x == d(2027, 11, 6)));
    }

    #[test]
    fn a_month_from_receipt_clamped_to_the_months_end() {
        assert_eq!(due_date(d(2026, 3, 10), 1), d(2026, 4, 10));
        // 31 January: 28 February 2026 is a Saturday, so Monday 2 March.
        assert_eq!(due_date(d(2026, 1, 31), 1), d(2026, 3, 2));
        // Leap year: 29 February 2028 is a Tuesday.
        assert_eq!(due_date(d(2028, 1, 31), 1), d(2028, 2, 29));
        assert_eq!(due_date(d(2027, 1, 29), 1), d(2027, 3, 1)); // 28 Feb 2027 is a Sunday
        assert_eq!(due_date(d(2026, 8, 31), 1), d(2026, 9, 30));
    }

    #[test]
    fn weekends_and_holidays_move_to_the_next_working_day() {
        // 2026-02-07 is a Saturday.
        assert_eq!(due_date(d(2026, 1, 7), 1), d(2026, 2, 9));
        // Easter 2026: långfredagen 3 April → Tuesday 7 April (annandag påsk on the 6th).
        assert_eq!(due_date(d(2026, 3, 3), 1), d(2026, 4, 7));
        // Midsommarafton 2026 is Friday 19 June → Monday 22 June.
        assert_eq!(due_date(d(2026, 5, 19), 1), d(2026, 6, 22));
        // Julafton 2026 (Thursday) → 24, 25, 26 (Sat), 27 (Sun) → Monday 28 December.
        assert_eq!(due_date(d(2026, 11, 24), 1), d(2026, 12, 28));
        // Nyårsafton 2026 (Thursday) → nyårsdagen → weekend → Monday 4 January 2027.
        assert_eq!(due_date(d(2026, 11, 30), 1), d(2026, 12, 30));
        assert_eq!(due_date(d(2026, 12, 31), 1), d(2027, 2, 1)); // 31 Jan 2027 is a Sunday
        // Extension: received + 3 months.
        assert_eq!(due_date(d(2026, 3, 10), 3), d(2026, 6, 10));
        assert_eq!(days_left(d(2026, 6, 12), d(2026, 6, 10)), -2);
    }
}
