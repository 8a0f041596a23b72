//! The mails a person gets about their request, in Swedish or English, plain text and HTML, with
//! the reference in the subject line. Pure.
use crate::mail::rules::{Language, Rendered, SECRET_MARK, layout};
use chrono::NaiveDate;

fn type_name(lang: Language, t: &str) -> &'static str {
    match (lang, t) {
        (Language::Sv, "access") => "registerutdrag (tillgång till dina uppgifter)",
        (Language::Sv, "export") => "dataportabilitet (export av dina uppgifter)",
        (Language::Sv, "erasure") => "radering",
        (Language::Sv, "rectification") => "rättelse",
        (Language::Sv, "restriction") => "begränsning av behandling",
        (Language::Sv, "objection") => "invändning mot behandling",
        (Language::Sv, _) => "återkallelse av samtycke",
        (Language::En, "access") => "access to your data",
        (Language::En, "export") => "data portability (an export of your data)",
        (Language::En, "erasure") => "erasure",
        (Language::En, "rectification") => "rectification",
        (Language::En, "restriction") => "restriction of processing",
        (Language::En, "objection") => "objection to processing",
        (Language::En, _) => "withdrawal of consent",
    }
}

pub struct Case<'a> {
    pub lang: Language,
    pub reference: &'a str,
    pub request_type: &'a str,
    pub due: NaiveDate,
    /// The request's status page, without the token.
    pub status_page: &'a str,
    /// The status token, which opens the page: shown to the person in this mail only.
    pub token: &'a str,
}

pub fn receipt(c: &Case) -> Rendered {
    let link = format!("{}?token={SECRET_MARK}", c.status_page);
    let mail = match c.lang {
        Language::Sv => layout(
            c.lang,
            &format!("Vi har tagit emot din begäran – {}", c.reference),
            &[
                "Hej!".into(),
                format!(
                    "Vi har tagit emot din begäran om {}. Ditt ärende har referensnumret {}.",
                    type_name(c.lang, c.request_type),
                    c.reference
                ),
                format!(
                    "Vi svarar senast {}. Enligt dataskyddsförordningen (artikel 12.3) ska vi svara inom en månad; om ärendet är komplicerat kan tiden förlängas, och då får du veta varför.",
                    c.due
                ),
                "Innan vi kan behandla begäran behöver vi veta att det är du. Du får en kod i ett separat mejl som du anger på statussidan.".into(),
                format!("Här kan du följa ditt ärende: {link}"),
                "Länken är personlig. Dela den inte med någon annan.".into(),
            ],
        ),
        Language::En => layout(
            c.lang,
            &format!("We have received your request – {}", c.reference),
            &[
                "Hello,".into(),
                format!(
                    "We have received your request for {}. Its reference is {}.",
                    type_name(c.lang, c.request_type),
                    c.reference
                ),
                format!(
                    "We will answer by {} at the latest. The GDPR (Article 12(3)) gives us one month; if the request is complex the time may be extended, and we will tell you why.",
                    c.due
                ),
                "Before we can act on the request we need to know that it is you. A code follows in a separate email; enter it on the status page.".into(),
                format!("Follow your request here: {link}"),
                "The link is personal. Do not share it.".into(),
            ],
        ),
    };
    Rendered {
        secret: Some(c.token.to_owned()),
        ..mail
    }
}

/// Why a request's status link was replaced.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum Renewal {
    /// The address was confirmed by its code: the link given at submission was shown to whoever
    /// submitted, and the receipt's went to the address; from now on only the address's holder
    /// has one.
    AddressConfirmed,
    /// The first proof of who the person is (an officer's check, or a message from their account)
    /// while the address was unconfirmed.
    PersonConfirmed,
}

