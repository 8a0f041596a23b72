//! Builds a package as a ZIP on disk, page by page: memory stays bounded however many records the
//! person has. Each file's SHA-256 and size go into `manifest.json`.
use super::rules::{
    BOM, CONSENTS_CSV, CsvLine, DATA_JSON, DATA_SCHEMA, HTML_TAIL, INDEX_HTML, KeptSentence,
    MANIFEST_JSON, Moment, PackageKind, RECORDS_CSV, SCHEMA_JSON, article_15, change_word,
    context_text, csv_line, html_head, kind_word, visibility_word,
};
use crate::archive::store::{Fetched, json_page, json_text, read_records, record_columns};
use crate::consent::rules::Purpose;
use crate::mail::rules::{Html, Language, escape_html};
use crate::retention::rules::{Decision, Retention, retention_of};
use entities::{
    channel, consent_event, identity, identity_block, moderation, record, record_version, request,
    request_identity, request_match,
};
use sea_orm::sea_query::Expr;
use sea_orm::{
    ColumnTrait, DatabaseConnection, DbErr, EntityTrait, QueryFilter, QueryOrder, QuerySelect,
    QueryTrait,
};
use sha2::{Digest, Sha256};
use std::collections::HashMap;
use std::io::Write;
use std::path::{Path, PathBuf};

const PAGE: u64 = 500;
const FIRST_PAGE: u64 = 100;

