//! The interaction-consent ledger's rules: which interactions give consent, the purposes and their
//! legal bases (never confused), and the unpublish tasks a withdrawal creates. Pure.
use crate::vocabulary::vocabulary;

vocabulary!(
    /// What the municipality does with a person's data, each on its own legal basis.
    Purpose {
        Archiving => "archiving",
        PublicationOnChannel => "publication_on_channel",
    }
);

vocabulary!(
    LegalBasis {
        LegalObligation => "legal_obligation",
        Consent => "consent",
    }
);

vocabulary!(
    /// An entry of the ledger.
    ConsentEvent {
        Given => "given",
        Withdrawn => "withdrawn",
    }
);

vocabulary!(
    /// The interaction that gave consent.
    Interaction {
        Reaction => "reaction",
        Comment => "comment",
        Reply => "reply",
        Message => "message",
        // A visitor's post on the Page.
        Post => "post",
    }
);

vocabulary!(
    TaskStatus {
        Open => "open",
        Done => "done",
        NotPossible => "not_possible",
    }
);

vocabulary!(
    /// Why the social-media team must take something down.
    TaskReason {
        ConsentWithdrawn => "consent_withdrawn",
        Moderation => "moderation",
        Erasure => "erasure",
        Objection => "objection",
        Restriction => "restriction",
    }
);

vocabulary!(
    TaskAction {
        Hide => "hide",
        Remove => "remove",
    }
);

impl Interaction {
    /// The interactions that show on the channel, which a withdrawal takes down there (a message
    /// is between the person and the municipality, and shows nowhere).
    pub const PUBLISHED: [Interaction; 4] = [
        Interaction::Comment,
        Interaction::Reply,
        Interaction::Reaction,
        Interaction::Post,
    ];
}

impl Purpose {
    pub fn legal_basis(self) -> LegalBasis {
        match self {
            Purpose::Archiving => LegalBasis::LegalObligation,
            Purpose::PublicationOnChannel => LegalBasis::Consent,
        }
    }

    /// Where the basis comes from, as a privacy officer would cite it.
    pub fn source(self) -> &'static str {
        match self {
            Purpose::Archiving => {
                "GDPR art. 6.1 c and e; arkivlagen (1990:782); tryckfrihetsförordningen 2 kap."
            }
            Purpose::PublicationOnChannel => {
                "GDPR art. 6.1 a and 7; the municipality's social-media policy: liking, reacting, commenting or sending a private message counts as consent to appear on the account and the post"
            }
        }
    }

    /// Withdrawing consent stops publication only; the archive runs on a legal obligation.
    pub fn withdrawable(self) -> bool {
        self.legal_basis() == LegalBasis::Consent
    }
}

/// The interaction a record is, if it gives consent: something a member of the public did (received,
/// with a known author) by reacting, commenting, replying, posting on the Page or writing a
/// message. The municipality's own posts and replies give none.
pub fn interaction_of(kind: &str, direction: &str, has_author: bool) -> Option<Interaction> {
    if direction != "received" || !has_author {
        return None;
    }
    Interaction::parse(kind)
}

/// A link the social-media team can open to find the item on the platform.
pub fn item_link(platform: &str, kind: &str, platform_id: &str, parent: Option<&str>) -> String {
    // A reaction has no page of its own: it is taken down where its target is.
    let (target, target_kind) = match (kind, parent) {
        ("reaction", Some(p)) => (p, "comment"),
        _ => (platform_id, kind),
    };
    match (platform, target_kind) {
        ("messenger", _) | (_, "message") => {
            "https://business.facebook.com/latest/inbox".to_owned()
        }
        ("facebook", _) => format!("https://www.facebook.com/{target}"),
        ("instagram", _) => "https://www.instagram.com/".to_owned(),
        ("x", _) => format!("https://x.com/i/web/status/{target}"),
        ("youtube", _) => format!("https://www.youtube.com/watch?v={target}"),
        _ => format!("{platform}:{target}"),
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn only_interactions_of_the_public_give_consent() {
        assert_eq!(
            interaction_of("comment", "received", true),
            Some(Interaction::Comment)
        );
        assert_eq!(
            interaction_of("reaction", "received", true),
            Some(Interaction::Reaction)
        );
        assert_eq!(interaction_of("reply", "drawn_up", true), None);
        // A visitor's post on the Page is theirs; the Page's own is the municipality's.
        assert_eq!(
            interaction_of("post", "received", true),
            Some(Interaction::Post)
        );
        assert_eq!(interaction_of("post", "drawn_up", true), None);
        assert_eq!(interaction_of("comment", "received", false), None);
    }

    #[test]
    fn bases_are_kept_apart() {
        assert_eq!(
            Purpose::Archiving.legal_basis(),
            LegalBasis::LegalObligation
        );
        assert!(!Purpose::Archiving.withdrawable());
        assert_eq!(
            Purpose::PublicationOnChannel.legal_basis(),
            LegalBasis::Consent
        );
        assert!(Purpose::PublicationOnChannel.withdrawable());
    }

    #[test]
    fn links_point_at_the_item_or_its_target() {
        assert_eq!(
            item_link("facebook", "comment", "1_2", Some("1")),
            "https://www.facebook.com/1_2"
        );
        assert_eq!(
            item_link("facebook", "reaction", "1_2/reaction/9", Some("1_2")),
            "https://www.facebook.com/1_2"
        );
        assert!(item_link("facebook", "message", "m_1", Some("t_1")).contains("inbox"));
    }
}
