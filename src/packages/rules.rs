//! What goes into an access (Art. 15) or export (Art. 20) package, and how: fixed file names,
//! CSV for spreadsheets, the Art. 15(1) information in the request's language, third parties
//! redacted. Pure.
use crate::mail::rules::{Html, Language, escape_html};
use crate::retention::rules::Retention;
use crate::vocabulary::vocabulary;

vocabulary!(
    PackageKind {
        Access => "access",
        Export => "export",
    }
);

vocabulary!(
    PackageStatus {
        Building => "building",
        Ready => "ready",
        Failed => "failed",
        Expired => "expired",
        Erased => "erased",
    }
);

/// The files of a package, always these names: nothing of the content reaches a file name.
pub const INDEX_HTML: &str = "index.html";
pub const DATA_JSON: &str = "data.json";
pub const SCHEMA_JSON: &str = "data.schema.json";
pub const RECORDS_CSV: &str = "records.csv";
pub const CONSENTS_CSV: &str = "consents.csv";
pub const MANIFEST_JSON: &str = "manifest.json";

/// Excel opens UTF-8 as UTF-8 (å, ä, ö) only when the file starts with a byte order mark.
pub const BOM: &str = "\u{feff}";

/// One CSV field: quoted when it holds a separator, a quote or a line break; a leading `=`, `+`,
/// `-` or `@` is defused so a spreadsheet does not run it as a formula.
pub fn csv_field(s: &str) -> String {
    CsvField(s).to_string()
}

/// [`csv_field`] written straight into a formatter, without a `String` of its own.
pub struct CsvField<'a>(pub &'a str);

impl std::fmt::Display for CsvField<'_> {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        let s = self.0;
        let defuse = if s.starts_with(['=', '+', '-', '@']) {
            "'"
        } else {
            ""
        };
        if !s.contains([',', '"', '\n', '\r']) {
            return write!(f, "{defuse}{s}");
        }
        write!(f, "\"{defuse}")?;
        for (n, part) in s.split('"').enumerate() {
            if n > 0 {
                f.write_str("\"\"")?;
            }
            f.write_str(part)?;
        }
        f.write_str("\"")
    }
}

/// A line of CSV, its fields as [`csv_field`] writes them, ended by CR LF.
pub struct CsvLine<'a>(pub &'a [&'a str]);

impl std::fmt::Display for CsvLine<'_> {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        for (n, field) in self.0.iter().enumerate() {
            if n > 0 {
                f.write_str(",")?;
            }
            CsvField(field).fmt(f)?;
        }
        f.write_str("\r\n")
    }
}

pub fn csv_line(fields: &[&str]) -> String {
    CsvLine(fields).to_string()
}

/// What stands in for another person's content in the subject's package.
pub fn redacted(lang: Language) -> &'static str {
    match lang {
        Language::Sv => "[borttaget: en annan persons uppgifter]",
        Language::En => "[removed: another person's data]",
    }
}

/// What a package shows in place of a classified record's text, where another record answers it.
pub fn withheld(lang: Language) -> &'static str {
    match lang {
        Language::Sv => "[undantaget: omfattas av sekretess]",
        Language::En => "[withheld: classified]",
    }
}

/// The context a record is shown with: the municipality's own content is kept; a member of the
/// public's is another person's, and is redacted.
pub fn context_text(lang: Language, direction: &str, text: Option<&str>) -> String {
    match (direction, text) {
        ("drawn_up", Some(t)) => t.to_owned(),
        ("drawn_up", None) => String::new(),
        _ => redacted(lang).to_owned(),
    }
}

