//! Reading a package's records: the reader, which waits for the database, and the assembler,
//! which parses what was read while the next page is read.
use super::Part;
use crate::archive::store::{Fetched, json_page, json_text, read_records, record_columns};
use crate::mail::rules::Language;
use crate::packages::rules::{context_text, withheld};
use entities::{consent_event, moderation, record, record_version};
use sea_orm::sea_query::Expr;
use sea_orm::{
    ColumnTrait, DatabaseConnection, DbErr, EntityTrait, QueryFilter, QueryOrder, QuerySelect,
    QueryTrait,
};
use std::collections::HashMap;

pub(super) const PAGE: u64 = 250;
pub(super) const FIRST_PAGE: u64 = 100;

/// How a record is the person's: they wrote it, or the municipality sent it to them.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub(super) enum Role {
    Author,
    Recipient,
}

impl Role {
    pub(super) fn as_str(self) -> &'static str {
        match self {
            Role::Author => "author",
            Role::Recipient => "recipient",
        }
    }

    /// The person's records in this role. A record they both wrote and were sent is theirs as
    /// its author only, so that no record is shown twice.
    fn records_of(self, identity_ids: &[i64]) -> sea_orm::Condition {
        let wrote = record::Column::AuthorIdentityId.is_in(identity_ids.to_vec());
        match self {
            Role::Author => sea_orm::Condition::all().add(wrote),
            Role::Recipient => sea_orm::Condition::all()
                .add(record::Column::RecipientIdentityId.is_in(identity_ids.to_vec()))
                .add(
                    sea_orm::Condition::any()
                        .add(record::Column::AuthorIdentityId.is_null())
                        .add(record::Column::AuthorIdentityId.is_not_in(identity_ids.to_vec())),
                ),
        }
    }
}

/// One record with what the package shows beside it.
pub(super) struct Item {
    pub(super) record: record::Model,
    pub(super) role: Role,
    pub(super) versions: Vec<Version>,
    pub(super) moderation: Vec<moderation::Model>,
    pub(super) notes: Vec<entities::record_note::Model>,
    /// The text of what it belongs to, redacted when another person wrote it.
    pub(super) in_reply_to: Option<String>,
}

/// A page of the person's records: those the package shows, and how many it holds back.
#[derive(Default)]
pub(super) struct Page {
    pub(super) items: Vec<Item>,
    /// Classified under the Secrecy Act.
    pub(super) withheld: u64,
    /// Shown, and under a restriction of processing (Art. 18).
    pub(super) restricted: u64,
}

/// What the package needs of a record's parent.
#[derive(serde::Deserialize)]
pub(super) struct Parent {
    pub(super) id: i64,
    pub(super) author_identity_id: Option<i64>,
    pub(super) direction: String,
    pub(super) text: Option<String>,
    /// Classified under the Secrecy Act, its text withheld here as the record itself is. SQLite
    /// keeps booleans as 0 and 1.
    pub(super) classified: i64,
}

/// A page as the database gave it: its records, the parents they answer and the versions of
/// those that changed. Parsed on the assembler's thread while the next page is read.
pub(super) struct RawPage {
    pub(super) role: Role,
    pub(super) records: Fetched<record::Model>,
    pub(super) parents: Fetched<Parent>,
    pub(super) versions: Fetched<Version>,
}

/// What turns a raw page into items, besides the page.
pub(super) struct Assembly {
    pub(super) identity_ids: Vec<i64>,
    pub(super) lang: Language,
    /// Correction notes and moderation decisions of the person's records, by record. They are
    /// few, so they are read once, by a join, rather than looked up for every page of records.
    pub(super) notes: HashMap<i64, Vec<entities::record_note::Model>>,
    pub(super) moderations: HashMap<i64, Vec<moderation::Model>>,
}

pub(super) struct Source<'a> {
    pub(super) db: &'a DatabaseConnection,
    pub(super) identity_ids: Vec<i64>,
    /// The roles read, one pass each, in order.
    pub(super) roles: &'static [Role],
}