/// The status link after it was replaced (see [`Renewal`]): it goes to the address alone, and
/// whoever else holds the first link (someone who filed the request in another's name) is shut
/// out.
pub fn new_link(c: &Case, why: Renewal) -> Rendered {
    let link = format!("{}?token={SECRET_MARK}", c.status_page);
    let r = c.reference;
    // What happened, and whom to call if it was not them: the rest of the mail is the same.
    let (what, not_you) = match (c.lang, why) {
        (Language::Sv, Renewal::AddressConfirmed) => (
            format!(
                "Du har bekräftat din e-postadress för ärende {r}. Ärendet har därför fått en ny personlig länk, som bara skickas till den här e-postadressen. Länken i vårt första mejl fungerar inte längre."
            ),
            "Om det inte var du som bekräftade adressen, kontakta oss genom att svara på det här mejlet.",
        ),
        (Language::Sv, Renewal::PersonConfirmed) => (
            format!(
                "Det är nu bekräftat att ärende {r} gäller dig: vi har kontrollerat din identitet, eller fått ett meddelande från ditt konto. Ärendet har därför fått en ny personlig länk, som bara skickas till den här e-postadressen. Den tidigare länken fungerar inte längre."
            ),
            "Om du inte känner igen ärendet, kontakta oss genom att svara på det här mejlet.",
        ),
        (Language::En, Renewal::AddressConfirmed) => (
            format!(
                "You have confirmed your email address for request {r}. The request therefore has a new personal link, sent only to this email address. The link in our first email no longer works."
            ),
            "If it was not you who confirmed the address, contact us by replying to this email.",
        ),
        (Language::En, Renewal::PersonConfirmed) => (
            format!(
                "It is now confirmed that request {r} concerns you: we have checked your identity, or received a message from your account. The request therefore has a new personal link, sent only to this email address. The earlier link no longer works."
            ),
            "If you do not recognise the request, contact us by replying to this email.",
        ),
    };
    let mail = match c.lang {
        Language::Sv => layout(
            c.lang,
            &format!("Ny länk till ditt ärende – {r}"),
            &[
                "Hej!".into(),
                what,
                format!("Här kan du följa ditt ärende: {link}"),
                "Länken är personlig. Dela den inte med någon annan.".into(),
                not_you.into(),
            ],
        ),
        Language::En => layout(
            c.lang,
            &format!("A new link to your request – {r}"),
            &[
                "Hello,".into(),
                what,
                format!("Follow your request here: {link}"),
                "The link is personal. Do not share it.".into(),
                not_you.into(),
            ],
        ),
    };
    Rendered {
        secret: Some(c.token.to_owned()),
        ..mail
    }
}

pub fn code(lang: Language, reference: &str, code: &str, minutes: i64) -> Rendered {
    let mail = match lang {
        Language::Sv => layout(
            lang,
            &format!("Din kod för ärende {reference}"),
            &[
                format!("Din kod är: {SECRET_MARK}"),
                format!(
                    "Ange koden på statussidan för ärendet. Koden gäller i {minutes} minuter och kan användas en gång."
                ),
                "Om du inte har gjort någon begäran hos oss kan du bortse från det här mejlet."
                    .into(),
            ],
        ),
        Language::En => layout(
            lang,
            &format!("Your code for request {reference}"),
            &[
                format!("Your code is: {SECRET_MARK}"),
                format!(
                    "Enter it on the request's status page. It is valid for {minutes} minutes and can be used once."
                ),
                "If you have not made a request to us, you can ignore this email.".into(),
            ],
        ),
    };
    Rendered {
        secret: Some(code.to_owned()),
        ..mail
    }
}

/// A request's status in words the person reads.
fn status_words(lang: Language, status: &str) -> &'static str {
    match (lang, status) {
        (Language::Sv, "awaiting_verification") => "vi väntar på att du bekräftar din identitet",
        (Language::Sv, "verified") => {
            "din identitet är bekräftad och ärendet väntar på handläggning"
        }
        (Language::Sv, "in_progress") => "ärendet handläggs",
        (Language::Sv, "awaiting_approval") => "ärendet handläggs och väntar på beslut",
        (Language::Sv, _) => "ärendet är avslutat",
        (Language::En, "awaiting_verification") => {
            "we are waiting for you to confirm your identity"
        }
        (Language::En, "verified") => "your identity is confirmed and the request awaits handling",
        (Language::En, "in_progress") => "the request is being handled",
        (Language::En, "awaiting_approval") => "the request is being handled and awaits a decision",
        (Language::En, _) => "the request is closed",
    }
}

pub fn duplicate(lang: Language, reference: &str, status: &str, due: NaiveDate) -> Rendered {
    let status = status_words(lang, status);
    match lang {
        Language::Sv => layout(
            lang,
            &format!("Du har redan ett pågående ärende – {reference}"),
            &[
                "Hej!".into(),
                format!(
                    "Vi har tagit emot en likadan begäran till. Eftersom du redan har ett pågående ärende med referensnumret {reference} har vi lagt den nya begäran till det ärendet i stället för att öppna ett nytt."
                ),
                format!(
                    "Just nu gäller: {status}. Vi svarar senast {due}. Använd den senaste länken vi har mejlat dig för att följa ärendet."
                ),
            ],
        ),
        Language::En => layout(
            lang,
            &format!("You already have an open request – {reference}"),
            &[
                "Hello,".into(),
                format!(
                    "We have received the same request again. As you already have an open request with the reference {reference}, we have added the new one to it instead of opening a second case."
                ),
                format!(
                    "At present {status}. We will answer by {due} at the latest. Use the latest link we emailed you to follow it."
                ),
            ],
        ),
    }
}

