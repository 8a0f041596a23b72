//! Writing a package's files into the ZIP: `data.json` as the records come, `records.csv` and
//! `index.html` beside it, then the rest of the entries and the manifest.
use super::read::{Consent, Item, Role};
use super::{BuildError, Built, Head, Part, hash_file};
use crate::consent::rules::Purpose;
use crate::mail::rules::{Html, Language, escape_html};
use crate::packages::rules::{
    BOM, CONSENTS_CSV, CsvLine, DATA_JSON, DATA_SCHEMA, HTML_TAIL, INDEX_HTML, KeptSentence,
    MANIFEST_JSON, Moment, PackageKind, RECORDS_CSV, Registered, SCHEMA_JSON, article_15,
    change_word, csv_line, html_head, kind_word, visibility_word,
};
use crate::retention::rules::{Retention, retention_of};
use sha2::{Digest, Sha256};
use std::collections::HashMap;
use std::io::Write;
use std::path::{Path, PathBuf};

/// Fast deflate: packages are built while the person waits, and text compresses well anyway.
pub(super) fn entry_options() -> zip::write::SimpleFileOptions {
    zip::write::SimpleFileOptions::default()
        .compression_method(zip::CompressionMethod::Deflated)
        .compression_level(Some(1))
}

/// Text on its way into one of the package's files, gathered into large pieces before it is
/// compressed and hashed: both cost per call, and a package is written as many small strings.
pub(super) struct Spool {
    pub(super) buf: String,
    pub(super) hash: Sha256,
    pub(super) size: u64,
}

/// How much text a spool gathers before it passes it on.
pub(super) const SPOOL: usize = 64 * 1024;

impl Spool {
    pub(super) fn new() -> Self {
        Spool {
            buf: String::with_capacity(SPOOL + 4096),
            hash: Sha256::new(),
            size: 0,
        }
    }

    pub(super) fn put(&mut self, s: &str, out: &mut impl Write) -> Result<(), BuildError> {
        self.buf.push_str(s);
        self.spill(out)
    }

    pub(super) fn put_fmt(
        &mut self,
        args: std::fmt::Arguments<'_>,
        out: &mut impl Write,
    ) -> Result<(), BuildError> {
        // Writing into a String cannot fail.
        let _ = std::fmt::Write::write_fmt(&mut self.buf, args);
        self.spill(out)
    }

    pub(super) fn spill(&mut self, out: &mut impl Write) -> Result<(), BuildError> {
        if self.buf.len() >= SPOOL {
            self.flush(out)?;
        }
        Ok(())
    }

    pub(super) fn flush(&mut self, out: &mut impl Write) -> Result<(), BuildError> {
        out.write_all(self.buf.as_bytes())?;
        self.hash.update(self.buf.as_bytes());
        self.size += self.buf.len() as u64;
        self.buf.clear();
        Ok(())
    }

    /// Passes on what is left; the file's SHA-256 and size.
    pub(super) fn done(mut self, out: &mut impl Write) -> Result<(String, u64), BuildError> {
        self.flush(out)?;
        Ok((hex::encode(self.hash.finalize()), self.size))
    }
}

/// Writes one file into the ZIP and keeps its hash and size for the manifest.
pub(super) struct Entry<'a, W: Write + std::io::Seek> {
    pub(super) zip: &'a mut zip::ZipWriter<W>,
    pub(super) spool: Spool,
}

impl<'a, W: Write + std::io::Seek> Entry<'a, W> {
    pub(super) fn start(zip: &'a mut zip::ZipWriter<W>, name: &str) -> Result<Self, BuildError> {
        zip.start_file(name, entry_options())?;
        Ok(Entry {
            zip,
            spool: Spool::new(),
        })
    }

    pub(super) fn done(self) -> Result<(String, u64), BuildError> {
        self.spool.done(self.zip)
    }
}

