//! Retention: which disposal decision governs a record, from when it may be disposed of, and
//! whether a legal hold keeps it. Pure: no HTTP, no database.
//!
//! Arkivlagen allows disposal (gallring) only under a decision. A record that no decision covers is
//! kept. When several decisions cover a record, the one allowing disposal latest governs: disposing
//! earlier would break the stricter decision.
use chrono::{Months, NaiveDate};
use serde::{Deserialize, Serialize};

/// The longest period a rule may give, in years (or as many months, or days at 366 a year).
const MAX_YEARS: u32 = 1000;

/// How long a rule keeps what it covers: an ISO 8601 period counted from the platform time, or
/// never disposed of.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum Keep {
    For { years: u32, months: u32, days: u32 },
    Forever,
}

impl Keep {
    /// `P3Y`, `P6M`, `P1Y6M`, `P2W`, `P90D`, … or `never`.
    pub fn parse(s: &str) -> Result<Keep, String> {
        if s == "never" {
            return Ok(Keep::Forever);
        }
        let body = s
            .strip_prefix('P')
            .ok_or("must be an ISO 8601 period such as P3Y or P6M, or `never`")?;
        if body.is_empty() || body.contains('T') {
            return Err("must be a period of years, months, weeks or days, such as P3Y".into());
        }
        let (mut years, mut months, mut days) = (0u32, 0u32, 0u32);
        let mut number = String::new();
        let mut last_unit = 0;
        for c in body.chars() {
            if c.is_ascii_digit() {
                number.push(c);
                continue;
            }
            let n: u32 = number
                .parse()
                .map_err(|_| format!("a number must come before `{c}`"))?;
            number.clear();
            let order = match c {
                'Y' => 1,
                'M' => 2,
                'W' => 3,
                'D' => 4,
                _ => {
                    return Err(format!(
                        "`{c}` is not a unit of years, months, weeks or days"
                    ));
                }
            };
            if order <= last_unit {
                return Err("units must come in the order Y, M, W, D, each once".into());
            }
            last_unit = order;
            let too_long = || format!("more than {MAX_YEARS} years: use `never`");
            match c {
                'Y' => years = n,
                'M' => months = n,
                'W' => days = n.checked_mul(7).ok_or_else(too_long)?,
                _ => days = days.checked_add(n).ok_or_else(too_long)?,
            }
        }
        if !number.is_empty() {
            return Err("a number must end with a unit (Y, M, W or D)".into());
        }
        // Each part on its own, so that no sum of them can overflow when the date is computed.
        if years > MAX_YEARS || months > MAX_YEARS * 12 || days > MAX_YEARS * 366 {
            return Err(format!("more than {MAX_YEARS} years: use `never`"));
        }
        Ok(Keep::For {
            years,
            months,
            days,
        })
    }

    /// The date from which a record made on `from` may be disposed of; `None` for never. Months
    /// are calendar months, clamped to the month's end (29 February + 1 year = 28 February).
    pub fn disposable_from(self, from: NaiveDate) -> Option<NaiveDate> {
        match self {
            Keep::Forever => None,
            Keep::For {
                years,
                months,
                days,
            } => {
                // A period no date can reach (one stored before periods were bounded) keeps the
                // record: disposing of it early would be the one mistake that cannot be undone.
                let months = years.checked_mul(12)?.checked_add(months)?;
                from.checked_add_months(Months::new(months))
                    .and_then(|d| d.checked_add_days(chrono::Days::new(days as u64)))
            }
        }
    }
}

impl std::fmt::Display for Keep {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        match self {
            Keep::Forever => f.write_str("never"),
            Keep::For {
                years,
                months,
                days,
            } => {
                f.write_str("P")?;
                if *years > 0 {
                    write!(f, "{years}Y")?;
                }
                if *months > 0 {
                    write!(f, "{months}M")?;
                }
                if *days > 0 || (*years == 0 && *months == 0) {
                    write!(f, "{days}D")?;
                }
                Ok(())
            }
        }
    }
}

/// One rule of a disposal decision: what it covers (every condition given must hold) and for how
/// long it keeps it.
#[derive(Clone, Debug, PartialEq, Eq, Serialize, Deserialize)]
pub struct DisposalRule {
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub kind: Option<String>,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub direction: Option<String>,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub channel_id: Option<i64>,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub registered: Option<bool>,
    /// An ISO 8601 period (`P3Y`) or `never`.
    pub keep: String,
}

