//! Settings from the environment and an optional TOML file. `Debug` never shows secrets.
use serde::Deserialize;
use std::fmt;

#[derive(Clone, Deserialize)]
#[serde(default, deny_unknown_fields)]
pub struct Settings {
    /// `sqlite://insyn.db?mode=rwc` or `postgres://user@host/db`.
    pub database_url: String,
    pub listen: String,
    /// lettre's URL form, e.g. `smtp://127.0.0.1:2525`; may carry a password.
    pub smtp_url: Option<String>,
    pub mail_from: String,
    pub public_url: String,
    /// Largest request body accepted, in bytes; larger ones get 413.
    pub max_body_bytes: usize,
    pub log_format: LogFormat,
    /// The version of the social-media policy in force; each consent event records it.
    pub policy_version: String,
    /// The registration (diarium) series numbers are allocated in, e.g. `KS`.
    pub registration_series: String,
    /// How a registration number is written: `{series}`, `{year}` and `{seq}` (six digits).
    pub registration_pattern: String,
    /// The municipality's time zone: due dates and years are counted in it.
    pub time_zone: String,
    /// Public endpoints (intake, codes) admit this many calls per client address…
    pub public_rate_limit: u32,
    /// …per this many seconds; more get 429 with Retry-After.
    pub public_rate_window_secs: u64,
    /// The addresses of the proxies in front, whose `X-Forwarded-For` names the client the rate
    /// limit counts; without them the connection's address is the client.
    pub trusted_proxies: Vec<String>,
    /// Where the daily digest of requests due within a week and overdue goes.
    pub officer_emails: Vec<String>,
    /// Where built packages are kept.
    pub data_dir: String,
    /// How many days a package's download link stays valid.
    pub package_days: i64,
    /// The server's secret, kept out of the database: the key of the suppression list's and the
    /// verification codes' hashes and of the secrets queued mail carries (see [`crate::secret`]).
    /// Without it, one is made on first start and kept in `data_dir/secret.key`; every instance of
    /// one database needs the same.
    pub secret_key: Option<String>,
    /// A TOML file laid over the built-in erasure policy: which kinds are public documents, the
    /// grounds' and the reply's words.
    pub erasure_policy: Option<String>,
}

#[derive(Clone, Copy, Debug, Deserialize, PartialEq, Eq, Default)]
#[serde(rename_all = "lowercase")]
pub enum LogFormat {
    #[default]
    Text,
    Json,
}

impl Default for Settings {
    fn default() -> Self {
        Self {
            database_url: "sqlite://insyn.db?mode=rwc".into(),
            listen: "127.0.0.1:8080".into(),
            smtp_url: None,
            mail_from: "insyn <noreply@localhost>".into(),
            public_url: "http://127.0.0.1:8080".into(),
            max_body_bytes: 16 * 1024 * 1024,
            log_format: LogFormat::Text,
            policy_version: "sociala-medier-2024".into(),
            registration_series: "KS".into(),
            registration_pattern: "{series} {year}-{seq}".into(),
            time_zone: "Europe/Stockholm".into(),
            public_rate_limit: 30,
            public_rate_window_secs: 600,
            trusted_proxies: vec![],
            officer_emails: vec![],
            data_dir: "insyn-data".into(),
            package_days: 30,
            secret_key: None,
            erasure_policy: None,
        }
    }
}