/// Where a piece of a package's file is written.
pub(super) trait Sink {
    fn put(&mut self, s: &str) -> Result<(), BuildError>;
    /// `format_args!` written straight into the file, without a `String` of its own.
    fn put_fmt(&mut self, args: std::fmt::Arguments<'_>) -> Result<(), BuildError>;
}

impl<W: Write + std::io::Seek> Sink for Entry<'_, W> {
    fn put(&mut self, s: &str) -> Result<(), BuildError> {
        self.spool.put(s, self.zip)
    }
    fn put_fmt(&mut self, args: std::fmt::Arguments<'_>) -> Result<(), BuildError> {
        self.spool.put_fmt(args, self.zip)
    }
}

/// One of the package's files written, compressed, into a ZIP of its own as the records go by,
/// and copied into the package's ZIP whole once `data.json` is done: the compressing happens
/// while the reader waits for the database, not after it. On disk, so memory stays bounded.
pub(super) struct Side {
    pub(super) path: PathBuf,
    pub(super) zip: zip::ZipWriter<std::io::BufWriter<std::fs::File>>,
    pub(super) spool: Spool,
}

impl Side {
    pub(super) fn create(path: PathBuf, name: &str) -> Result<Self, BuildError> {
        let mut zip = zip::ZipWriter::new(std::io::BufWriter::new(std::fs::File::create(&path)?));
        zip.start_file(name, entry_options())?;
        Ok(Side {
            path,
            zip,
            spool: Spool::new(),
        })
    }

    /// Copies the finished file into `zip` as it is (no second compression); its hash and size.
    pub(super) fn copy_into<W: Write + std::io::Seek>(
        mut self,
        zip: &mut zip::ZipWriter<W>,
    ) -> Result<(String, u64), BuildError> {
        let done = self.spool.done(&mut self.zip)?;
        self.zip
            .finish()?
            .into_inner()
            .map_err(std::io::IntoInnerError::into_error)?;
        let mut side = zip::ZipArchive::new(std::fs::File::open(&self.path)?)?;
        zip.raw_copy_file(side.by_index_raw(0)?)?;
        Ok(done)
    }
}

impl Sink for Side {
    fn put(&mut self, s: &str) -> Result<(), BuildError> {
        self.spool.put(s, &mut self.zip)
    }
    fn put_fmt(&mut self, args: std::fmt::Arguments<'_>) -> Result<(), BuildError> {
        self.spool.put_fmt(args, &mut self.zip)
    }
}

/// The headings and sentences of `index.html`, in the request's language.
pub(super) struct Texts {
    pub(super) title: &'static str,
    pub(super) searched: &'static str,
    pub(super) records: &'static str,
    pub(super) sent_to_you: &'static str,
    pub(super) consents: &'static str,
    pub(super) requests: &'static str,
    pub(super) none: &'static str,
    pub(super) withheld: &'static str,
    pub(super) restricted: &'static str,
    pub(super) blocks: &'static str,
    pub(super) no_blocks: &'static str,
    pub(super) registration: &'static str,
    pub(super) moderation: &'static str,
    pub(super) in_reply_to: &'static str,
}

pub(super) fn texts(lang: Language) -> Texts {
    match lang {
        Language::Sv => Texts {
            title: "Dina uppgifter hos kommunen",
            searched: "Konton vi har sökt på",
            records: "Det du har skrivit och gjort på våra konton",
            sent_to_you: "Meddelanden som kommunen har skickat till dig",
            consents: "Samtycken",
            requests: "Dina begäranden",
            none: "Inget hittades.",
            withheld: "poster har hållits inne på grund av sekretess (offentlighets- och sekretesslagen)",
            restricted: "av posterna ovan omfattas av begränsad behandling (dataskyddsförordningen art. 18): vi bevarar dem men söker inte fram eller lämnar ut dem till andra",
            blocks: "Blockeringar",
            no_blocks: "Inget av dina konton är blockerat på våra konton.",
            registration: "diarienummer",
            moderation: "Moderering",
            in_reply_to: "Svar på:",
        },
        Language::En => Texts {
            title: "Your data held by the municipality",
            searched: "Accounts searched",
            records: "What you wrote and did on our accounts",
            sent_to_you: "Messages the municipality sent you",
            consents: "Consents",
            requests: "Your requests",
            none: "Nothing was found.",
            withheld: "records were withheld as classified (Public Access to Information and Secrecy Act)",
            restricted: "of the records above are under a restriction of processing (GDPR Art. 18): we keep them but do not search for them or disclose them to others",
            blocks: "Blocks",
            no_blocks: "None of your accounts is blocked on our channels.",
            registration: "registration number",
            moderation: "Moderation",
            in_reply_to: "In reply to:",
        },
    }
}