/// What retention needs to know of a record.
#[derive(Clone, Debug)]
pub struct RecordFacts<'a> {
    pub id: i64,
    pub kind: &'a str,
    pub direction: &'a str,
    pub channel_id: i64,
    pub registered: bool,
    pub author_identity_id: Option<i64>,
    /// The person a message of the municipality's was sent to.
    pub recipient_identity_id: Option<i64>,
    /// The municipality's day of the platform's time, or of the time it reached the archive when
    /// the platform gave none: periods run from the local day, as every other date here.
    pub made_on: NaiveDate,
}

impl DisposalRule {
    pub fn covers(&self, r: &RecordFacts) -> bool {
        self.kind.as_deref().is_none_or(|k| k == r.kind)
            && self.direction.as_deref().is_none_or(|d| d == r.direction)
            && self.channel_id.is_none_or(|c| c == r.channel_id)
            && self.registered.is_none_or(|g| g == r.registered)
    }
}

/// A disposal decision as retention reads it.
#[derive(Clone, Debug)]
pub struct Decision {
    pub id: i64,
    pub reference: String,
    /// The day it was made: it allows nothing before then, whatever its periods say.
    pub decided_on: NaiveDate,
    pub rules: Vec<DisposalRule>,
}

/// The decision that governs a record and the date from which it may be disposed of.
#[derive(Clone, Debug, PartialEq, Eq)]
pub enum Retention {
    /// No decision covers the record: it is kept (no disposal without a decision).
    NoDecision,
    /// Covered, and a decision keeps it for ever.
    Permanent { decision_id: i64, reference: String },
    DisposableFrom {
        decision_id: i64,
        reference: String,
        date: NaiveDate,
    },
}

/// The first rule of each decision that covers the record; of those, the latest disposal wins.
pub fn retention_of(r: &RecordFacts, decisions: &[Decision]) -> Retention {
    let mut best = Retention::NoDecision;
    for d in decisions {
        let Some(rule) = d.rules.iter().find(|rule| rule.covers(r)) else {
            continue;
        };
        let Ok(keep) = Keep::parse(&rule.keep) else {
            continue;
        };
        let candidate = match keep.disposable_from(r.made_on) {
            None => Retention::Permanent {
                decision_id: d.id,
                reference: d.reference.clone(),
            },
            Some(date) => Retention::DisposableFrom {
                decision_id: d.id,
                reference: d.reference.clone(),
                date: date.max(d.decided_on),
            },
        };
        best = match (&best, &candidate) {
            (Retention::NoDecision, _) => candidate,
            (Retention::Permanent { .. }, _) => best,
            (_, Retention::Permanent { .. }) => candidate,
            (
                Retention::DisposableFrom { date: a, .. },
                Retention::DisposableFrom { date: b, .. },
            ) if b > a => candidate,
            _ => best,
        };
    }
    best
}

/// What a legal hold covers.
#[derive(Clone, Debug, PartialEq, Eq)]
pub enum HoldScope {
    Records(Vec<i64>),
    Identity(i64),
    Channel(i64),
}

#[derive(Clone, Debug)]
pub struct Hold {
    pub id: i64,
    pub scope: HoldScope,
    pub from: NaiveDate,
    pub until: Option<NaiveDate>,
}

impl Hold {
    pub fn in_force(&self, today: NaiveDate) -> bool {
        self.from <= today && self.until.is_none_or(|u| today <= u)
    }

    pub fn covers(&self, r: &RecordFacts, today: NaiveDate) -> bool {
        self.in_force(today)
            && match &self.scope {
                HoldScope::Records(ids) => ids.contains(&r.id),
                // A hold over a person keeps what concerns them: what they wrote, and what the
                // municipality sent them.
                HoldScope::Identity(i) => {
                    r.author_identity_id == Some(*i) || r.recipient_identity_id == Some(*i)
                }
                HoldScope::Channel(c) => r.channel_id == *c,
            }
    }
}

/// Whether the disposal job may dispose of the record today, and if not, why not.
#[derive(Clone, Debug, PartialEq, Eq)]
pub enum Disposal {
    Dispose { decision_id: i64 },
    Keep(KeepReason),
}

#[derive(Clone, Debug, PartialEq, Eq)]
pub enum KeepReason {
    NoDecision,
    Permanent,
    NotYet(NaiveDate),
    Registered,
    Held(i64),
}

