//! The comment rules, moderation actions and registration numbers (diarienummer). Pure.
use crate::vocabulary::vocabulary;

vocabulary!(
    /// The eight comment rules of the municipality's policy.
    CommentRule {
        Defamation => "defamation",
        HateOrHarassment => "hate_or_harassment",
        UnlawfulViolenceOrPornography => "unlawful_violence_or_pornography",
        IncitementToCrime => "incitement_to_crime",
        Copyright => "copyright",
        Profanity => "profanity",
        GdprViolation => "gdpr_violation",
        ClassifiedInformation => "classified_information",
    }
);

vocabulary!(
    /// What the social-media team does about a record that breaks a rule.
    ModerationAction {
        Hide => "hide",
        Remove => "remove",
        BlockAuthor => "block_author",
        ReportToPolice => "report_to_police",
    }
);

vocabulary!(
    /// Why something was registered.
    RegistrationReason {
        RuleBreaking => "rule_breaking",
        IndividualMatter => "individual_matter",
        Request => "request",
    }
);

impl CommentRule {
    /// Classified content is restricted: only officers see it.
    pub fn restricts(self) -> bool {
        self == CommentRule::ClassifiedInformation
    }
}

/// A registration number from a pattern with `{series}`, `{year}` and `{seq}` (six digits, zero
/// padded): the default `{series} {year}-{seq}` gives `KS 2026-000123`.
pub fn format_number(pattern: &str, series: &str, year: i32, seq: i64) -> String {
    pattern
        .replace("{series}", series)
        .replace("{year}", &year.to_string())
        .replace("{seq}", &format!("{seq:06}"))
}

/// A pattern must place the sequence, or numbers would repeat.
pub fn check_pattern(pattern: &str) -> Result<(), String> {
    if !pattern.contains("{seq}") {
        return Err("the registration number pattern must contain {seq}".into());
    }
    if !pattern.contains("{year}") {
        return Err(
            "the registration number pattern must contain {year}: sequences restart each year"
                .into(),
        );
    }
    Ok(())
}

/// A series is a short code of letters, digits and a few separators (`KS`, `BUN`, `SBN-D`).
pub fn check_series(series: &str) -> Result<(), String> {
    if series.is_empty() || series.chars().count() > 16 {
        return Err("must be 1 to 16 characters".into());
    }
    if !series
        .chars()
        .all(|c| c.is_alphanumeric() || matches!(c, '-' | '.' | '/'))
    {
        return Err("may hold letters, digits, '-', '.' and '/' only".into());
    }
    Ok(())
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn numbers_follow_the_pattern() {
        assert_eq!(
            format_number("{series} {year}-{seq}", "KS", 2026, 123),
            "KS 2026-000123"
        );
        assert_eq!(
            format_number("{year}/{seq} {series}", "BUN", 2027, 1),
            "2027/000001 BUN"
        );
        assert!(check_pattern("{series} {year}").is_err());
        assert!(check_pattern("{series}-{seq}").is_err());
        assert!(check_pattern("{series} {year}-{seq}").is_ok());
    }

    #[test]
    fn every_rule_and_action_round_trips() {
        assert_eq!(CommentRule::ALL.len(), 8);
        for r in CommentRule::ALL {
            assert_eq!(CommentRule::parse(r.as_str()), Some(*r));
        }
        for a in ModerationAction::ALL {
            assert_eq!(ModerationAction::parse(a.as_str()), Some(*a));
        }
        assert!(CommentRule::ClassifiedInformation.restricts());
        assert!(!CommentRule::Profanity.restricts());
        assert!(check_series("KS").is_ok());
        assert!(check_series("").is_err());
        assert!(check_series("K S").is_err());
    }
}