/// `records.csv` up to its first row.
pub(super) fn csv_opening(e: &mut impl Sink) -> Result<(), BuildError> {
    e.put(BOM)?;
    e.put(&csv_line(&[
        "id",
        "kind",
        "channel",
        "platform_time",
        "archived_at",
        "direction",
        "visibility",
        "text",
        "in_reply_to",
        "registration_number",
        "versions",
        "disposable_from",
        "role",
    ]))
}

/// `index.html` up to the first record's section.
pub(super) fn html_opening(e: &mut impl Sink, head: &Head) -> Result<(), BuildError> {
    let t = texts(head.lang);
    e.put(&html_head(head.lang, t.title))?;
    e.put(&format!("<p>{}</p>\n", escape_html(&head.req.reference)))?;
    e.put(&format!("<h2>{}</h2>\n<ul>\n", escape_html(t.searched)))?;
    for i in &head.identities {
        e.put(&format!(
            "<li>{} {} {}</li>\n",
            escape_html(&i.platform),
            escape_html(&i.platform_id),
            escape_html(i.display_name.as_deref().unwrap_or(""))
        ))?;
    }
    e.put("</ul>\n")?;
    e.put(&format!("<h2>{}</h2>\n", escape_html(t.records)))
}

/// What the records leave behind them: the counts, blocks, consents, requests, rights.
pub(super) struct After<'a> {
    pub(super) records: u64,
    pub(super) withheld: u64,
    pub(super) restricted: u64,
    pub(super) consents: &'a [Consent],
}

/// `index.html` after the last record's section.
pub(super) fn html_closing(
    e: &mut impl Sink,
    head: &Head,
    after: &After<'_>,
) -> Result<(), BuildError> {
    let t = texts(head.lang);
    if after.records == 0 {
        e.put(&format!("<p>{}</p>\n", escape_html(t.none)))?;
    }
    if after.withheld > 0 {
        e.put(&format!(
            "<p>{} {}</p>\n",
            after.withheld,
            escape_html(t.withheld)
        ))?;
    }
    if after.restricted > 0 {
        e.put(&format!(
            "<p>{} {}</p>\n",
            after.restricted,
            escape_html(t.restricted)
        ))?;
    }
    e.put(&format!("<h2>{}</h2>\n", escape_html(t.blocks)))?;
    if head.blocks.is_empty() {
        e.put(&format!("<p>{}</p>\n", escape_html(t.no_blocks)))?;
    } else {
        e.put("<ul>\n")?;
        for b in &head.blocks {
            e.put(&format!(
                "<li>{} · {} · {} · {}</li>\n",
                escape_html(&b.channel),
                b.blocked_at.date_naive(),
                escape_html(b.rule.as_deref().unwrap_or("")),
                escape_html(b.registration_number.as_deref().unwrap_or(""))
            ))?;
        }
        e.put("</ul>\n")?;
    }
    e.put(&format!("<h2>{}</h2>\n<ul>\n", escape_html(t.consents)))?;
    for c in after.consents {
        e.put_fmt(format_args!(
            "<li>{} {} {} ({})</li>\n",
            c.at.to_rfc3339(),
            Html(&c.event),
            Html(c.interaction.as_deref().unwrap_or("")),
            Html(&c.purpose)
        ))?;
    }
    e.put(&format!(
        "</ul>\n<h2>{}</h2>\n<ul>\n",
        escape_html(t.requests)
    ))?;
    for r in &head.earlier {
        e.put(&format!(
            "<li>{} {} {}</li>\n",
            escape_html(&r.reference),
            escape_html(&r.request_type),
            escape_html(&r.status)
        ))?;
    }
    e.put("</ul>\n")?;
    for (h, p) in article_15(head.lang) {
        e.put(&format!(
            "<h2>{}</h2>\n<p>{}</p>\n",
            escape_html(h),
            escape_html(p)
        ))?;
    }
    e.put(HTML_TAIL)
}