#[derive(Debug, thiserror::Error)]
pub enum BuildError {
    #[error(transparent)]
    Db(#[from] DbErr),
    #[error("writing the package: {0}")]
    Io(#[from] std::io::Error),
    #[error("writing the package: {0}")]
    Zip(#[from] zip::result::ZipError),
    #[error("the records stopped before the end of the package")]
    Incomplete,
}

/// A built package on disk.
pub struct Built {
    pub path: PathBuf,
    pub sha256: String,
    pub size: u64,
    pub records: u64,
}

/// The identities a request may act on: accounts proven the person's, and matches an officer
/// confirmed. Nothing matched by name alone.
pub async fn verified_identities<C: sea_orm::ConnectionTrait>(
    db: &C,
    request_id: i64,
) -> Result<Vec<identity::Model>, DbErr> {
    let mut ids: Vec<i64> = request_identity::Entity::find()
        .filter(request_identity::Column::RequestId.eq(request_id))
        .filter(request_identity::Column::VerifiedAt.is_not_null())
        .all(db)
        .await?
        .into_iter()
        .filter_map(|i| i.identity_id)
        .collect();
    ids.extend(
        request_match::Entity::find()
            .filter(request_match::Column::RequestId.eq(request_id))
            .filter(request_match::Column::State.eq("confirmed"))
            .all(db)
            .await?
            .into_iter()
            .map(|m| m.identity_id),
    );
    ids.sort_unstable();
    ids.dedup();
    identity::Entity::find()
        .filter(identity::Column::Id.is_in(ids))
        .order_by_asc(identity::Column::Id)
        .all(db)
        .await
}

/// One record with what the package shows beside it.
struct Item {
    record: record::Model,
    versions: Vec<Version>,
    moderation: Vec<moderation::Model>,
    notes: Vec<entities::record_note::Model>,
    /// The text of what it belongs to, redacted when another person wrote it.
    in_reply_to: Option<String>,
}

/// A page of the person's records: those the package shows, and how many it holds back.
#[derive(Default)]
struct Page {
    items: Vec<Item>,
    /// Classified under the Secrecy Act.
    withheld: u64,
    /// Under a restriction of processing (Art. 18).
    restricted: u64,
}

/// What the package needs of a record's parent.
#[derive(serde::Deserialize)]
struct Parent {
    id: i64,
    author_identity_id: Option<i64>,
    direction: String,
    text: Option<String>,
}

/// A page as the database gave it: its records, the parents they answer and the versions of
/// those that changed. Parsed on the assembler's thread while the next page is read.
struct RawPage {
    records: Fetched<record::Model>,
    parents: Fetched<Parent>,
    versions: Fetched<Version>,
}

/// What turns a raw page into items, besides the page.
struct Assembly {
    identity_ids: Vec<i64>,
    lang: Language,
    /// Correction notes and moderation decisions of the person's records, by record. They are
    /// few, so they are read once, by a join, rather than looked up for every page of records.
    notes: HashMap<i64, Vec<entities::record_note::Model>>,
    moderations: HashMap<i64, Vec<moderation::Model>>,
}

struct Source<'a> {
    db: &'a DatabaseConnection,
    identity_ids: Vec<i64>,
}

impl Assembly {
    async fn read(
        db: &DatabaseConnection,
        identity_ids: Vec<i64>,
        lang: Language,
    ) -> Result<Self, DbErr> {
        use entities::record_note;
        use sea_orm::{JoinType, QuerySelect as _};
        let theirs = record::Column::AuthorIdentityId.is_in(identity_ids.clone());
        let mut notes: HashMap<i64, Vec<record_note::Model>> = HashMap::new();
        for n in record_note::Entity::find()
            .join(
                JoinType::InnerJoin,
                record_note::Entity::belongs_to(record::Entity)
                    .from(record_note::Column::RecordId)
                    .to(record::Column::Id)
                    .into(),
            )
            .filter(theirs.clone())
            .order_by_asc(record_note::Column::Id)
            .all(db)
            .await?
        {
            notes.entry(n.record_id).or_default().push(n);
        }
        let mut moderations: HashMap<i64, Vec<moderation::Model>> = HashMap::new();
        for m in moderation::Entity::find()
            .join(
                JoinType::InnerJoin,
                moderation::Entity::belongs_to(record::Entity)
                    .from(moderation::Column::RecordId)
                    .to(record::Column::Id)
                    .into(),
            )
            .filter(theirs)
            .order_by_asc(moderation::Column::Id)
            .all(db)
            .await?
        {
            moderations.entry(m.record_id).or_default().push(m);
        }
        Ok(Assembly {
            identity_ids,
            lang,
            notes,
            moderations,
        })
    }
}

impl Source<'_> {
    /// The ids of the person's next page: the records after `after`, `size` at most.
    fn page_ids(&self, after: i64, size: u64) -> sea_orm::sea_query::SelectStatement {
        record::Entity::find()
            .select_only()
            .column(record::Column::Id)
            .filter(record::Column::AuthorIdentityId.is_in(self.identity_ids.clone()))
            .filter(record::Column::Id.gt(after))
            .order_by_asc(record::Column::Id)
            .limit(size)
            .into_query()
    }

    /// The page after `after`, unparsed, with its last record; `None` past the end. Classified
    /// and restricted records are read with the rest and counted when the page is assembled,
    /// rather than counted by queries of their own: each query over a heavy identity's records
    /// costs a look-up per record.
    async fn read(&self, after: i64, size: u64) -> Result<Option<(i64, RawPage)>, DbErr> {
        let backend = self.db.get_database_backend();
        if backend == sea_orm::DbBackend::Sqlite {
            let (records, parents, versions) = self.selects(backend, || {
                sea_orm::Condition::all()
                    .add(record::Column::Id.in_subquery(self.page_ids(after, size)))
            });
            return self
                .read_at_once(after, size, records, parents, versions)
                .await;
        }
        let ids = backend.build(&self.page_ids(after, size));
        let last = sea_orm::Statement {
            sql: format!("SELECT MAX(id) AS last FROM ({}) AS p", ids.sql),
            ..ids
        };
        let Some(last) = (match sea_orm::ConnectionTrait::query_one_raw(self.db, last).await? {
            Some(row) => row.try_get::<Option<i64>>("", "last")?,
            None => None,
        }) else {
            return Ok(None);
        };
        // PostgreSQL plans a range of the author's index better than a limited subquery.
        let (records, parents, versions) = self.selects(backend, || {
            sea_orm::Condition::all()
                .add(record::Column::AuthorIdentityId.is_in(self.identity_ids.clone()))
                .add(record::Column::Id.gt(after))
                .add(record::Column::Id.lte(last))
        });
        let parents = parents
            .into_tuple::<(i64, Option<i64>, String, Option<String>)>()
            .all(self.db)
            .await?
            .into_iter()
            .map(|(id, author_identity_id, direction, text)| Parent {
                id,
                author_identity_id,
                direction,
                text,
            })
            .collect();
        let versions = versions
            .into_tuple::<(
                i64,
                i32,
                String,
                chrono::DateTime<chrono::Utc>,
                String,
                String,
            )>()
            .all(self.db)
            .await?
            .into_iter()
            .map(|(record_id, seq, change, seen_at, hash, content)| {
                // PostgreSQL would parse the content once per field (a cast to `jsonb` each),
                // which costs more than reading it whole and skimming it here.
                let bits: ContentBits = serde_json::from_str(&content).unwrap_or_default();
                Version {
                    record_id,
                    seq,
                    change,
                    seen_at,
                    hash,
                    text: bits.text,
                    visibility: bits.visibility,
                }
            })
            .collect();
        Ok(Some((
            last,
            RawPage {
                records: read_records(self.db, records).await?,
                parents: Fetched::Read(parents),
                versions: Fetched::Read(versions),
            },
        )))
    }

    /// The page's records, the parents they answer and the versions of those that changed, as
    /// selects of the records `page` picks out.
    fn selects(
        &self,
        backend: sea_orm::DbBackend,
        page: impl Fn() -> sea_orm::Condition,
    ) -> (
        sea_orm::Select<record::Entity>,
        sea_orm::Select<record::Entity>,
        sea_orm::Select<record_version::Entity>,
    ) {
        let records = record::Entity::find()
            .filter(page())
            .order_by_asc(record::Column::Id);
        let parents = parents_select(
            record::Entity::find()
                .select_only()
                .column(record::Column::ParentId)
                .filter(page())
                .filter(record::Column::ParentId.is_not_null())
                .into_query(),
        );
        // Most records were never changed: their one version is what the record row holds, so
        // only the versions of changed records are read.
        let versions = versions_select(
            backend,
            record::Entity::find()
                .select_only()
                .column(record::Column::Id)
                .filter(page())
                .filter(record::Column::VersionCount.gt(1))
                .into_query(),
        );
        (records, parents, versions)
    }

    /// On SQLite, the page in one statement: its last id and three JSON arrays in one row. Each
    /// statement is a hand-over to the driver's thread and back, and on a busy machine each
    /// hand-over waits for a core.
    async fn read_at_once(
        &self,
        after: i64,
        size: u64,
        records: sea_orm::Select<record::Entity>,
        parents: sea_orm::Select<record::Entity>,
        versions: sea_orm::Select<record_version::Entity>,
    ) -> Result<Option<(i64, RawPage)>, DbErr> {
        let backend = self.db.get_database_backend();
        let ids = self
            .page_ids(after, size)
            .build(sea_orm::sea_query::SqliteQueryBuilder);
        let parts = [
            sea_orm::Statement::from_sql_and_values(
                backend,
                format!("SELECT MAX(id) FROM ({})", ids.0),
                ids.1,
            ),
            json_page(records.build(backend), &record_columns()),
            json_page(parents.build(backend), &PARENT_COLUMNS.map(String::from)),
            json_page(versions.build(backend), &VERSION_COLUMNS.map(String::from)),
        ];
        let mut sql = String::from("SELECT ");
        let mut values = vec![];
        for (n, (part, name)) in parts
            .into_iter()
            .zip(["last", "records", "parents", "versions"])
            .enumerate()
        {
            if n > 0 {
                sql.push_str(", ");
            }
            // SQLite's placeholders are positional: the values follow the parts in order.
            sql.push_str(&format!("({}) AS {name}", part.sql));
            values.extend(part.values.map(|v| v.0).unwrap_or_default());
        }
        let statement = sea_orm::Statement::from_sql_and_values(backend, sql, values);
        let Some(row) = sea_orm::ConnectionTrait::query_one_raw(self.db, statement).await? else {
            return Ok(None);
        };
        let Some(last) = row.try_get::<Option<i64>>("", "last")? else {
            return Ok(None);
        };
        Ok(Some((
            last,
            RawPage {
                records: Fetched::Json(row.try_get("", "records")?),
                parents: Fetched::Json(row.try_get("", "parents")?),
                versions: Fetched::Json(row.try_get("", "versions")?),
            },
        )))
    }
}

impl Assembly {
    /// A raw page parsed into the items the package shows.
    fn assemble(&self, raw: RawPage) -> Result<Page, DbErr> {
        let mut page = Page::default();
        let mut shown = vec![];
        for r in raw.records.into_records()? {
            if r.classified {
                page.withheld += 1;
            } else if r.restricted_by.is_some() {
                page.restricted += 1;
            } else {
                shown.push(r);
            }
        }
        let mut versions: HashMap<i64, Vec<Version>> = HashMap::new();
        for v in raw.versions.into_vec()? {
            versions.entry(v.record_id).or_default().push(v);
        }
        for list in versions.values_mut() {
            list.sort_by_key(|v| v.seq);
        }
        let parents: HashMap<i64, Parent> = raw
            .parents
            .into_vec()?
            .into_iter()
            .map(|p| (p.id, p))
            .collect();
        page.items = shown
            .into_iter()
            .map(|r| {
                let parent = r.parent_id.and_then(|p| parents.get(&p));
                let in_reply_to = parent.map(|p| {
                    if p.author_identity_id
                        .is_some_and(|a| self.identity_ids.contains(&a))
                    {
                        p.text.clone().unwrap_or_default()
                    } else {
                        context_text(self.lang, &p.direction, p.text.as_deref())
                    }
                });
                Item {
                    versions: if r.version_count > 1 {
                        versions.remove(&r.id).unwrap_or_default()
                    } else {
                        vec![Version::only_one_of(&r)]
                    },
                    moderation: self.moderations.get(&r.id).cloned().unwrap_or_default(),
                    notes: self.notes.get(&r.id).cloned().unwrap_or_default(),
                    in_reply_to,
                    record: r,
                }
            })
            .collect();
        Ok(page)
    }
}

/// The four columns the package shows of the parents `ids` names.
fn parents_select(ids: sea_orm::sea_query::SelectStatement) -> sea_orm::Select<record::Entity> {
    record::Entity::find()
        .select_only()
        .columns([
            record::Column::Id,
            record::Column::AuthorIdentityId,
            record::Column::Direction,
            record::Column::Text,
        ])
        .filter(record::Column::Id.in_subquery(ids))
}

const PARENT_COLUMNS: [&str; 4] = ["id", "author_identity_id", "direction", "text"];

/// What the package shows of a version: its place, when it was seen, its hash, and the two fields
/// of its canonical content a person reads (taken out by the database; the rest is not read).
#[derive(serde::Deserialize)]
struct Version {
    record_id: i64,
    seq: i32,
    change: String,
    seen_at: chrono::DateTime<chrono::Utc>,
    hash: String,
    text: Option<String>,
    visibility: Option<String>,
}

impl Version {
    /// The one version of a record never changed, from the record row: the import writes both
    /// from the same content at the same moment (`archive::store::ingest`), and the row's hash is
    /// the version's. A test holds the two equal for every record of the real fixtures.
    fn only_one_of(r: &record::Model) -> Self {
        Version {
            record_id: r.id,
            seq: 1,
            change: crate::archive::rules::Change::Created.as_str().to_owned(),
            seen_at: r.archived_at,
            hash: r.current_hash.clone(),
            text: r.text.clone(),
            visibility: Some(r.visibility.clone()),
        }
    }
}

/// The two fields of a version's canonical content the package shows; the rest is skipped unread.
#[derive(serde::Deserialize, Default)]
struct ContentBits {
    text: Option<String>,
    visibility: Option<String>,
}

/// The versions of the records `ids` selects, in no order: on SQLite with the two fields of
/// the content the package shows taken out by `json_extract`, elsewhere with the content whole.
fn versions_select(
    backend: sea_orm::DbBackend,
    ids: sea_orm::sea_query::SelectStatement,
) -> sea_orm::Select<record_version::Entity> {
    let select = record_version::Entity::find()
        .select_only()
        .columns([
            record_version::Column::RecordId,
            record_version::Column::Seq,
            record_version::Column::Change,
            record_version::Column::SeenAt,
            record_version::Column::Hash,
        ])
        .filter(record_version::Column::RecordId.in_subquery(ids));
    if backend != sea_orm::DbBackend::Sqlite {
        return select.column(record_version::Column::Content);
    }
    select
        .column_as(Expr::cust("json_extract(content, '$.text')"), "text")
        .column_as(
            Expr::cust("json_extract(content, '$.visibility')"),
            "visibility",
        )
}

const VERSION_COLUMNS: [&str; 7] = [
    "record_id",
    "seq",
    "change",
    "seen_at",
    "hash",
    "text",
    "visibility",
];

/// What the package shows of a consent event.
#[derive(serde::Deserialize, sea_orm::FromQueryResult)]
struct Consent {
    id: i64,
    record_id: Option<i64>,
    event: String,
    interaction: Option<String>,
    purpose: String,
    at: chrono::DateTime<chrono::Utc>,
    policy_version: String,
}

/// The consent events of `identities`: a heavy identity has one per interaction.
async fn consents_of(
    db: &DatabaseConnection,
    identities: &[i64],
) -> Result<Fetched<Consent>, DbErr> {
    let select = consent_event::Entity::find()
        .select_only()
        .columns([
            consent_event::Column::Id,
            consent_event::Column::RecordId,
            consent_event::Column::Event,
            consent_event::Column::Interaction,
            consent_event::Column::Purpose,
            consent_event::Column::At,
            consent_event::Column::PolicyVersion,
        ])
        .filter(consent_event::Column::IdentityId.is_in(identities.to_vec()))
        .order_by_asc(consent_event::Column::At)
        .order_by_asc(consent_event::Column::Id);
    let backend = db.get_database_backend();
    if backend != sea_orm::DbBackend::Sqlite {
        return Ok(Fetched::Read(select.into_model::<Consent>().all(db).await?));
    }
    let columns = [
        "id",
        "record_id",
        "event",
        "interaction",
        "purpose",
        "at",
        "policy_version",
    ]
    .map(String::from);
    Ok(Fetched::Json(
        json_text(db, select.build(backend), &columns).await?,
    ))
}

/// Fast deflate: packages are built while the person waits, and text compresses well anyway.
fn entry_options() -> zip::write::SimpleFileOptions {
    zip::write::SimpleFileOptions::default()
        .compression_method(zip::CompressionMethod::Deflated)
        .compression_level(Some(1))
}

/// Text on its way into one of the package's files, gathered into large pieces before it is
/// compressed and hashed: both cost per call, and a package is written as many small strings.
struct Spool {
    buf: String,
    hash: Sha256,
    size: u64,
}

/// How much text a spool gathers before it passes it on.
const SPOOL: usize = 64 * 1024;

impl Spool {
    fn new() -> Self {
        Spool {
            buf: String::with_capacity(SPOOL + 4096),
            hash: Sha256::new(),
            size: 0,
        }
    }