/// Art. 18(3): the person who obtained a restriction is told when it is lifted.
pub fn restriction_lifted(lang: Language, reference: &str, records: u64) -> Rendered {
    match lang {
        Language::Sv => layout(
            lang,
            &format!("Begränsningen av behandlingen hävs – {reference}"),
            &[
                "Hej!".into(),
                format!(
                    "I ärende {reference} begränsade vi behandlingen av {records} av dina uppgifter hos oss. Den begränsningen hävs nu, och uppgifterna behandlas åter som tidigare: de kan till exempel sökas fram och, efter sekretessprövning, lämnas ut som allmänna handlingar."
                ),
                "Dataskyddsförordningen (artikel 18.3) ger dig rätt att få veta detta. Om du inte är nöjd kan du lämna klagomål till Integritetsskyddsmyndigheten (IMY), www.imy.se, eller vända dig till allmän domstol.".into(),
            ],
        ),
        Language::En => layout(
            lang,
            &format!("The restriction of processing is lifted – {reference}"),
            &[
                "Hello,".into(),
                format!(
                    "With your request {reference} we restricted the processing of {records} of the items we hold about you. That restriction is now lifted, and the items are processed as before: they can, for example, be searched for and, after a secrecy review, released as public documents."
                ),
                "The GDPR (Article 18(3)) entitles you to be told of this. If you are not satisfied you may lodge a complaint with the Swedish Authority for Privacy Protection (IMY), www.imy.se, or go to court.".into(),
            ],
        ),
    }
}

pub fn extension(lang: Language, reference: &str, due: NaiveDate, reason: &str) -> Rendered {
    match lang {
        Language::Sv => layout(
            lang,
            &format!("Vi behöver längre tid för ditt ärende – {reference}"),
            &[
                "Hej!".into(),
                format!("Vi behöver förlänga tiden för att besvara ditt ärende {reference}. Vi svarar nu senast {due}."),
                format!("Skälet är: {reason}"),
                "Dataskyddsförordningen (artikel 12.3) tillåter att tiden förlängs med högst två månader när en begäran är komplicerad eller när vi har många begäranden.".into(),
            ],
        ),
        Language::En => layout(
            lang,
            &format!("We need more time for your request – {reference}"),
            &[
                "Hello,".into(),
                format!("We need to extend the time to answer your request {reference}. We will now answer by {due} at the latest."),
                format!("The reason: {reason}"),
                "The GDPR (Article 12(3)) allows the time to be extended by at most two further months when a request is complex or we have many requests.".into(),
            ],
        ),
    }
}

pub fn refusal(lang: Language, reference: &str, reason: &str) -> Rendered {
    match lang {
        Language::Sv => layout(
            lang,
            &format!("Beslut i ditt ärende – {reference}"),
            &[
                "Hej!".into(),
                format!("Vi kan inte tillmötesgå din begäran i ärende {reference}."),
                format!("Skälet är: {reason}"),
                "Om du inte är nöjd med vårt beslut kan du lämna klagomål till Integritetsskyddsmyndigheten (IMY), www.imy.se, eller vända dig till allmän domstol (dataskyddsförordningen artikel 12.4, 77 och 79).".into(),
            ],
        ),
        Language::En => layout(
            lang,
            &format!("Decision on your request – {reference}"),
            &[
                "Hello,".into(),
                format!("We cannot grant your request {reference}."),
                format!("The reason: {reason}"),
                "If you are not satisfied with our decision you may lodge a complaint with the Swedish Authority for Privacy Protection (IMY), www.imy.se, or go to court (GDPR Articles 12(4), 77 and 79).".into(),
            ],
        ),
    }
}

pub fn completion(lang: Language, reference: &str, summary: &str, status_link: &str) -> Rendered {
    match lang {
        Language::Sv => layout(
            lang,
            &format!("Ditt ärende är klart – {reference}"),
            &[
                "Hej!".into(),
                format!("Vi har nu behandlat ditt ärende {reference}."),
                summary.to_owned(),
                format!("På statussidan ser du utfallet och, när det finns, din nedladdning (den öppnas med den senaste länken vi har mejlat dig): {status_link}"),
                "Om du inte är nöjd kan du lämna klagomål till Integritetsskyddsmyndigheten (IMY), www.imy.se, eller vända dig till allmän domstol (dataskyddsförordningen artikel 12.4, 77 och 79).".into(),
            ],
        ),
        Language::En => layout(
            lang,
            &format!("Your request is complete – {reference}"),
            &[
                "Hello,".into(),
                format!("We have now handled your request {reference}."),
                summary.to_owned(),
                format!("The status page shows the outcome and, where there is one, your download (it opens with the latest link we emailed you): {status_link}"),
                "If you are not satisfied you may lodge a complaint with the Swedish Authority for Privacy Protection (IMY), www.imy.se, or go to court (GDPR Articles 12(4), 77 and 79).".into(),
            ],
        ),
    }
}

/// One line of the officers' digest: ids and dates only, no personal data.
pub struct DigestLine {
    pub reference: String,
    pub request_type: String,
    pub status: String,
    pub due: NaiveDate,
    pub days_left: i64,
}