/// One row of `records.csv`.
pub(super) fn csv_row(
    e: &mut impl Sink,
    item: &Item,
    channels: &HashMap<i64, String>,
    ret: &serde_json::Value,
) -> Result<(), BuildError> {
    let r = &item.record;
    e.put_fmt(format_args!(
        "{}",
        CsvLine(&[
            &r.id.to_string(),
            &r.kind,
            channels.get(&r.channel_id).map_or("", String::as_str),
            &r.platform_time.map(|t| t.to_rfc3339()).unwrap_or_default(),
            &r.archived_at.to_rfc3339(),
            &r.direction,
            &r.visibility,
            r.text
                .as_deref()
                .or(r.reaction_type.as_deref())
                .unwrap_or(""),
            item.in_reply_to.as_deref().unwrap_or(""),
            r.registration_number.as_deref().unwrap_or(""),
            &item.versions.len().to_string(),
            ret["disposable_from"].as_str().unwrap_or(""),
            item.role.as_str(),
        ])
    ))?;
    Ok(())
}

/// The heading of the messages the municipality sent the person, after what they wrote (which may
/// be nothing).
pub(super) fn html_sent_heading(
    e: &mut impl Sink,
    lang: Language,
    wrote_nothing: bool,
) -> Result<(), BuildError> {
    let t = texts(lang);
    if wrote_nothing {
        e.put_fmt(format_args!("<p>{}</p>\n", Html(t.none)))?;
    }
    e.put_fmt(format_args!("<h2>{}</h2>\n", Html(t.sent_to_you)))
}

/// One record's section of `index.html`: what it is and where, what it answered, what it says,
/// its state now, its registration, how long it is kept, its moderation, and each version (their
/// hashes are in `data.json`).
pub(super) fn html_section(
    e: &mut impl Sink,
    item: &Item,
    channels: &HashMap<i64, String>,
    lang: Language,
    retention: &Retention,
) -> Result<(), BuildError> {
    let r = &item.record;
    let t = texts(lang);
    e.put_fmt(format_args!(
        "<section>\n<h3>{} · {}",
        Html(kind_word(lang, &r.kind)),
        Html(channels.get(&r.channel_id).map_or("", String::as_str)),
    ))?;
    if let Some(at) = r.platform_time {
        e.put_fmt(format_args!(" · {}", Moment(at)))?;
    }
    e.put("</h3>\n")?;
    if let Some(ctx) = &item.in_reply_to {
        e.put_fmt(format_args!(
            "<p class=\"ctx\">{} {}</p>\n",
            t.in_reply_to,
            Html(ctx)
        ))?;
    }
    e.put_fmt(format_args!(
        "<p>{}</p>\n<p class=\"meta\">{}",
        Html(
            r.text
                .as_deref()
                .or(r.reaction_type.as_deref())
                .unwrap_or("")
        ),
        Html(visibility_word(
            lang,
            &r.visibility,
            item.role == Role::Author
        )),
    ))?;
    if let Some(number) = &r.registration_number {
        e.put_fmt(format_args!(" · {} {}", t.registration, Html(number)))?;
    }
    let registered = Registered(r.registration_number.is_some());
    e.put_fmt(format_args!(
        " · {}</p>\n",
        KeptSentence(lang, retention, registered)
    ))?;
    for m in &item.moderation {
        e.put_fmt(format_args!(
            "<p class=\"meta\">{}: {} / {} · {} {}</p>\n",
            t.moderation,
            Html(&m.rule),
            Html(&m.action),
            t.registration,
            Html(&m.registration_number)
        ))?;
    }
    e.put("<ol>")?;
    for v in &item.versions {
        e.put_fmt(format_args!(
            "<li>{} {}",
            Html(change_word(lang, &v.change)),
            Moment(v.seen_at)
        ))?;
        // An earlier text is shown where it was; the latest is the one above.
        if let Some(text) = v.text.as_deref().filter(|&x| Some(x) != r.text.as_deref()) {
            e.put_fmt(format_args!(": {}", Html(text)))?;
        }
        e.put("</li>")?;
    }
    e.put("</ol>\n</section>\n")?;
    Ok(())
}