/// The Art. 15(1)(a)–(h) and 15(2) information, as headed paragraphs.
pub fn article_15(lang: Language) -> Vec<(&'static str, &'static str)> {
    match lang {
        Language::Sv => vec![
            (
                "Ändamål och rättslig grund",
                "Kommunen bevarar det som skrivs och skickas på kommunens konton i sociala medier eftersom det är allmänna handlingar: arkivering är en rättslig förpliktelse (dataskyddsförordningen art. 6.1 c och e, arkivlagen, tryckfrihetsförordningen 2 kap.) och vilar inte på samtycke. Att dina uppgifter visas på kontot och inlägget vilar på det samtycke som din interaktion (gilla, reagera, kommentera, skriva ett meddelande) innebär enligt kommunens policy; det samtycket kan du återkalla.",
            ),
            (
                "Kategorier av personuppgifter",
                "Ditt namn och din profil så som plattformen visar dem, det du har skrivit, dina reaktioner, bilagor du har skickat, meddelanden som kommunen har skickat till dig, tidpunkter, och beslut om moderering och registrering.",
            ),
            (
                "Mottagare",
                "Plattformen (Meta) är gemensamt personuppgiftsansvarig för det som publiceras på kontot och har en egen kopia; du kan begära ut den hos Meta. Hot och andra brott anmäls till Polismyndigheten. Allmänna handlingar kan lämnas ut enligt offentlighetsprincipen.",
            ),
            (
                "Hur länge uppgifterna sparas",
                "Varje post sparas enligt kommunens gallringsbeslut; finns inget beslut sparas den (allmänna handlingar får inte gallras utan beslut). Gallringsbeslut och datum visas för varje post.",
            ),
            (
                "Dina rättigheter",
                "Du har rätt att begära rättelse, radering, begränsning av behandlingen och att invända mot behandlingen, och att återkalla ditt samtycke till publicering. Allmänna handlingar som ska bevaras kan inte raderas på begäran (HFD 2015 ref. 71). Du kan lämna klagomål till Integritetsskyddsmyndigheten (IMY), www.imy.se.",
            ),
            (
                "Varifrån uppgifterna kommer",
                "Från plattformen: det du själv har skrivit eller gjort på kommunens konton, och de meddelanden kommunen har skickat till dig där, så som plattformen levererade det.",
            ),
            (
                "Automatiserade beslut",
                "Inga beslut fattas enbart automatiserat och ingen profilering sker.",
            ),
        ],
        Language::En => vec![
            (
                "Purposes and legal basis",
                "The municipality keeps what is written and sent on its social-media accounts because it is public documents: archiving is a legal obligation (GDPR Art. 6(1)(c) and (e), the Archives Act, the Freedom of the Press Act ch. 2) and does not rest on consent. That your data shows on the account and the post rests on the consent your interaction (liking, reacting, commenting, writing a message) gives under the municipality's policy; you may withdraw it.",
            ),
            (
                "Categories of personal data",
                "Your name and profile as the platform shows them, what you wrote, your reactions, attachments you sent, messages the municipality sent you, times, and moderation and registration decisions.",
            ),
            (
                "Recipients",
                "The platform (Meta) is joint controller for what is published on the account and holds its own copy; you can ask Meta for it. Threats and other crimes are reported to the Swedish Police. Public documents may be disclosed under the principle of public access.",
            ),
            (
                "How long the data is kept",
                "Each item is kept under the municipality's disposal decisions; where no decision covers it, it is kept (public documents may not be disposed of without one). The decision and the date are shown for each item.",
            ),
            (
                "Your rights",
                "You may ask for rectification, erasure, restriction of processing, object to processing, and withdraw your consent to publication. Public documents that must be kept cannot be erased on request (HFD 2015 ref. 71). You may complain to the Swedish Authority for Privacy Protection (IMY), www.imy.se.",
            ),
            (
                "Where the data comes from",
                "From the platform: what you yourself wrote or did on the municipality's accounts, and the messages the municipality sent you there, as the platform delivered it.",
            ),
            (
                "Automated decisions",
                "No decision is made by automated means alone, and there is no profiling.",
            ),
        ],
    }
}