    fn put(&mut self, s: &str, out: &mut impl Write) -> Result<(), BuildError> {
        self.buf.push_str(s);
        self.spill(out)
    }

    fn put_fmt(
        &mut self,
        args: std::fmt::Arguments<'_>,
        out: &mut impl Write,
    ) -> Result<(), BuildError> {
        // Writing into a String cannot fail.
        let _ = std::fmt::Write::write_fmt(&mut self.buf, args);
        self.spill(out)
    }

    fn spill(&mut self, out: &mut impl Write) -> Result<(), BuildError> {
        if self.buf.len() >= SPOOL {
            self.flush(out)?;
        }
        Ok(())
    }

    fn flush(&mut self, out: &mut impl Write) -> Result<(), BuildError> {
        out.write_all(self.buf.as_bytes())?;
        self.hash.update(self.buf.as_bytes());
        self.size += self.buf.len() as u64;
        self.buf.clear();
        Ok(())
    }

    /// Passes on what is left; the file's SHA-256 and size.
    fn done(mut self, out: &mut impl Write) -> Result<(String, u64), BuildError> {
        self.flush(out)?;
        Ok((hex::encode(self.hash.finalize()), self.size))
    }
}

/// Writes one file into the ZIP and keeps its hash and size for the manifest.
struct Entry<'a, W: Write + std::io::Seek> {
    zip: &'a mut zip::ZipWriter<W>,
    spool: Spool,
}