/// How long a record is kept, as the package tells the person (Art. 15(1)(d)). A registered
/// record is never taken by a disposal run: it leaves the archive only through the registry.
pub(super) fn retention_json(retention: &Retention, registered: bool) -> serde_json::Value {
    if registered {
        return serde_json::json!({
            "kept": "registered: disposed of only through the registry, never by a disposal run",
            "disposable_from": null,
        });
    }
    match retention.clone() {
        Retention::NoDecision => serde_json::json!({"kept": "no disposal decision covers it"}),
        Retention::Permanent { reference, .. } => {
            serde_json::json!({"decision": reference, "disposable_from": null})
        }
        Retention::DisposableFrom {
            reference, date, ..
        } => serde_json::json!({"decision": reference, "disposable_from": date}),
    }
}

/// One record of `data.json`, written straight from the models (no intermediate JSON tree).
#[derive(serde::Serialize)]
pub(super) struct RecordOut<'a> {
    pub(super) id: i64,
    pub(super) kind: &'a str,
    pub(super) channel: &'a str,
    pub(super) platform_id: &'a str,
    /// `author`, or `recipient` for what the municipality sent the person.
    pub(super) role: &'a str,
    pub(super) direction: &'a str,
    pub(super) platform_time: Option<chrono::DateTime<chrono::Utc>>,
    pub(super) archived_at: chrono::DateTime<chrono::Utc>,
    pub(super) text: Option<&'a str>,
    pub(super) reaction_type: Option<&'a str>,
    pub(super) attachments: serde_json::Value,
    pub(super) visibility: &'a str,
    pub(super) in_reply_to: Option<&'a str>,
    pub(super) corrections: Vec<CorrectionOut<'a>>,
    #[serde(flatten, skip_serializing_if = "Option::is_none")]
    pub(super) access: Option<AccessOut<'a>>,
}

/// One consent event of `data.json`.
#[derive(serde::Serialize)]
pub(super) struct ConsentOut<'a> {
    pub(super) event: &'a str,
    pub(super) interaction: Option<&'a str>,
    pub(super) purpose: &'a str,
    pub(super) legal_basis: &'a str,
    pub(super) record_id: Option<i64>,
    pub(super) at: chrono::DateTime<chrono::Utc>,
    pub(super) policy_version: &'a str,
}

#[derive(serde::Serialize)]
pub(super) struct CorrectionOut<'a> {
    pub(super) note: &'a str,
    pub(super) at: chrono::DateTime<chrono::Utc>,
}

/// What an access package adds to a record beyond what an export holds.
#[derive(serde::Serialize)]
pub(super) struct AccessOut<'a> {
    pub(super) registration_number: Option<&'a str>,
    pub(super) moderation: Vec<ModerationOut<'a>>,
    pub(super) retention: &'a serde_json::Value,
    pub(super) versions: Vec<VersionOut<'a>>,
}

#[derive(serde::Serialize)]
pub(super) struct ModerationOut<'a> {
    pub(super) rule: &'a str,
    pub(super) action: &'a str,
    pub(super) decided_at: chrono::DateTime<chrono::Utc>,
    pub(super) registration_number: &'a str,
}

#[derive(serde::Serialize)]
pub(super) struct VersionOut<'a> {
    pub(super) seq: i32,
    pub(super) change: &'a str,
    pub(super) seen_at: chrono::DateTime<chrono::Utc>,
    pub(super) text: Option<&'a str>,
    pub(super) visibility: Option<&'a str>,
    pub(super) hash: &'a str,
}