/// Codes of the archive's vocabularies as `index.html` words them: (code, Swedish, English).
type Words = [(&'static str, &'static str, &'static str)];

/// What a record is.
const KINDS: &Words = &[
    ("post", "Inlägg", "Post"),
    ("comment", "Kommentar", "Comment"),
    ("reply", "Svar", "Reply"),
    ("reaction", "Reaktion", "Reaction"),
    ("message", "Meddelande", "Message"),
];

/// A record's state on the platform.
const VISIBILITIES: &Words = &[
    ("visible", "Syns på plattformen", "Visible on the platform"),
    ("hidden", "Dold på plattformen", "Hidden on the platform"),
    (
        "removed",
        "Borttagen från plattformen",
        "Removed from the platform",
    ),
    ("deleted_by_author", "Raderad av dig", "Deleted by you"),
];

/// Why a version was recorded.
const CHANGES: &Words = &[
    ("created", "Arkiverad", "Archived"),
    ("edited", "Ändrad", "Edited"),
    ("hidden", "Dold", "Hidden"),
    ("unhidden", "Visas igen", "Shown again"),
    ("removed", "Borttagen", "Removed"),
    ("deleted", "Raderad", "Deleted"),
    ("moderated", "Modererad", "Moderated"),
    ("registered", "Registrerad", "Registered"),
];

/// `code` in words, or the code itself when the table does not know it.
fn word<'a>(words: &'static Words, lang: Language, code: &'a str) -> &'a str {
    match words.iter().find(|(c, _, _)| *c == code) {
        Some((_, sv, _)) if lang == Language::Sv => sv,
        Some((_, _, en)) => en,
        None => code,
    }
}

/// What a record is, as `index.html` names it.
pub fn kind_word(lang: Language, kind: &str) -> &str {
    word(KINDS, lang, kind)
}

/// A record's state on the platform, as `index.html` names it; `theirs` when the person wrote
/// it (a message the municipality sent them and then deleted was not deleted by them).
pub fn visibility_word(lang: Language, visibility: &str, theirs: bool) -> &str {
    match (visibility, theirs, lang) {
        ("deleted_by_author", false, Language::Sv) => "Raderad av kommunen",
        ("deleted_by_author", false, Language::En) => "Deleted by the municipality",
        _ => word(VISIBILITIES, lang, visibility),
    }
}

/// Why a version was recorded, as `index.html` names it.
pub fn change_word(lang: Language, change: &str) -> &str {
    word(CHANGES, lang, change)
}

/// How long a record is kept, and under which disposal decision, as a sentence.
pub struct KeptSentence<'a>(pub Language, pub &'a Retention, pub Registered);

/// Whether the record is registered: a registered document is never taken by a disposal run.
#[derive(Clone, Copy, PartialEq, Eq)]
pub struct Registered(pub bool);

impl std::fmt::Display for KeptSentence<'_> {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        if self.2 == Registered(true) {
            return f.write_str(match self.0 {
                Language::Sv => "Bevaras: registrerad handling, som gallras bara genom registret",
                Language::En => {
                    "Kept: a registered document, disposed of only through the registry"
                }
            });
        }
        match (self.0, self.1) {
            (Language::Sv, Retention::NoDecision) => {
                f.write_str("Bevaras: inget gallringsbeslut omfattar posten")
            }
            (Language::En, Retention::NoDecision) => {
                f.write_str("Kept: no disposal decision covers it")
            }
            (Language::Sv, Retention::Permanent { reference, .. }) => {
                write!(f, "Bevaras för alltid enligt {}", Html(reference))
            }
            (Language::En, Retention::Permanent { reference, .. }) => {
                write!(f, "Kept permanently under {}", Html(reference))
            }
            (
                Language::Sv,
                Retention::DisposableFrom {
                    reference, date, ..
                },
            ) => write!(f, "Får gallras tidigast {date} enligt {}", Html(reference)),
            (
                Language::En,
                Retention::DisposableFrom {
                    reference, date, ..
                },
            ) => write!(
                f,
                "May be disposed of from {date} under {}",
                Html(reference)
            ),
        }
    }
}

/// A moment as `index.html` shows it: to the minute, in UTC.
pub struct Moment(pub chrono::DateTime<chrono::Utc>);