impl Assembly {
    pub(super) async fn read(
        db: &DatabaseConnection,
        identity_ids: Vec<i64>,
        lang: Language,
    ) -> Result<Self, DbErr> {
        use entities::record_note;
        use sea_orm::{JoinType, QuerySelect as _};
        let theirs = crate::archive::store::records_of(&identity_ids);
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
    /// The ids of the person's next page in `role`: the records after `after`, `size` at most.
    pub(super) fn page_ids(
        &self,
        role: Role,
        after: i64,
        size: u64,
    ) -> sea_orm::sea_query::SelectStatement {
        record::Entity::find()
            .select_only()
            .column(record::Column::Id)
            .filter(role.records_of(&self.identity_ids))
            .filter(record::Column::Id.gt(after))
            .order_by_asc(record::Column::Id)
            .limit(size)
            .into_query()
    }

    /// The last record of the page after `after`, `size` at most, in a column `last`: from the
    /// author's (or recipient's) index alone.
    fn page_end(
        &self,
        backend: sea_orm::DbBackend,
        role: Role,
        after: i64,
        size: u64,
    ) -> sea_orm::Statement {
        let ids = backend.build(&self.page_ids(role, after, size));
        sea_orm::Statement {
            sql: format!("SELECT MAX(id) AS last FROM ({}) AS p", ids.sql),
            ..ids
        }
    }

    /// The page after `after`, unparsed, with its last record; `None` past the end. Classified
    /// and restricted records are read with the rest and told apart when the page is assembled,
    /// rather than counted by queries of their own: each query over a heavy identity's records
    /// costs a look-up per record.
    pub(super) async fn read(
        &self,
        role: Role,
        after: i64,
        size: u64,
    ) -> Result<Option<(i64, RawPage)>, DbErr> {
        let backend = self.db.get_database_backend();
        if backend == sea_orm::DbBackend::Sqlite {
            let (records, parents, versions) = self.selects(backend, || {
                sea_orm::Condition::all()
                    .add(record::Column::Id.in_subquery(self.page_ids(role, after, size)))
            });
            return self
                .read_at_once(role, after, size, records, parents, versions)
                .await;
        }
        let last = self.page_end(backend, role, after, size);
        let Some(last) = (match sea_orm::ConnectionTrait::query_one_raw(self.db, last).await? {
            Some(row) => row.try_get::<Option<i64>>("", "last")?,
            None => None,
        }) else {
            return Ok(None);
        };
        // PostgreSQL plans a range of the author's index better than a limited subquery.
        let (records, parents, versions) = self.selects(backend, || {
            sea_orm::Condition::all()
                .add(role.records_of(&self.identity_ids))
                .add(record::Column::Id.gt(after))
                .add(record::Column::Id.lte(last))
        });
        let parents = parents
            .into_tuple::<(i64, Option<i64>, String, Option<String>, bool)>()
            .all(self.db)
            .await?
            .into_iter()
            .map(
                |(id, author_identity_id, direction, text, classified)| Parent {
                    id,
                    author_identity_id,
                    direction,
                    text,
                    classified: i64::from(classified),
                },
            )
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
                role,
                records: read_records(self.db, records).await?,
                parents: Fetched::Read(parents),
                versions: Fetched::Read(versions),
            },
        )))
    }

    /// The page's records, the parents they answer and the versions of those that changed, as
    /// selects of the records `page` picks out.
    pub(super) fn selects(
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
    pub(super) async fn read_at_once(
        &self,
        role: Role,
        after: i64,
        size: u64,
        records: sea_orm::Select<record::Entity>,
        parents: sea_orm::Select<record::Entity>,
        versions: sea_orm::Select<record_version::Entity>,
    ) -> Result<Option<(i64, RawPage)>, DbErr> {
        let backend = self.db.get_database_backend();
        let parts = [
            self.page_end(backend, role, after, size),
            json_page(records.build(backend), &record_columns()),
            json_page(parents.build(backend), &PARENT_COLUMNS),
            json_page(versions.build(backend), &VERSION_COLUMNS),
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
                role,
                records: Fetched::Json(row.try_get("", "records")?),
                parents: Fetched::Json(row.try_get("", "parents")?),
                versions: Fetched::Json(row.try_get("", "versions")?),
            },
        )))
    }
}