pub(super) fn record_json(
    item: &Item,
    channels: &HashMap<i64, String>,
    ret: &serde_json::Value,
    kind: PackageKind,
) -> String {
    let r = &item.record;
    let attachments: serde_json::Value =
        serde_json::from_str(&r.attachments).unwrap_or(serde_json::json!([]));
    let out = RecordOut {
        id: r.id,
        kind: &r.kind,
        channel: channels.get(&r.channel_id).map_or("", String::as_str),
        platform_id: &r.platform_id,
        role: item.role.as_str(),
        direction: &r.direction,
        platform_time: r.platform_time,
        archived_at: r.archived_at,
        text: r.text.as_deref(),
        reaction_type: r.reaction_type.as_deref(),
        attachments,
        visibility: &r.visibility,
        in_reply_to: item.in_reply_to.as_deref(),
        corrections: item
            .notes
            .iter()
            .map(|n| CorrectionOut {
                note: &n.note,
                at: n.created_at,
            })
            .collect(),
        access: (kind == PackageKind::Access).then(|| AccessOut {
            registration_number: r.registration_number.as_deref(),
            moderation: item
                .moderation
                .iter()
                .map(|m| ModerationOut {
                    rule: &m.rule,
                    action: &m.action,
                    decided_at: m.decided_at,
                    registration_number: &m.registration_number,
                })
                .collect(),
            retention: ret,
            versions: item
                .versions
                .iter()
                .map(|v| VersionOut {
                    seq: v.seq,
                    change: &v.change,
                    seen_at: v.seen_at,
                    text: v.text.as_deref(),
                    visibility: v.visibility.as_deref(),
                    hash: &v.hash,
                })
                .collect(),
        }),
    };
    serde_json::to_string(&out).unwrap_or_else(|_| "null".into())
}

/// Writes the package from the parts the reader sends; on failure nothing is left behind.
pub(super) fn write(
    head: Head,
    rx: &mut tokio::sync::mpsc::Receiver<Part>,
) -> Result<Built, BuildError> {
    std::fs::create_dir_all(&head.dir)?;
    let token: [u8; 12] = rand::random();
    let path = head
        .dir
        .join(format!("{}-{}.zip", head.package_id, hex::encode(token)));
    let written = write_to(&head, rx, &path);
    for spool in ["csv.part", "html.part"] {
        let _ = std::fs::remove_file(path.with_extension(spool));
    }
    if written.is_err() {
        let _ = std::fs::remove_file(path.with_extension("partial"));
    }
    written
}