impl<'a, W: Write + std::io::Seek> Entry<'a, W> {
    fn start(zip: &'a mut zip::ZipWriter<W>, name: &str) -> Result<Self, BuildError> {
        zip.start_file(name, entry_options())?;
        Ok(Entry {
            zip,
            spool: Spool::new(),
        })
    }

    fn done(self) -> Result<(String, u64), BuildError> {
        self.spool.done(self.zip)
    }
}

/// Where a piece of a package's file is written.
trait Sink {
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
struct Side {
    path: PathBuf,
    zip: zip::ZipWriter<std::io::BufWriter<std::fs::File>>,
    spool: Spool,
}

impl Side {
    fn create(path: PathBuf, name: &str) -> Result<Self, BuildError> {
        let mut zip = zip::ZipWriter::new(std::io::BufWriter::new(std::fs::File::create(&path)?));
        zip.start_file(name, entry_options())?;
        Ok(Side {
            path,
            zip,
            spool: Spool::new(),
        })
    }

    /// Copies the finished file into `zip` as it is (no second compression); its hash and size.
    fn copy_into<W: Write + std::io::Seek>(
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
struct Texts {
    title: &'static str,
    searched: &'static str,
    records: &'static str,
    consents: &'static str,
    requests: &'static str,
    none: &'static str,
    withheld: &'static str,
    restricted: &'static str,
    blocks: &'static str,
    no_blocks: &'static str,
    registration: &'static str,
    moderation: &'static str,
    in_reply_to: &'static str,
}

fn texts(lang: Language) -> Texts {
    match lang {
        Language::Sv => Texts {
            title: "Dina uppgifter hos kommunen",
            searched: "Konton vi har sökt på",
            records: "Det du har skrivit och gjort på våra konton",
            consents: "Samtycken",
            requests: "Dina begäranden",
            none: "Inget hittades.",
            withheld: "poster har hållits inne på grund av sekretess (offentlighets- och sekretesslagen)",
            restricted: "poster visas inte eftersom behandlingen av dem är begränsad (dataskyddsförordningen art. 18)",
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
            consents: "Consents",
            requests: "Your requests",
            none: "Nothing was found.",
            withheld: "records were withheld as classified (Public Access to Information and Secrecy Act)",
            restricted: "records are not shown because their processing is restricted (GDPR Art. 18)",
            blocks: "Blocks",
            no_blocks: "None of your accounts is blocked on our channels.",
            registration: "registration number",
            moderation: "Moderation",
            in_reply_to: "In reply to:",
        },
    }
}

/// `records.csv` up to its first row.
fn csv_opening(e: &mut impl Sink) -> Result<(), BuildError> {
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
    ]))
}