#[derive(Debug, thiserror::Error)]
pub enum ConfigError {
    #[error("cannot read config file {path}: {source}")]
    Read {
        path: String,
        source: std::io::Error,
    },
    /// Only the parser's message and the line: its full error quotes the line, which may hold a
    /// secret.
    #[error("config file {path} is not valid at line {line}: {message}")]
    Parse {
        path: String,
        line: usize,
        message: String,
    },
    #[error("{name} must be a number of bytes, got {value:?}")]
    Number { name: &'static str, value: String },
    #[error("{name}: {reason}")]
    Invalid { name: &'static str, reason: String },
}

impl Settings {
    /// Defaults, then the TOML file (if any), then the environment: the last word wins.
    pub fn load(file: Option<&str>) -> Result<Self, ConfigError> {
        let mut s = match file {
            Some(path) => {
                let text = std::fs::read_to_string(path).map_err(|source| ConfigError::Read {
                    path: path.into(),
                    source,
                })?;
                toml::from_str(&text).map_err(|e: toml::de::Error| ConfigError::Parse {
                    path: path.into(),
                    line: e.span().map_or(0, |at| {
                        text.as_bytes()[..at.start.min(text.len())]
                            .iter()
                            .filter(|&&b| b == b'\n')
                            .count()
                            + 1
                    }),
                    message: e.message().to_owned(),
                })?
            }
            None => Settings::default(),
        };
        let var = |k: &str| std::env::var(k).ok().filter(|v| !v.is_empty());
        if let Some(v) = var("DATABASE_URL") {
            s.database_url = v;
        }
        if let Some(v) = var("INSYN_LISTEN") {
            s.listen = v;
        }
        if let Some(v) = var("INSYN_SMTP_URL") {
            s.smtp_url = Some(v);
        }
        if let Some(v) = var("INSYN_MAIL_FROM") {
            s.mail_from = v;
        }
        if let Some(v) = var("INSYN_PUBLIC_URL") {
            s.public_url = v;
        }
        if let Some(v) = var("INSYN_MAX_BODY_BYTES") {
            s.max_body_bytes = v.parse().map_err(|_| ConfigError::Number {
                name: "INSYN_MAX_BODY_BYTES",
                value: v,
            })?;
        }
        if let Some(v) = var("INSYN_POLICY_VERSION") {
            s.policy_version = v;
        }
        if let Some(v) = var("INSYN_REGISTRATION_SERIES") {
            s.registration_series = v;
        }
        if let Some(v) = var("INSYN_REGISTRATION_PATTERN") {
            s.registration_pattern = v;
        }
        if let Some(v) = var("INSYN_TIME_ZONE") {
            s.time_zone = v;
        }
        if let Some(v) = var("INSYN_PUBLIC_RATE_LIMIT") {
            s.public_rate_limit = v.parse().map_err(|_| ConfigError::Invalid {
                name: "INSYN_PUBLIC_RATE_LIMIT",
                reason: format!("must be a number of calls, got {v:?}"),
            })?;
        }
        if let Some(v) = var("INSYN_PUBLIC_RATE_WINDOW_SECS") {
            s.public_rate_window_secs = v.parse().map_err(|_| ConfigError::Invalid {
                name: "INSYN_PUBLIC_RATE_WINDOW_SECS",
                reason: format!("must be a number of seconds, got {v:?}"),
            })?;
        }
        if let Some(v) = var("INSYN_TRUSTED_PROXIES") {
            s.trusted_proxies = v
                .split(',')
                .map(|p| p.trim().to_owned())
                .filter(|p| !p.is_empty())
                .collect();
        }
        s.proxies().map_err(|reason| ConfigError::Invalid {
            name: "trusted_proxies",
            reason,
        })?;
        if let Some(v) = var("INSYN_DATA_DIR") {
            s.data_dir = v;
        }
        if let Some(v) = var("INSYN_PACKAGE_DAYS") {
            s.package_days = v.parse().map_err(|_| ConfigError::Invalid {
                name: "INSYN_PACKAGE_DAYS",
                reason: format!("must be a number of days, got {v:?}"),
            })?;
        }
        if let Some(v) = var("INSYN_SECRET_KEY") {
            s.secret_key = Some(v);
        }
        if let Some(v) = var("INSYN_ERASURE_POLICY") {
            s.erasure_policy = Some(v);
        }
        if s.secret_key.as_ref().is_some_and(|k| k.len() < 32) {
            return Err(ConfigError::Invalid {
                name: "secret_key",
                reason: "must be at least 32 characters (e.g. 64 hex digits)".into(),
            });
        }
        if let Some(v) = var("INSYN_OFFICER_EMAILS") {
            s.officer_emails = v
                .split(',')
                .map(|e| e.trim().to_owned())
                .filter(|e| !e.is_empty())
                .collect();
        }
        for e in &s.officer_emails {
            crate::mail::rules::Email::parse(e).map_err(|why| ConfigError::Invalid {
                name: "officer_emails",
                reason: why.into(),
            })?;
        }
        if let Some(v) = var("INSYN_LOG_FORMAT") {
            s.log_format = if v.eq_ignore_ascii_case("json") {
                LogFormat::Json
            } else {
                LogFormat::Text
            };
        }
        s.tz().map_err(|reason| ConfigError::Invalid {
            name: "time_zone",
            reason,
        })?;
        let within = |name: &'static str, value: i64, min: i64, max: i64, unit: &str| {
            if (min..=max).contains(&value) {
                Ok(())
            } else {
                Err(ConfigError::Invalid {
                    name,
                    reason: format!("must be {min} to {max} {unit}, got {value}"),
                })
            }
        };
        within("package_days", s.package_days, 1, 3650, "days")?;
        within(
            "public_rate_limit",
            i64::from(s.public_rate_limit),
            1,
            1_000_000,
            "calls",
        )?;
        // A window of 0 would turn the limit off without a word.
        within(
            "public_rate_window_secs",
            i64::try_from(s.public_rate_window_secs).unwrap_or(i64::MAX),
            1,
            86_400,
            "seconds",
        )?;
        crate::registry::rules::check_series(&s.registration_series).map_err(|reason| {
            ConfigError::Invalid {
                name: "registration_series",
                reason,
            }
        })?;
        crate::registry::rules::check_pattern(&s.registration_pattern).map_err(|reason| {
            ConfigError::Invalid {
                name: "registration_pattern",
                reason,
            }
        })?;
        Ok(s)
    }
}

impl Settings {
    /// The trusted proxies' addresses, an IPv4-mapped IPv6 one as the IPv4 it is.
    pub fn proxies(&self) -> Result<Vec<std::net::IpAddr>, String> {
        self.trusted_proxies
            .iter()
            .map(|p| {
                p.parse::<std::net::IpAddr>()
                    .map(|a| a.to_canonical())
                    .map_err(|_| format!("{p:?} is not an IP address"))
            })
            .collect()
    }