pub fn disposal_of(
    r: &RecordFacts,
    decisions: &[Decision],
    holds: &[Hold],
    today: NaiveDate,
) -> Disposal {
    if let Some(h) = holds.iter().find(|h| h.covers(r, today)) {
        return Disposal::Keep(KeepReason::Held(h.id));
    }
    // Registered documents leave the archive only through the registry, never by a sweep.
    if r.registered {
        return Disposal::Keep(KeepReason::Registered);
    }
    match retention_of(r, decisions) {
        Retention::NoDecision => Disposal::Keep(KeepReason::NoDecision),
        Retention::Permanent { .. } => Disposal::Keep(KeepReason::Permanent),
        Retention::DisposableFrom {
            decision_id, date, ..
        } if date <= today => Disposal::Dispose { decision_id },
        Retention::DisposableFrom { date, .. } => Disposal::Keep(KeepReason::NotYet(date)),
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use chrono::{TimeZone, Utc};

    fn facts(kind: &str, registered: bool) -> RecordFacts<'_> {
        RecordFacts {
            id: 7,
            kind,
            direction: "received",
            channel_id: 1,
            registered,
            author_identity_id: Some(3),
            recipient_identity_id: None,
            made_on: NaiveDate::from_ymd_opt(2024, 2, 29).unwrap(),
        }
    }

    fn date(y: i32, m: u32, d: u32) -> NaiveDate {
        NaiveDate::from_ymd_opt(y, m, d).unwrap()
    }

    #[test]
    fn periods_parse_and_print() {
        assert_eq!(
            Keep::parse("P3Y"),
            Ok(Keep::For {
                years: 3,
                months: 0,
                days: 0
            })
        );
        assert_eq!(Keep::parse("P1Y6M").unwrap().to_string(), "P1Y6M");
        assert_eq!(Keep::parse("P2W").unwrap().to_string(), "P14D");
        assert_eq!(Keep::parse("never"), Ok(Keep::Forever));
        for bad in [
            "3Y",
            "P",
            "PT5H",
            "P3",
            "PY",
            "P3M2Y",
            "P3X",
            "P1Y1Y",
            "P5000Y",
            "P1000Y4294955296M",
            "P613566757W",
            "P1W4294967295D",
            "P99999999999D",
        ] {
            assert!(Keep::parse(bad).is_err(), "{bad} should not parse");
        }
        assert!(Keep::parse("P1000Y12000M366000D").is_ok());
        // A period stored before periods were bounded keeps its records rather than wrapping.
        let stored = Keep::For {
            years: 1000,
            months: u32::MAX - 11_000,
            days: 0,
        };
        assert_eq!(stored.disposable_from(Utc::now().date_naive()), None);
    }

    #[test]
    fn disposal_date_counts_calendar_months_and_clamps_leap_days() {
        let k = Keep::parse("P1Y").unwrap();
        assert_eq!(
            k.disposable_from(date(2024, 2, 29)),
            Some(date(2025, 2, 28))
        );
        let k = Keep::parse("P1M10D").unwrap();
        assert_eq!(
            k.disposable_from(date(2025, 1, 31)),
            Some(date(2025, 3, 10))
        );
    }

    #[test]
    fn a_record_counts_from_the_municipalitys_day_not_utcs() {
        // 23:30 UTC on 1 March is 00:30 on 2 March in Stockholm.
        let late = Utc.with_ymd_and_hms(2024, 3, 1, 23, 30, 0).unwrap();
        let record = entities::record::Model {
            id: 1,
            channel_id: 1,
            kind: "comment".into(),
            platform_id: "1_2".into(),
            parent_platform_id: None,
            parent_id: None,
            author_identity_id: None,
            direction: "received".into(),
            platform_time: Some(late),
            archived_at: late,
            text: None,
            reaction_type: None,
            attachments: "[]".into(),
            visibility: "visible".into(),
            registration_number: None,
            version_count: 1,
            current_hash: String::new(),
            classified: false,
            restricted_by: None,
            recipient_identity_id: None,
        };
        let f = crate::retention::store::facts(&record, chrono_tz::Europe::Stockholm);
        assert_eq!(f.made_on, date(2024, 3, 2));
        let k = Keep::parse("P1Y").unwrap();
        assert_eq!(k.disposable_from(f.made_on), Some(date(2025, 3, 2)));
    }

    fn decision(id: i64, rules: &[(&str, &str)]) -> Decision {
        Decision {
            id,
            reference: format!("KS {id}"),
            decided_on: date(2024, 1, 1),
            rules: rules
                .iter()
                .map(|(kind, keep)| DisposalRule {
                    kind: (!kind.is_empty()).then(|| kind.to_string()),
                    direction: None,
                    channel_id: None,
                    registered: None,
                    keep: keep.to_string(),
                })
                .collect(),
        }
    }

    #[test]
    fn no_decision_means_kept_and_the_latest_disposal_governs() {
        let r = facts("reaction", false);
        assert_eq!(retention_of(&r, &[]), Retention::NoDecision);
        assert_eq!(
            retention_of(&r, &[decision(1, &[("comment", "P1Y")])]),
            Retention::NoDecision
        );
        let got = retention_of(
            &r,
            &[
                decision(1, &[("reaction", "P1Y")]),
                decision(2, &[("", "P2Y")]),
            ],
        );
        assert_eq!(
            got,
            Retention::DisposableFrom {
                decision_id: 2,
                reference: "KS 2".into(),
                date: date(2026, 2, 28)
            }
        );
        let got = retention_of(
            &r,
            &[decision(1, &[("", "never")]), decision(2, &[("", "P2Y")])],
        );
        assert!(matches!(got, Retention::Permanent { decision_id: 1, .. }));
    }

    #[test]
    fn a_decision_allows_nothing_before_the_day_it_was_made() {
        // A reaction of 2024-02-29 kept for a year, under a decision made in 2026 (or to be made
        // in 2099): disposable from the decision's day, not from 2025.
        let r = facts("reaction", false);
        for made in [date(2026, 6, 1), date(2099, 1, 1)] {
            let d = Decision {
                decided_on: made,
                ..decision(1, &[("", "P1Y")])
            };
            assert_eq!(
                retention_of(&r, std::slice::from_ref(&d)),
                Retention::DisposableFrom {
                    decision_id: 1,
                    reference: "KS 1".into(),
                    date: made
                }
            );
            assert_eq!(
                disposal_of(&r, &[d], &[], date(2026, 1, 1)),
                Disposal::Keep(KeepReason::NotYet(made))
            );
        }
    }

    #[test]
    fn holds_and_registration_keep_what_a_decision_would_dispose_of() {
        let decisions = [decision(1, &[("", "P1Y")])];
        let today = date(2026, 1, 1);
        let r = facts("comment", false);
        assert_eq!(
            disposal_of(&r, &decisions, &[], today),
            Disposal::Dispose { decision_id: 1 }
        );
        assert_eq!(
            disposal_of(&r, &decisions, &[], date(2025, 2, 27)),
            Disposal::Keep(KeepReason::NotYet(date(2025, 2, 28)))
        );
        let hold = |scope, until| Hold {
            id: 9,
            scope,
            from: date(2025, 6, 1),
            until,
        };
        for scope in [
            HoldScope::Records(vec![7]),
            HoldScope::Identity(3),
            HoldScope::Channel(1),
        ] {
            assert_eq!(
                disposal_of(&r, &decisions, &[hold(scope.clone(), None)], today),
                Disposal::Keep(KeepReason::Held(9))
            );
            // A hold that has ended holds nothing.
            assert_eq!(
                disposal_of(
                    &r,
                    &decisions,
                    &[hold(scope, Some(date(2025, 12, 31)))],
                    today
                ),
                Disposal::Dispose { decision_id: 1 }
            );
        }
        assert_eq!(
            disposal_of(&facts("comment", true), &decisions, &[], today),
            Disposal::Keep(KeepReason::Registered)
        );
        // A hold over a person keeps the municipality's message to them too.
        let sent = RecordFacts {
            direction: "drawn_up",
            author_identity_id: Some(1),
            recipient_identity_id: Some(3),
            ..facts("message", false)
        };
        let over = |who| [hold(HoldScope::Identity(who), None)];
        assert_eq!(
            disposal_of(&sent, &decisions, &over(3), today),
            Disposal::Keep(KeepReason::Held(9))
        );
        assert_eq!(
            disposal_of(&sent, &decisions, &over(4), today),
            Disposal::Dispose { decision_id: 1 }
        );
    }
}