/// `index.html` up to the first record's section.
fn html_opening(e: &mut impl Sink, head: &Head) -> Result<(), BuildError> {
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
struct After<'a> {
    records: u64,
    withheld: u64,
    restricted: u64,
    consents: &'a [Consent],
}

/// `index.html` after the last record's section.
fn html_closing(e: &mut impl Sink, head: &Head, after: &After<'_>) -> Result<(), BuildError> {
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
fn csv_row(
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
        ])
    ))?;
    Ok(())
}

/// One record's section of `index.html`: what it is and where, what it answered, what it says,
/// its state now, its registration, how long it is kept, its moderation, and each version (their
/// hashes are in `data.json`).
fn html_section(
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
        Html(visibility_word(lang, &r.visibility)),
    ))?;
    if let Some(number) = &r.registration_number {
        e.put_fmt(format_args!(" · {} {}", t.registration, Html(number)))?;
    }
    e.put_fmt(format_args!(" · {}</p>\n", KeptSentence(lang, retention)))?;
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

fn retention_json(retention: &Retention) -> serde_json::Value {
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
struct RecordOut<'a> {
    id: i64,
    kind: &'a str,
    channel: &'a str,
    platform_id: &'a str,
    direction: &'a str,
    platform_time: Option<chrono::DateTime<chrono::Utc>>,
    archived_at: chrono::DateTime<chrono::Utc>,
    text: Option<&'a str>,
    reaction_type: Option<&'a str>,
    attachments: serde_json::Value,
    visibility: &'a str,
    in_reply_to: Option<&'a str>,
    corrections: Vec<CorrectionOut<'a>>,
    #[serde(flatten, skip_serializing_if = "Option::is_none")]
    access: Option<AccessOut<'a>>,
}