impl Assembly {
    /// A raw page parsed into the items the package shows.
    pub(super) fn assemble(&self, raw: RawPage) -> Result<Page, DbErr> {
        let mut page = Page::default();
        let mut shown = vec![];
        let role = raw.role;
        for r in raw.records.into_records()? {
            if r.classified {
                page.withheld += 1;
            } else {
                // A restriction keeps the records from searches and from disclosure to others;
                // the person it protects is still told what is held about them (Art. 15).
                if r.restricted_by.is_some() {
                    page.restricted += 1;
                }
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
                    if p.classified != 0 {
                        withheld(self.lang).to_owned()
                    } else if p
                        .author_identity_id
                        .is_some_and(|a| self.identity_ids.contains(&a))
                    {
                        p.text.clone().unwrap_or_default()
                    } else {
                        context_text(self.lang, &p.direction, p.text.as_deref())
                    }
                });
                Item {
                    role,
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

/// The five columns the package reads of the parents `ids` names.
pub(super) fn parents_select(
    ids: sea_orm::sea_query::SelectStatement,
) -> sea_orm::Select<record::Entity> {
    record::Entity::find()
        .select_only()
        .columns([
            record::Column::Id,
            record::Column::AuthorIdentityId,
            record::Column::Direction,
            record::Column::Text,
            record::Column::Classified,
        ])
        .filter(record::Column::Id.in_subquery(ids))
}

pub(super) const PARENT_COLUMNS: [&str; 5] = [
    "id",
    "author_identity_id",
    "direction",
    "text",
    "classified",
];

/// What the package shows of a version: its place, when it was seen, its hash, and the two fields
/// of its canonical content a person reads (taken out by the database; the rest is not read).
#[derive(serde::Deserialize)]
pub(super) struct Version {
    pub(super) record_id: i64,
    pub(super) seq: i32,
    pub(super) change: String,
    pub(super) seen_at: chrono::DateTime<chrono::Utc>,
    pub(super) hash: String,
    pub(super) text: Option<String>,
    pub(super) visibility: Option<String>,
}

impl Version {
    /// The one version of a record never changed, from the record row: the import writes both
    /// from the same content at the same moment (`archive::store::ingest`), and the row's hash is
    /// the version's. A test holds the two equal for every record of the real fixtures.
    pub(super) fn only_one_of(r: &record::Model) -> Self {
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
pub(super) struct ContentBits {
    pub(super) text: Option<String>,
    pub(super) visibility: Option<String>,
}

/// The versions of the records `ids` selects, in no order: on SQLite with the two fields of
/// the content the package shows taken out by `json_extract`, elsewhere with the content whole.
pub(super) fn versions_select(
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

pub(super) const VERSION_COLUMNS: [&str; 7] = [
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
pub(super) struct Consent {
    pub(super) id: i64,
    pub(super) record_id: Option<i64>,
    pub(super) event: String,
    pub(super) interaction: Option<String>,
    pub(super) purpose: String,
    pub(super) at: chrono::DateTime<chrono::Utc>,
    pub(super) policy_version: String,
}

/// The consent events of `identities`: a heavy identity has one per interaction.
pub(super) async fn consents_of(
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
    ];
    Ok(Fetched::Json(
        json_text(db, select.build(backend), &columns).await?,
    ))
}

/// What the reader hands the assembler, in order.
pub(super) enum Raw {
    Consents(Fetched<Consent>),
    Page(RawPage),
    /// Every page was read. An assembler that never gets it does not end the package.
    End,
}

/// Reads the person's records page by page into the writer, then what follows them.
pub(super) async fn feed(
    source: &Source<'_>,
    tx: &tokio::sync::mpsc::Sender<Raw>,
) -> Result<(), DbErr> {
    for &role in source.roles {
        let mut after = 0;
        loop {
            // A short first page sets the writer going while the rest is read.
            let size = if after == 0 { FIRST_PAGE } else { PAGE };
            let Some((last, page)) = source.read(role, after, size).await? else {
                break;
            };
            if tx.send(Raw::Page(page)).await.is_err() {
                // A later stage stopped; its error is the one to report.
                return Ok(());
            }
            after = last;
        }
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
pub(super) fn assemble_all(
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