pub(super) fn write_to(
    head: &Head,
    rx: &mut tokio::sync::mpsc::Receiver<Part>,
    path: &Path,
) -> Result<Built, BuildError> {
    let Head {
        req,
        kind,
        identities,
        channels,
        decisions,
        earlier,
        blocks,
        built_at,
        ..
    } = head;
    let kind = *kind;
    let partial = path.with_extension("partial");
    let mut zip = zip::ZipWriter::new(std::fs::File::create(&partial)?);
    let mut manifest: Vec<serde_json::Value> = vec![];
    let mut records = 0u64;

    // One pass over the records: data.json goes straight into the ZIP, and the rows of records.csv
    // and the sections of index.html into ZIPs beside it, to be copied in after.
    let mut sides = match kind {
        PackageKind::Access => {
            let mut csv = Side::create(path.with_extension("csv.part"), RECORDS_CSV)?;
            csv_opening(&mut csv)?;
            let mut html = Side::create(path.with_extension("html.part"), INDEX_HTML)?;
            html_opening(&mut html, head)?;
            Some((csv, html))
        }
        PackageKind::Export => None,
    };
    // data.json, streamed a page at a time.
    let (consents, withheld, restricted) = {
        let mut e = Entry::start(&mut zip, DATA_JSON)?;
        let opening = serde_json::json!({
            "format": "insyn-package/1",
            "kind": kind.as_str(),
            "reference": req.reference,
            "built_at": built_at,
            "language": req.language,
            "controller": "the municipality (kommunen), with the platform as joint controller for what is published",
            "identities": identities.iter().map(|i| serde_json::json!({"platform": i.platform, "platform_id": i.platform_id, "display_name": i.display_name, "profile_link": i.profile_link})).collect::<Vec<_>>(),
        });
        let opening = opening.to_string();
        e.put(&opening[..opening.len() - 1])?;
        e.put(",\"records\":[")?;
        let mut first = true;
        let mut sent_shown = false;
        let (consents, withheld, restricted) = loop {
            match rx.blocking_recv() {
                Some(Part::Records(page)) => {
                    for item in &page {
                        if !first {
                            e.put(",")?;
                        }
                        first = false;
                        let retention = retention_of(
                            &crate::retention::store::facts(&item.record, head.time_zone),
                            decisions,
                        );
                        let ret =
                            retention_json(&retention, item.record.registration_number.is_some());
                        e.put(&record_json(item, channels, &ret, kind))?;
                        if let Some((csv, html)) = sides.as_mut() {
                            csv_row(csv, item, channels, &ret)?;
                            if item.role == Role::Recipient && !sent_shown {
                                // Every record before it is one the person wrote.
                                html_sent_heading(html, head.lang, records == 0)?;
                                sent_shown = true;
                            }
                            html_section(html, item, channels, head.lang, &retention)?;
                        }
                        records += 1;
                    }
                    head.lap("page written");
                }
                Some(Part::End {
                    consents,
                    withheld,
                    restricted,
                }) => break (consents, withheld, restricted),
                None => return Err(BuildError::Incomplete),
            }
        };
        head.lap("records");
        e.put("]")?;
        e.put(",\"consents\":")?;
        let c: Vec<ConsentOut<'_>> = consents
            .iter()
            .map(|c| ConsentOut {
                event: &c.event,
                interaction: c.interaction.as_deref(),
                purpose: &c.purpose,
                legal_basis: "consent",
                record_id: c.record_id,
                at: c.at,
                policy_version: &c.policy_version,
            })
            .collect();
        e.put(&serde_json::to_string(&c).unwrap_or_else(|_| "[]".into()))?;
        if kind == PackageKind::Access {
            let purposes: Vec<serde_json::Value> = Purpose::ALL
                .iter()
                .map(|p| serde_json::json!({"purpose": p.as_str(), "legal_basis": p.legal_basis().as_str(), "source": p.source()}))
                .collect();
            e.put(",\"purposes\":")?;
            e.put(&serde_json::Value::from(purposes).to_string())?;
            let reqs: Vec<serde_json::Value> = earlier
                .iter()
                .map(|r| serde_json::json!({"reference": r.reference, "type": r.request_type, "status": r.status, "received_at": r.received_at}))
                .collect();
            e.put(",\"requests\":")?;
            e.put(&serde_json::Value::from(reqs).to_string())?;
            e.put(",\"blocks\":")?;
            e.put(&serde_json::to_string(blocks).unwrap_or_else(|_| "[]".into()))?;
        }
        let mut withheld_json = vec![];
        if withheld > 0 {
            withheld_json.push(serde_json::json!({"count": withheld, "reason": "sekretess enligt offentlighets- och sekretesslagen (2009:400) / classified under the Public Access to Information and Secrecy Act"}));
        }
        let withheld_json = serde_json::Value::from(withheld_json);
        e.put(",\"withheld\":")?;
        e.put(&withheld_json.to_string())?;
        e.put("}")?;
        let (sha, size) = e.done()?;
        manifest.push(serde_json::json!({"name": DATA_JSON, "sha256": sha, "size": size}));
        (consents, withheld, restricted)
    };
    {
        let mut e = Entry::start(&mut zip, SCHEMA_JSON)?;
        e.put(DATA_SCHEMA)?;
        let (sha, size) = e.done()?;
        manifest.push(serde_json::json!({"name": SCHEMA_JSON, "sha256": sha, "size": size}));
    }
    if let Some((csv, mut html)) = sides {
        let (sha, size) = csv.copy_into(&mut zip)?;
        manifest.push(serde_json::json!({"name": RECORDS_CSV, "sha256": sha, "size": size}));
        {
            let mut e = Entry::start(&mut zip, CONSENTS_CSV)?;
            e.put(BOM)?;
            e.put(&csv_line(&[
                "event",
                "interaction",
                "purpose",
                "legal_basis",
                "record_id",
                "at",
                "policy_version",
            ]))?;
            for c in &consents {
                e.put_fmt(format_args!(
                    "{}",
                    CsvLine(&[
                        &c.event,
                        c.interaction.as_deref().unwrap_or(""),
                        &c.purpose,
                        "consent",
                        &c.record_id.map(|i| i.to_string()).unwrap_or_default(),
                        &c.at.to_rfc3339(),
                        &c.policy_version,
                    ])
                ))?;
            }
            let (sha, size) = e.done()?;
            manifest.push(serde_json::json!({"name": CONSENTS_CSV, "sha256": sha, "size": size}));
        }
        html_closing(
            &mut html,
            head,
            &After {
                records,
                withheld,
                restricted,
                consents: &consents,
            },
        )?;
        let (sha, size) = html.copy_into(&mut zip)?;
        manifest.push(serde_json::json!({"name": INDEX_HTML, "sha256": sha, "size": size}));
    }
    {
        let m = serde_json::json!({"reference": req.reference, "kind": kind.as_str(), "built_at": built_at, "files": manifest});
        let mut e = Entry::start(&mut zip, MANIFEST_JSON)?;
        e.put(&serde_json::to_string_pretty(&m).unwrap_or_default())?;
        // The manifest does not list itself; its text reaches the ZIP only through done().
        e.done()?;
    }
    head.lap("entries written");
    zip.finish()?.sync_all()?;
    head.lap("synced");
    std::fs::rename(&partial, path)?;
    let (sha256, size) = hash_file(path)?;
    head.lap("hashed");
    Ok(Built {
        sha256,
        size,
        path: path.to_owned(),
        records,
    })
}

