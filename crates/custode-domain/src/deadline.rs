//! The legal deadline of a rights request (GDPR Art. 12(3)), counted as
//! Regulation (EEC, Euratom) No 1182/71 counts: the day of receipt is not
//! counted; a period in months ends with the day of the same date in the
//! last month, or that month's last day when it has no such date; a period
//! ending on a Saturday, Sunday or public holiday of the member state ends
//! with the next working day. The stricter of the law and the controller's
//! own promise (e.g. "within 30 days") applies.

use jiff::Span;
use jiff::civil::{Date, Weekday};

/// Easter Sunday in the Gregorian calendar (Meeus/Jones/Butcher).
pub fn easter(year: i16) -> Option<Date> {
    let y = i32::from(year);
    let a = y % 19;
    let b = y / 100;
    let c = y % 100;
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
    Date::new(year, i8::try_from(month).ok()?, i8::try_from(day).ok()?).ok()
}

/// Whether a day is a public holiday of the member state (IT and FR are
/// known; elsewhere only weekends are counted, and the caller is told so by
/// [`knows_holidays_of`]).
pub fn is_public_holiday(country: &str, day: Date) -> bool {
    let (y, m, d) = (day.year(), day.month(), day.day());
    let easter_offset = |offset: i64| {
        easter(y)
            .and_then(|e| e.checked_add(Span::new().days(offset)).ok())
            .is_some_and(|h| h == day)
    };
    match country {
        "IT" => {
            matches!(
                (m, d),
                (1, 1) | (1, 6) | (4, 25) | (5, 1) | (6, 2) | (8, 15) | (11, 1) | (12, 8) | (12, 25) | (12, 26)
            ) || easter_offset(0)
                || easter_offset(1)
                // Saint Francis of Assisi, national holiday again from 2026
                // (Law 151 of 8 October 2025).
                || (y >= 2026 && (m, d) == (10, 4))
        }
        "FR" => {
            matches!(
                (m, d),
                (1, 1) | (5, 1) | (5, 8) | (7, 14) | (8, 15) | (11, 1) | (11, 11) | (12, 25)
            ) || easter_offset(1)
                || easter_offset(39)
                || easter_offset(50)
        }
        _ => false,
    }
}

/// Whether the public holidays of a member state are known here.
pub fn knows_holidays_of(country: &str) -> bool {
    matches!(country, "IT" | "FR")
}

/// The first working day from `day` on.
pub fn working_day_from(country: &str, mut day: Date) -> Date {
    while matches!(day.weekday(), Weekday::Saturday | Weekday::Sunday)
        || is_public_holiday(country, day)
    {
        match day.tomorrow() {
            Ok(next) => day = next,
            Err(_) => break,
        }
    }
    day
}

/// The last day to answer a request received on `received`: one month
/// (three with the Art. 12(3) extension) by Regulation 1182/71, or the
/// controller's promised number of days when that ends earlier.
pub fn answer_due(
    received: Date,
    country: &str,
    extended: bool,
    promised_days: Option<u16>,
) -> Date {
    let months = if extended { 3 } else { 1 };
    // Date arithmetic in months clamps to the month's last day, as Art. 3(2)(c) says.
    let by_law = received
        .checked_add(Span::new().months(months))
        .map_or(received, |end| working_day_from(country, end));
    match promised_days {
        // The promise binds as written: it is not moved past a holiday.
        Some(days) if !extended => received
            .checked_add(Span::new().days(i64::from(days)))
            .map_or(by_law, |promise| promise.min(by_law)),
        _ => by_law,
    }
}

/// A date from its ISO form, for the command line and tests.
pub fn parse_date(iso: &str) -> Option<Date> {
    iso.parse::<Date>().ok()
}

#[cfg(test)]
mod tests {
    use super::*;

    fn d(y: i16, m: i8, day: i8) -> Date {
        jiff::civil::date(y, m, day)
    }

    fn check(received: Date, country: &str, extended: bool, due: Date) {
        assert_eq!(
            answer_due(received, country, extended, None),
            due,
            "received {received} in {country}, extended {extended}"
        );
    }

    #[test]
    fn the_examples_of_law_md() {
        check(d(2025, 1, 31), "IT", false, d(2025, 2, 28));
        check(d(2025, 1, 31), "IT", true, d(2025, 4, 30));
        check(d(2025, 2, 1), "IT", false, d(2025, 3, 3)); // 1 March is a Saturday
        check(d(2025, 2, 1), "IT", true, d(2025, 5, 2)); // 1 May is a holiday
        check(d(2025, 2, 1), "FR", true, d(2025, 5, 2));
    }

    #[test]
    fn month_ends_and_leap_years() {
        check(d(2024, 1, 31), "IT", false, d(2024, 2, 29)); // leap year
        check(d(2024, 1, 29), "IT", false, d(2024, 2, 29));
        check(d(2023, 1, 31), "IT", false, d(2023, 2, 28));
        check(d(2025, 4, 30), "IT", false, d(2025, 5, 30));
        check(d(2025, 3, 31), "IT", false, d(2025, 4, 30));
        check(d(2025, 12, 15), "IT", false, d(2026, 1, 15)); // across the year
    }

    #[test]
    fn national_holidays_move_the_deadline() {
        // Easter Monday 2025 is 21 April, in both countries.
        check(d(2025, 3, 21), "IT", false, d(2025, 4, 22));
        check(d(2025, 3, 21), "FR", false, d(2025, 4, 22));
        // 25 April is Liberation Day in Italy only.
        check(d(2025, 3, 25), "IT", false, d(2025, 4, 28));
        check(d(2025, 3, 25), "FR", false, d(2025, 4, 25));
        // 14 July is a holiday in France only.
        check(d(2025, 6, 14), "FR", false, d(2025, 7, 15));
        check(d(2025, 6, 14), "IT", false, d(2025, 7, 14));
        // Christmas and Saint Stephen, then a weekend.
        check(d(2026, 11, 25), "IT", false, d(2026, 12, 28));
    }

    #[test]
    fn easter_dates() {
        assert_eq!(easter(2024), Some(d(2024, 3, 31)));
        assert_eq!(easter(2025), Some(d(2025, 4, 20)));
        assert_eq!(easter(2026), Some(d(2026, 4, 5)));
        assert_eq!(easter(2038), Some(d(2038, 4, 25)));
    }

    #[test]
    fn the_stricter_promise_applies() {
        // "Within thirty days": received 31 January, due 2 March by promise,
        // 28 February by law: the law is stricter here.
        assert_eq!(
            answer_due(d(2025, 1, 31), "IT", false, Some(30)),
            d(2025, 2, 28)
        );
        // Received 1 July: 31 July by promise, 1 August by law.
        assert_eq!(
            answer_due(d(2025, 7, 1), "IT", false, Some(30)),
            d(2025, 7, 31)
        );
    }
}