/// The officers' daily digest (in Swedish, the office's language): overdue first, then due within
/// a week.
pub fn digest(today: NaiveDate, lines: &[DigestLine], queue_link: &str) -> Rendered {
    let overdue: Vec<&DigestLine> = lines.iter().filter(|l| l.days_left < 0).collect();
    let soon: Vec<&DigestLine> = lines.iter().filter(|l| l.days_left >= 0).collect();
    let fmt = |l: &DigestLine| {
        format!(
            "{} – {} – {} – senast {} ({} dagar)",
            l.reference, l.request_type, l.status, l.due, l.days_left
        )
    };
    let mut paragraphs = vec![format!(
        "Ärenden om dataskydd {today}: {} försenade, {} ska besvaras inom en vecka.",
        overdue.len(),
        soon.len()
    )];
    if !overdue.is_empty() {
        paragraphs.push(format!(
            "Försenade:\n{}",
            overdue
                .iter()
                .map(|l| fmt(l))
                .collect::<Vec<_>>()
                .join("\n")
        ));
    }
    if !soon.is_empty() {
        paragraphs.push(format!(
            "Inom en vecka:\n{}",
            soon.iter().map(|l| fmt(l)).collect::<Vec<_>>().join("\n")
        ));
    }
    paragraphs.push(format!("Kön: {queue_link}"));
    layout(
        Language::Sv,
        &format!(
            "Dataskyddsärenden {today}: {} försenade, {} inom en vecka",
            overdue.len(),
            soon.len()
        ),
        &paragraphs,
    )
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn every_mail_has_the_reference_in_its_subject_in_both_languages() {
        let due = NaiveDate::from_ymd_opt(2026, 12, 28).unwrap();
        for lang in [Language::Sv, Language::En] {
            let c = Case {
                lang,
                reference: "DSR-2026-000001",
                request_type: "erasure",
                due,
                status_page: "https://insyn.example/requests/1",
                token: "dsr_x",
            };
            for m in [
                receipt(&c),
                new_link(&c, Renewal::PersonConfirmed),
                new_link(&c, Renewal::AddressConfirmed),
                code(lang, c.reference, "12345678", 30),
                duplicate(lang, c.reference, "verified", due),
                restriction_lifted(lang, c.reference, 3),
                extension(lang, c.reference, due, "many requests"),
                refusal(lang, c.reference, "manifestly unfounded"),
                completion(lang, c.reference, "done", c.status_page),
            ] {
                assert!(m.subject.contains("DSR-2026-000001"), "{}", m.subject);
                assert!(m.html.contains(if lang == Language::Sv {
                    "lang=\"sv\""
                } else {
                    "lang=\"en\""
                }));
            }
        }
        let d = duplicate(Language::Sv, "DSR-2026-000001", "in_progress", due);
        assert!(d.text.contains("ärendet handläggs") && d.text.contains("2026-12-28"));
        assert!(!d.text.contains("in_progress"), "{}", d.text);
        let r = refusal(Language::Sv, "DSR-2026-000001", "x");
        assert!(r.text.contains("Integritetsskyddsmyndigheten"));
        // What completes a request may decline part of it: the remedies are named in full.
        for lang in [Language::Sv, Language::En] {
            let done = completion(lang, "DSR-2026-000001", "done", "https://insyn.example");
            assert!(
                done.text.contains("IMY")
                    && (done.text.contains("domstol") || done.text.contains("court"))
            );
        }
        let r = receipt(&Case {
            lang: Language::Sv,
            reference: "DSR-2026-000001",
            request_type: "access",
            due,
            status_page: "https://insyn.example/requests/1",
            token: "dsr_x",
        });
        assert!(r.text.contains("2026-12-28") && r.text.contains("registerutdrag"));
        // The token is not in what the outbox keeps, only where the sender will write it.
        assert!(!r.text.contains("dsr_x") && !r.html.contains("dsr_x"));
        assert_eq!(r.secret.as_deref(), Some("dsr_x"));
        let shown = r.with_secret_shown("dsr_x");
        assert!(
            shown
                .text
                .contains("https://insyn.example/requests/1?token=dsr_x")
        );
        assert!(
            shown
                .html
                .contains("https://insyn.example/requests/1?token=dsr_x")
        );
        assert!(!shown.text.contains(SECRET_MARK) && shown.secret.is_none());
        for lang in [Language::Sv, Language::En] {
            let c = code(lang, "DSR-2026-000001", "12345678", 30);
            assert!(!c.text.contains("12345678") && !c.html.contains("12345678"));
            let shown = c.with_secret_shown("12345678");
            assert!(shown.text.contains(": 12345678\n") && shown.html.contains(": 12345678</p>"));
        }
    }
}