/// One consent event of `data.json`.
#[derive(serde::Serialize)]
struct ConsentOut<'a> {
    event: &'a str,
    interaction: Option<&'a str>,
    purpose: &'a str,
    legal_basis: &'a str,
    record_id: Option<i64>,
    at: chrono::DateTime<chrono::Utc>,
    policy_version: &'a str,
}

#[derive(serde::Serialize)]
struct CorrectionOut<'a> {
    note: &'a str,
    at: chrono::DateTime<chrono::Utc>,
}

/// What an access package adds to a record beyond what an export holds.
#[derive(serde::Serialize)]
struct AccessOut<'a> {
    registration_number: Option<&'a str>,
    moderation: Vec<ModerationOut<'a>>,
    retention: &'a serde_json::Value,
    versions: Vec<VersionOut<'a>>,
}

#[derive(serde::Serialize)]
struct ModerationOut<'a> {
    rule: &'a str,
    action: &'a str,
    decided_at: chrono::DateTime<chrono::Utc>,
    registration_number: &'a str,
}

#[derive(serde::Serialize)]
struct VersionOut<'a> {
    seq: i32,
    change: &'a str,
    seen_at: chrono::DateTime<chrono::Utc>,
    text: Option<&'a str>,
    visibility: Option<&'a str>,
    hash: &'a str,
}