    /// The configured time zone, e.g. `Europe/Stockholm`.
    pub fn tz(&self) -> Result<chrono_tz::Tz, String> {
        self.time_zone
            .parse()
            .map_err(|_| format!("{:?} is not an IANA time zone", self.time_zone))
    }

    /// The municipality's time zone, whose days every date limit counts: the configured one, which
    /// loading the settings checked, or Stockholm's.
    pub fn zone(&self) -> chrono_tz::Tz {
        self.tz().unwrap_or(chrono_tz::Europe::Stockholm)
    }
}

/// Replaces the password of a URL, if it has one, in its user part or in its query
/// (`?password=`, which PostgreSQL's URLs accept, or any parameter naming a secret, key or token).
pub fn redact_url(raw: &str) -> String {
    let Ok(mut u) = url::Url::parse(raw) else {
        return "<unparseable>".into();
    };
    if u.password().is_some() {
        let _ = u.set_password(Some("***"));
    }
    let secret = |k: &str| {
        let k = k.to_ascii_lowercase();
        ["pass", "secret", "key", "token"]
            .iter()
            .any(|s| k.contains(s))
    };
    if u.query_pairs().any(|(k, _)| secret(&k)) {
        let pairs: Vec<(String, String)> = u
            .query_pairs()
            .map(|(k, v)| {
                let v = if secret(&k) {
                    "***".into()
                } else {
                    v.into_owned()
                };
                (k.into_owned(), v)
            })
            .collect();
        u.query_pairs_mut().clear().extend_pairs(pairs);
    }
    u.to_string()
}

impl fmt::Debug for Settings {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.debug_struct("Settings")
            .field("database_url", &redact_url(&self.database_url))
            .field("listen", &self.listen)
            .field("smtp_url", &self.smtp_url.as_deref().map(redact_url))
            .field("mail_from", &self.mail_from)
            .field("public_url", &self.public_url)
            .field("max_body_bytes", &self.max_body_bytes)
            .field("log_format", &self.log_format)
            .field("policy_version", &self.policy_version)
            .field("registration_series", &self.registration_series)
            .field("registration_pattern", &self.registration_pattern)
            .field("time_zone", &self.time_zone)
            .field("trusted_proxies", &self.trusted_proxies)
            .field("public_rate_limit", &self.public_rate_limit)
            .field("public_rate_window_secs", &self.public_rate_window_secs)
            // Addresses are personal data: counted, not shown.
            .field("officer_emails", &self.officer_emails.len())
            .field("data_dir", &self.data_dir)
            .field("package_days", &self.package_days)
            .field("secret_key", &self.secret_key.as_ref().map(|_| "***"))
            .field("erasure_policy", &self.erasure_policy)
            .finish()
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn debug_hides_passwords() {
        let s = Settings {
            database_url: "postgres://insyn:hunter2@db/insyn".into(),
            smtp_url: Some("smtp://mail:s3cret@mx:25".into()),
            secret_key: Some("a-suppression-secret-of-32-chars-or-more".into()),
            ..Settings::default()
        };
        let shown = format!("{s:?}");
        assert!(!shown.contains("hunter2"), "{shown}");
        assert!(!shown.contains("s3cret"), "{shown}");
        assert!(!shown.contains("suppression-secret"), "{shown}");
        assert!(shown.contains("***"));
        let q = redact_url("postgres://insyn@db/insyn?sslmode=require&password=hunter2");
        assert_eq!(q, "postgres://insyn@db/insyn?sslmode=require&password=***");
    }

    fn load_toml(text: &str) -> Result<Settings, ConfigError> {
        let dir = tempfile::tempdir().unwrap();
        let path = dir.path().join("insyn.toml");
        std::fs::write(&path, text).unwrap();
        Settings::load(Some(path.to_str().unwrap()))
    }

    #[test]
    fn a_file_that_does_not_parse_is_named_by_line_without_quoting_it() {
        let e = load_toml(
            "listen = \"127.0.0.1:9000\"\nsecret-key = \"hunter2-hunter2-hunter2-hunter2-xx\"\n",
        )
        .unwrap_err()
        .to_string();
        assert!(e.contains("line 2"), "{e}");
        assert!(!e.contains("hunter2"), "{e}");
    }

    #[test]
    fn numbers_out_of_range_are_refused_by_name() {
        for (text, name) in [
            ("package_days = 100000000", "package_days"),
            ("package_days = 0", "package_days"),
            ("public_rate_window_secs = 0", "public_rate_window_secs"),
            ("public_rate_limit = 0", "public_rate_limit"),
        ] {
            let e = load_toml(text).unwrap_err().to_string();
            assert!(e.starts_with(name), "{text}: {e}");
        }
        assert_eq!(load_toml("package_days = 90").unwrap().package_days, 90);
    }
}