#[cfg(test)]
mod tests {
    use super::*;
    use entities::request;

    fn head(dir: &Path) -> Head {
        let at = chrono::Utc::now();
        Head {
            dir: dir.to_owned(),
            time_zone: chrono_tz::Europe::Stockholm,
            package_id: 7,
            req: request::Model {
                id: 1,
                reference: "DSR-2026-000001".into(),
                request_type: "access".into(),
                status: "completed".into(),
                email: "anna@example.se".into(),
                language: "sv".into(),
                message: None,
                received_at: at,
                due_at: at.date_naive(),
                extended_due_at: None,
                extension_months: 0,
                extension_reason: None,
                status_token_hash: String::new(),
                registration_number: None,
                assignee: None,
                duplicate_of: None,
                created_by: "test".into(),
                created_at: at,
                updated_at: at,
                closed_at: None,
                refusal_reason: None,
                email_verified_at: None,
                code_hash: None,
                code_expires_at: None,
                code_attempts: 0,
                codes_sent: 0,
                code_sent_at: None,
                account_phrase: String::new(),
            },
            kind: PackageKind::Access,
            lang: Language::Sv,
            identities: vec![],
            channels: HashMap::new(),
            decisions: vec![],
            earlier: vec![],
            blocks: vec![],
            built_at: at,
            started: std::time::Instant::now(),
        }
    }

    fn files(dir: &Path) -> Vec<String> {
        let mut names: Vec<String> = std::fs::read_dir(dir)
            .unwrap()
            .map(|e| e.unwrap().file_name().to_string_lossy().into_owned())
            .collect();
        names.sort();
        names
    }

    #[test]
    fn a_build_whose_records_stop_short_leaves_no_file_behind() {
        let dir = tempfile::tempdir().unwrap();
        let (tx, mut rx) = tokio::sync::mpsc::channel(2);
        tx.try_send(Part::Records(vec![])).unwrap();
        // The reader fails: the end of the records never comes.
        drop(tx);
        let written = write(head(dir.path()), &mut rx);
        assert!(matches!(written, Err(BuildError::Incomplete)));
        assert!(files(dir.path()).is_empty(), "{:?}", files(dir.path()));
    }

    #[test]
    fn a_finished_build_leaves_only_the_zip() {
        let dir = tempfile::tempdir().unwrap();
        let (tx, mut rx) = tokio::sync::mpsc::channel(2);
        tx.try_send(Part::End {
            consents: vec![],
            withheld: 2,
            restricted: 0,
        })
        .unwrap();
        drop(tx);
        let built = write(head(dir.path()), &mut rx).unwrap();
        assert_eq!(
            files(dir.path()),
            [built.path.file_name().unwrap().to_string_lossy()]
        );
        assert_eq!(built.records, 0);
        let mut zip = zip::ZipArchive::new(std::fs::File::open(&built.path).unwrap()).unwrap();
        let mut html = String::new();
        std::io::Read::read_to_string(&mut zip.by_name(INDEX_HTML).unwrap(), &mut html).unwrap();
        assert!(html.contains("Inget hittades.") && html.contains("2 poster har hållits inne"));
    }
}
