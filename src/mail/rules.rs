//! Templates and addresses. Pure: no HTTP, no database, no SMTP.
use std::fmt;

#[derive(Clone, Copy, Debug, PartialEq, Eq, Default)]
pub enum Language {
    #[default]
    Sv,
    En,
}

/// A mail ready for the outbox.
#[derive(Clone, PartialEq, Eq)]
pub struct Rendered {
    pub subject: String,
    /// Where the mail carries a secret, the text and the HTML hold [`SECRET_MARK`] in its place.
    pub text: String,
    pub html: String,
    /// A code or a status token, shown to the person once: the outbox keeps it sealed with the
    /// server's secret until the mail is sent and then forgets it.
    pub secret: Option<String>,
}

/// Stands for the mail's secret in what the outbox keeps; the sender puts the secret in its place.
pub const SECRET_MARK: &str = "{{secret}}";

impl Rendered {
    /// The mail with `secret` written where its text and HTML hold [`SECRET_MARK`]: what is sent.
    pub fn with_secret_shown(&self, secret: &str) -> Rendered {
        let (text, html) = fill_secret(&self.text, &self.html, secret);
        Rendered {
            subject: self.subject.clone(),
            text,
            html,
            secret: None,
        }
    }
}

/// A mail's text and HTML with `secret` where they hold [`SECRET_MARK`] (escaped in the HTML).
pub fn fill_secret(text: &str, html: &str, secret: &str) -> (String, String) {
    (
        text.replace(SECRET_MARK, secret),
        html.replace(SECRET_MARK, &escape_html(secret)),
    )
}

/// The secret never reaches a log through `Debug`.
impl fmt::Debug for Rendered {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.debug_struct("Rendered")
            .field("subject", &self.subject)
            .field("text", &self.text)
            .field("html", &self.html)
            .field("secret", &self.secret.as_ref().map(|_| "***"))
            .finish()
    }
}

/// An email address that lettre will accept, checked before anything is queued.
#[derive(Clone, PartialEq, Eq)]
pub struct Email(String);

impl Email {
    pub fn parse(s: &str) -> Result<Self, &'static str> {
        let s = s.trim();
        if s.len() > 254 {
            return Err("must be at most 254 characters");
        }
        let Some((local, domain)) = s.rsplit_once('@') else {
            return Err("must be an email address like name@example.se");
        };
        let ok_local =
            !local.is_empty() && local.len() <= 64 && !local.contains(char::is_whitespace);
        let ok_domain = domain.contains('.')
            && !domain.starts_with('.')
            && !domain.ends_with('.')
            && domain
                .chars()
                .all(|c| c.is_alphanumeric() || c == '-' || c == '.');
        if !ok_local || !ok_domain || s.parse::<lettre::Address>().is_err() {
            return Err("must be an email address like name@example.se");
        }
        Ok(Email(s.to_owned()))
    }
    pub fn as_str(&self) -> &str {
        &self.0
    }
}

/// Addresses are personal data: `Debug` does not show them, so they cannot slip into a log.
impl fmt::Debug for Email {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str("Email(<redacted>)")
    }
}

pub fn escape_html(s: &str) -> String {
    Html(s).to_string()
}

/// Text escaped for HTML as it is written into a formatter, without a `String` of its own: the
/// runs between the five characters that need it are copied whole.
pub struct Html<'a>(pub &'a str);

impl fmt::Display for Html<'_> {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        let s = self.0;
        let mut from = 0;
        for (at, b) in s.bytes().enumerate() {
            let escaped = match b {
                b'&' => "&amp;",
                b'<' => "&lt;",
                b'>' => "&gt;",
                b'"' => "&quot;",
                b'\'' => "&#39;",
                _ => continue,
            };
            f.write_str(&s[from..at])?;
            f.write_str(escaped)?;
            from = at + 1;
        }
        f.write_str(&s[from..])
    }
}

/// Wraps paragraphs in the common layout: the plain text and the HTML say the same thing.
pub fn layout(lang: Language, subject: &str, paragraphs: &[String]) -> Rendered {
    let (lang_attr, signature) = match lang {
        Language::Sv => ("sv", "Med vänliga hälsningar\nDataskyddsfunktionen"),
        Language::En => ("en", "Kind regards\nThe data protection office"),
    };
    let mut text = paragraphs.join("\n\n");
    text.push_str("\n\n");
    text.push_str(signature);
    text.push('\n');
    let body: String = paragraphs
        .iter()
        .map(|p| format!("<p>{}</p>\n", escape_html(p)))
        .collect();
    let html = format!(
        "<!doctype html>\n<html lang=\"{lang_attr}\">\n<head><meta charset=\"utf-8\"><title>{}</title></head>\n\
         <body style=\"font-family: sans-serif; line-height: 1.5; max-width: 40em\">\n{body}<p>{}</p>\n</body>\n</html>\n",
        escape_html(subject),
        escape_html(signature).replace('\n', "<br>"),
    );
    Rendered {
        subject: subject.to_owned(),
        text,
        html,
        secret: None,
    }
}

/// A test message, so an operator can prove the mail path end to end.
pub fn test_message(lang: Language) -> Rendered {
    match lang {
        Language::Sv => layout(
            lang,
            "Testmeddelande från insyn",
            &[
                "Det här är ett testmeddelande. Om du läser det här fungerar e-postutskicket."
                    .into(),
            ],
        ),
        Language::En => layout(
            lang,
            "Test message from insyn",
            &["This is a test message. If you can read it, outgoing mail works.".into()],
        ),
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn html_escapes_the_five_characters_and_keeps_the_rest() {
        assert_eq!(
            escape_html("<a href=\"x\">Å'&'ö</a>"),
            "&lt;a href=&quot;x&quot;&gt;Å&#39;&amp;&#39;ö&lt;/a&gt;"
        );
        assert_eq!(escape_html(""), "");
        assert_eq!(escape_html("åäö"), "åäö");
        assert_eq!(format!("[{}]", Html("&")), "[&amp;]");
    }

    #[test]
    fn addresses_are_checked_and_never_debug_printed() {
        assert!(Email::parse("anna@example.se").is_ok());
        for bad in [
            "",
            "anna",
            "anna@",
            "@example.se",
            "an na@example.se",
            "anna@example",
            "anna@exa mple.se",
        ] {
            assert!(Email::parse(bad).is_err(), "{bad:?} was accepted");
        }
        let e = Email::parse("anna@example.se").unwrap();
        assert!(!format!("{e:?}").contains("anna"));
    }

    #[test]
    fn html_is_escaped_and_both_parts_agree() {
        let r = layout(Language::En, "Hi <b>", &["a < b & \"c\"".into()]);
        assert!(r.html.contains("a &lt; b &amp; &quot;c&quot;"));
        assert!(r.html.contains("<title>Hi &lt;b&gt;</title>"));
        assert!(r.text.contains("a < b & \"c\""));
        assert!(r.html.contains("lang=\"en\""));
        let sv = test_message(Language::Sv);
        assert!(sv.text.contains("Med vänliga hälsningar"));
    }
}