fn record_json(
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

/// Everything the writer needs besides the records.
struct Head {
    dir: PathBuf,
    package_id: i64,
    req: request::Model,
    kind: PackageKind,
    lang: Language,
    identities: Vec<identity::Model>,
    channels: HashMap<i64, String>,
    decisions: Vec<Decision>,
    earlier: Vec<request::Model>,
    blocks: Vec<BlockOut>,
    built_at: chrono::DateTime<chrono::Utc>,
    started: std::time::Instant,
}

/// A block of one of the person's accounts on one of our channels, with the moderation decision
/// it came from (its rule and registration number), when there is one.
#[derive(serde::Serialize)]
struct BlockOut {
    channel: String,
    blocked_at: chrono::DateTime<chrono::Utc>,
    rule: Option<String>,
    registration_number: Option<String>,
}

/// The blocks of `identities`, oldest first.
async fn blocks_of(
    db: &DatabaseConnection,
    identities: &[i64],
    channels: &HashMap<i64, String>,
) -> Result<Vec<BlockOut>, DbErr> {
    let blocks = identity_block::Entity::find()
        .filter(identity_block::Column::IdentityId.is_in(identities.to_vec()))
        .order_by_asc(identity_block::Column::BlockedAt)
        .order_by_asc(identity_block::Column::Id)
        .all(db)
        .await?;
    let decided: HashMap<i64, moderation::Model> = moderation::Entity::find()
        .filter(moderation::Column::Id.is_in(blocks.iter().filter_map(|b| b.moderation_id)))
        .all(db)
        .await?
        .into_iter()
        .map(|m| (m.id, m))
        .collect();
    Ok(blocks
        .into_iter()
        .map(|b| {
            let m = b.moderation_id.and_then(|id| decided.get(&id));
            BlockOut {
                channel: channels.get(&b.channel_id).cloned().unwrap_or_default(),
                blocked_at: b.blocked_at,
                rule: m.map(|m| m.rule.clone()),
                registration_number: m.map(|m| m.registration_number.clone()),
            }
        })
        .collect())
}

impl Head {
    fn lap(&self, phase: &str) {
        tracing::debug!(
            phase,
            ms = self.started.elapsed().as_secs_f64() * 1000.0,
            "package build"
        );
    }
}

/// What the reader hands the writer, in order.
enum Part {
    Records(Vec<Item>),
    /// What comes after the records. A writer that never gets it gives up.
    End {
        consents: Vec<Consent>,
        withheld: u64,
        restricted: u64,
    },
}

/// Builds the package for `req` into `dir`. The records are read here while a blocking thread
/// writes the pages already read into the ZIP: reading and compressing overlap, and no file is
/// written on the async runtime's threads.
pub async fn build(
    db: &DatabaseConnection,
    dir: &Path,
    package_id: i64,
    req: &request::Model,
    kind: PackageKind,
) -> Result<Built, BuildError> {
    let lang = if req.language == "en" {
        Language::En
    } else {
        Language::Sv
    };
    let started = std::time::Instant::now();
    let identities = verified_identities(db, req.id).await?;
    let identity_ids: Vec<i64> = identities.iter().map(|i| i.id).collect();
    let channels: HashMap<i64, String> = channel::Entity::find()
        .all(db)
        .await?
        .into_iter()
        .map(|c| (c.id, format!("{}:{}", c.platform, c.name)))
        .collect();
    let decisions = crate::retention::store::decisions(db).await?;
    let earlier = request::Entity::find()
        .filter(request::Column::Email.eq(req.email.clone()))
        .order_by_asc(request::Column::Id)
        .all(db)
        .await?;
    let blocks = match kind {
        PackageKind::Access => blocks_of(db, &identity_ids, &channels).await?,
        // An export holds what the person provided; a block is the municipality's act.
        PackageKind::Export => vec![],
    };
    let head = Head {
        dir: dir.to_owned(),
        package_id,
        req: req.clone(),
        kind,
        lang,
        identities,
        channels,
        decisions,
        earlier,
        blocks,
        built_at: crate::audit::now(),
        started,
    };
    head.lap("read around the records");
    let assembly = Assembly::read(db, identity_ids.clone(), lang).await?;
    let source = Source { db, identity_ids };
    // Three stages, each on a thread of its own: the reader here, which waits for the database;
    // the assembler, which parses what was read; the writer, which formats and compresses. Two
    // parts in flight between stages at most: memory stays bounded whatever the record count.
    let (raw_tx, mut raw_rx) = tokio::sync::mpsc::channel(2);
    let (tx, mut rx) = tokio::sync::mpsc::channel(2);
    let started = head.started;
    let writer = tokio::task::spawn_blocking(move || write(head, &mut rx));
    let assembler =
        tokio::task::spawn_blocking(move || assemble_all(&assembly, &mut raw_rx, &tx, started));
    let read = feed(&source, &raw_tx).await;
    drop(raw_tx);
    let gone = |e: tokio::task::JoinError| BuildError::Io(std::io::Error::other(e));
    let assembled = assembler.await.map_err(gone)?;
    let written = writer.await.map_err(gone)?;
    // A failed read is the cause of the others' "incomplete": report it first.
    read?;
    assembled?;
    written
}

/// What the reader hands the assembler, in order.
enum Raw {
    Consents(Fetched<Consent>),
    Page(RawPage),
    /// Every page was read. An assembler that never gets it does not end the package.
    End,
}

/// Reads the person's records page by page into the writer, then what follows them.
async fn feed(source: &Source<'_>, tx: &tokio::sync::mpsc::Sender<Raw>) -> Result<(), DbErr> {
    let mut after = 0;
    loop {
        // A short first page sets the writer going while the rest is read.
        let size = if after == 0 { FIRST_PAGE } else { PAGE };
        let Some((last, page)) = source.read(after, size).await? else {
            break;
        };
        if tx.send(Raw::Page(page)).await.is_err() {
            // A later stage stopped; its error is the one to report.
            return Ok(());
        }
        after = last;
    }
    // Last: the writer needs them only after the records, and reading them first would hold
    // the first page back.
    let consents = consents_of(source.db, &source.identity_ids).await?;
    if tx.send(Raw::Consents(consents)).await.is_ok() {
        let _ = tx.send(Raw::End).await;
    }
    Ok(())
}

/// Parses what the reader sends and hands the writer its parts, in order.
fn assemble_all(
    assembly: &Assembly,
    rx: &mut tokio::sync::mpsc::Receiver<Raw>,
    tx: &tokio::sync::mpsc::Sender<Part>,
    started: std::time::Instant,
) -> Result<(), DbErr> {
    let (mut withheld, mut restricted) = (0, 0);
    let mut consents = vec![];
    while let Some(raw) = rx.blocking_recv() {
        let part = match raw {
            Raw::Consents(read) => {
                consents = read.into_vec()?;
                // json_group_array keeps no order of its own.
                consents.sort_by_key(|c| (c.at, c.id));
                continue;
            }
            Raw::Page(raw) => {
                let page = assembly.assemble(raw)?;
                tracing::debug!(
                    records = page.items.len(),
                    ms = started.elapsed().as_secs_f64() * 1000.0,
                    "package page read"
                );
                withheld += page.withheld;
                restricted += page.restricted;
                if page.items.is_empty() {
                    continue;
                }
                Part::Records(page.items)
            }
            Raw::End => Part::End {
                consents: std::mem::take(&mut consents),
                withheld,
                restricted,
            },
        };
        if tx.blocking_send(part).is_err() {
            // The writer stopped; its error is the one to report.
            break;
        }
    }
    Ok(())
}

/// Writes the package from the parts the reader sends; on failure nothing is left behind.
fn write(head: Head, rx: &mut tokio::sync::mpsc::Receiver<Part>) -> Result<Built, BuildError> {
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

fn write_to(
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
        let (consents, withheld, restricted) = loop {
            match rx.blocking_recv() {
                Some(Part::Records(page)) => {
                    for item in &page {
                        if !first {
                            e.put(",")?;
                        }
                        first = false;
                        let retention =
                            retention_of(&crate::retention::store::facts(&item.record), decisions);
                        let ret = retention_json(&retention);
                        e.put(&record_json(item, channels, &ret, kind))?;
                        if let Some((csv, html)) = sides.as_mut() {
                            csv_row(csv, item, channels, &ret)?;
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
        if restricted > 0 {
            withheld_json.push(serde_json::json!({"count": restricted, "reason": "begränsad behandling (dataskyddsförordningen art. 18) / restriction of processing (GDPR Art. 18)"}));
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

/// SHA-256 and size of a file, read in chunks.
pub fn hash_file(path: &Path) -> std::io::Result<(String, u64)> {
    use std::io::Read;
    let mut f = std::fs::File::open(path)?;
    let mut hash = Sha256::new();
    let mut buf = vec![0u8; 64 * 1024];
    let mut size = 0u64;
    loop {
        let n = f.read(&mut buf)?;
        if n == 0 {
            break;
        }
        hash.update(&buf[..n]);
        size += n as u64;
    }
    Ok((hex::encode(hash.finalize()), size))
}

#[cfg(test)]
mod tests {
    use super::*;

    fn head(dir: &Path) -> Head {
        let at = chrono::Utc::now();
        Head {
            dir: dir.to_owned(),
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