impl std::fmt::Display for Moment {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        write!(f, "{} UTC", self.0.format("%Y-%m-%d %H:%M"))
    }
}

/// The opening of `index.html`: self-contained (no external fonts, scripts or images), readable
/// on a phone.
pub fn html_head(lang: Language, title: &str) -> String {
    let code = match lang {
        Language::Sv => "sv",
        Language::En => "en",
    };
    format!(
        "<!doctype html>\n<html lang=\"{code}\">\n<head>\n<meta charset=\"utf-8\">\n\
         <meta name=\"viewport\" content=\"width=device-width, initial-scale=1\">\n<title>{}</title>\n\
         <style>body{{font-family:system-ui,sans-serif;line-height:1.5;margin:0 auto;max-width:50em;padding:1em;color:#111}}\
         section{{border-top:1px solid #888;padding:.2em 0}}h3{{font-size:1em;margin:.5em 0 .2em}}\
         .ctx{{color:#333;font-style:italic}}.meta,ol{{color:#333;font-size:.9em}}</style>\n</head>\n<body>\n<main>\n<h1>{}</h1>\n",
        escape_html(title),
        escape_html(title)
    )
}

pub const HTML_TAIL: &str = "</main>\n</body>\n</html>\n";

/// The JSON Schema of `data.json` (also in `openapi/`).
pub const DATA_SCHEMA: &str = include_str!("../../openapi/package-data.schema.json");

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn every_code_of_the_archive_has_words_in_both_languages() {
        use crate::archive::rules::{Change, Kind, Visibility};
        for (words, codes) in [
            (
                KINDS,
                Kind::ALL.iter().map(|k| k.as_str()).collect::<Vec<_>>(),
            ),
            (
                VISIBILITIES,
                Visibility::ALL.iter().map(|v| v.as_str()).collect(),
            ),
            (CHANGES, Change::ALL.iter().map(|c| c.as_str()).collect()),
        ] {
            for code in codes {
                assert_ne!(word(words, Language::Sv, code), code, "{code}");
                assert_ne!(word(words, Language::En, code), code, "{code}");
            }
        }
        assert_eq!(kind_word(Language::Sv, "comment"), "Kommentar");
        assert_eq!(change_word(Language::En, "created"), "Archived");
        assert_eq!(visibility_word(Language::Sv, "unknown", true), "unknown");
        assert_eq!(
            visibility_word(Language::Sv, "deleted_by_author", true),
            "Raderad av dig"
        );
        assert_eq!(
            visibility_word(Language::En, "deleted_by_author", false),
            "Deleted by the municipality"
        );
    }

    #[test]
    fn csv_fields_are_quoted_and_formulas_defused() {
        assert_eq!(csv_field("Hej"), "Hej");
        assert_eq!(csv_field("a,b"), "\"a,b\"");
        assert_eq!(csv_field("säg \"hej\""), "\"säg \"\"hej\"\"\"");
        assert_eq!(csv_field("=HYPERLINK(\"x\")"), "\"'=HYPERLINK(\"\"x\"\")\"");
        assert_eq!(csv_line(&["1", "å"]), "1,å\r\n");
    }

    #[test]
    fn others_are_redacted_the_municipality_is_not() {
        assert_eq!(
            context_text(Language::Sv, "drawn_up", Some("Nyhet")),
            "Nyhet"
        );
        assert_eq!(
            context_text(Language::En, "received", Some("Bo wrote this")),
            "[removed: another person's data]"
        );
        let head = html_head(Language::Sv, "Dina <uppgifter>");
        assert!(head.contains("lang=\"sv\"") && head.contains("&lt;uppgifter&gt;"));
        assert!(
            !head.contains("http"),
            "self-contained: no external resources"
        );
        assert_eq!(article_15(Language::En).len(), 7);
        let schema: serde_json::Value = serde_json::from_str(DATA_SCHEMA).unwrap();
        assert_eq!(schema["type"], "object");
    }
}
