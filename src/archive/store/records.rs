//! Reading the archive: records by identity, channel, kind and time; versions; fixity checks.
use crate::archive::rules::{ERASED_PREFIX, TOMBSTONE, fixity_of};
use chrono::{DateTime, Utc};
use entities::{identity, record, record_version};
use sea_orm::sea_query::ExprTrait;
use sea_orm::{
    ColumnTrait, ConnectionTrait, DatabaseConnection, DbBackend, DbErr, EntityTrait, IdenStatic,
    Iterable, QueryFilter, QueryOrder, QuerySelect, QueryTrait, Statement,
};

#[derive(Debug, Default)]
pub struct RecordFilter {
    /// Records this identity wrote.
    pub identity: Option<i64>,
    /// Messages sent to this identity.
    pub recipient: Option<i64>,
    pub channel: Option<i64>,
    /// Records directly under this record (comments under a post, replies under a comment).
    pub parent: Option<i64>,
    pub kind: Option<String>,
    pub since: Option<DateTime<Utc>>,
    pub until: Option<DateTime<Utc>>,
    pub after_id: Option<i64>,
    pub limit: u64,
    /// Classified and restricted (Art. 18) records are left out unless the caller may see them.
    pub include_withheld: bool,
}

/// The records the archive holds: every read of them starts here, so that tombstones (what an
/// erasure left of a record kept records answer, see [`TOMBSTONE`]) are passed over as the
/// deleted records they stand for.
pub fn held_records() -> sea_orm::Select<record::Entity> {
    record::Entity::find().filter(record::Column::Visibility.ne(TOMBSTONE))
}

/// The records that are these identities' personal data: what they wrote, and the messages the
/// municipality sent them.
pub fn records_of(identity_ids: &[i64]) -> sea_orm::Condition {
    sea_orm::Condition::any()
        .add(record::Column::AuthorIdentityId.is_in(identity_ids.to_vec()))
        .add(record::Column::RecipientIdentityId.is_in(identity_ids.to_vec()))
}

pub async fn list_records(
    db: &DatabaseConnection,
    f: &RecordFilter,
) -> Result<Vec<record::Model>, DbErr> {
    let mut q = held_records().order_by_asc(record::Column::Id);
    if let Some(i) = f.identity {
        q = q.filter(record::Column::AuthorIdentityId.eq(i));
    }
    if let Some(i) = f.recipient {
        q = q.filter(record::Column::RecipientIdentityId.eq(i));
    }
    if let Some(p) = f.parent {
        q = q.filter(record::Column::ParentId.eq(p));
    }
    if let Some(c) = f.channel {
        q = q.filter(record::Column::ChannelId.eq(c));
    }
    if let Some(k) = &f.kind {
        q = q.filter(record::Column::Kind.eq(k.clone()));
    }
    if let Some(s) = f.since {
        q = q.filter(record::Column::PlatformTime.gte(s));
    }
    if let Some(u) = f.until {
        q = q.filter(record::Column::PlatformTime.lt(u));
    }
    if let Some(a) = f.after_id {
        q = q.filter(record::Column::Id.gt(a));
    }
    if !f.include_withheld {
        q = q
            .filter(record::Column::Classified.eq(false))
            .filter(record::Column::RestrictedBy.is_null());
    }
    fetch_records(db, q.limit(f.limit)).await
}

/// Runs a select of records. On SQLite the rows come back as one JSON array built by the database:
/// the driver then hands over one row instead of a thousand, which is most of the cost of a large
/// page there (sqlx passes SQLite's rows one at a time from its worker thread).
pub async fn fetch_records<C: ConnectionTrait>(
    db: &C,
    select: sea_orm::Select<record::Entity>,
) -> Result<Vec<record::Model>, DbErr> {
    read_records(db, select).await?.into_records()
}

/// Rows as the database gave them: read by the driver, or (on SQLite) one JSON array still to be
/// parsed, so that the parsing can happen on another thread while the next statement runs.
pub enum Fetched<T> {
    Read(Vec<T>),
    Json(String),
}

impl<T: serde::de::DeserializeOwned> Fetched<T> {
    /// The rows, in no particular order.
    pub fn into_vec(self) -> Result<Vec<T>, DbErr> {
        match self {
            Fetched::Read(rows) => Ok(rows),
            Fetched::Json(text) => parse_json_rows(&text),
        }
    }
}

impl Fetched<record::Model> {
    /// The records, by id.
    pub fn into_records(self) -> Result<Vec<record::Model>, DbErr> {
        let mut records: Vec<record::Model> = match self {
            Fetched::Read(rows) => return Ok(rows),
            Fetched::Json(text) => parse_json_rows::<PageRow>(&text)?
                .into_iter()
                .map(Into::into)
                .collect(),
        };
        records.sort_by_key(|r| r.id);
        Ok(records)
    }
}

/// Runs a select of records, leaving SQLite's JSON unparsed: see [`fetch_records`].
pub async fn read_records<C: ConnectionTrait>(
    db: &C,
    select: sea_orm::Select<record::Entity>,
) -> Result<Fetched<record::Model>, DbErr> {
    let backend = db.get_database_backend();
    if backend != DbBackend::Sqlite {
        return Ok(Fetched::Read(select.all(db).await?));
    }
    Ok(Fetched::Json(
        json_text(db, select.build(backend), &record_columns()).await?,
    ))
}

/// The rows of a page read by [`json_text`].
pub fn parse_json_rows<T: serde::de::DeserializeOwned>(text: &str) -> Result<Vec<T>, DbErr> {
    serde_json::from_str::<Vec<T>>(text)
        .map_err(|e| DbErr::Custom(format!("a page of rows has an unexpected shape: {e}")))
}

/// `inner` wrapped (on SQLite) so that its rows come back as one JSON array in a column `page`.
pub fn json_page(inner: Statement, columns: &[impl AsRef<str>]) -> Statement {
    let sql = format!(
        "SELECT json_group_array(json_object({})) AS page FROM ({}) AS r",
        columns
            .iter()
            .map(|c| format!("'{0}', r.{0}", c.as_ref()))
            .collect::<Vec<_>>()
            .join(", "),
        inner.sql
    );
    Statement { sql, ..inner }
}

/// The names of a record's columns, as [`fetch_records`] reads them on SQLite.
pub fn record_columns() -> Vec<String> {
    record::Column::iter()
        .map(|c| c.as_str().to_owned())
        .collect()
}

/// Wraps `inner` (on SQLite) so that its rows come back as one JSON array, as text: to be read
/// by [`parse_json_rows`], perhaps on another thread.
pub async fn json_text<C: ConnectionTrait>(
    db: &C,
    inner: Statement,
    columns: &[impl AsRef<str>],
) -> Result<String, DbErr> {
    let Some(row) = db.query_one_raw(json_page(inner, columns)).await? else {
        return Ok("[]".into());
    };
    row.try_get("", "page")
}

/// A record row as SQLite's `json_object` renders it: read straight into a struct, which is what
/// makes one JSON page cheaper than a thousand driver rows.
#[derive(serde::Deserialize)]
struct PageRow {
    id: i64,
    channel_id: i64,
    kind: String,
    platform_id: String,
    parent_platform_id: Option<String>,
    parent_id: Option<i64>,
    author_identity_id: Option<i64>,
    direction: String,
    platform_time: Option<DateTime<Utc>>,
    archived_at: DateTime<Utc>,
    text: Option<String>,
    reaction_type: Option<String>,
    attachments: String,
    visibility: String,
    registration_number: Option<String>,
    version_count: i32,
    current_hash: String,
    /// SQLite keeps booleans as 0 and 1.
    classified: i64,
    restricted_by: Option<i64>,
    recipient_identity_id: Option<i64>,
}

impl From<PageRow> for record::Model {
    fn from(r: PageRow) -> Self {
        record::Model {
            id: r.id,
            channel_id: r.channel_id,
            kind: r.kind,
            platform_id: r.platform_id,
            parent_platform_id: r.parent_platform_id,
            parent_id: r.parent_id,
            author_identity_id: r.author_identity_id,
            direction: r.direction,
            platform_time: r.platform_time,
            archived_at: r.archived_at,
            text: r.text,
            reaction_type: r.reaction_type,
            attachments: r.attachments,
            visibility: r.visibility,
            registration_number: r.registration_number,
            version_count: r.version_count,
            current_hash: r.current_hash,
            classified: r.classified != 0,
            restricted_by: r.restricted_by,
            recipient_identity_id: r.recipient_identity_id,
        }
    }
}

pub async fn find_record(
    db: &DatabaseConnection,
    id: i64,
) -> Result<Option<(record::Model, Vec<record_version::Model>)>, DbErr> {
    let Some(r) = held_records()
        .filter(record::Column::Id.eq(id))
        .one(db)
        .await?
    else {
        return Ok(None);
    };
    let versions = record_version::Entity::find()
        .filter(record_version::Column::RecordId.eq(id))
        .order_by_asc(record_version::Column::Seq)
        .all(db)
        .await?;
    Ok(Some((r, versions)))
}

pub async fn list_identities(
    db: &DatabaseConnection,
    platform: Option<&str>,
    q: Option<&str>,
    limit: u64,
) -> Result<Vec<identity::Model>, DbErr> {
    let mut query = identity::Entity::find().order_by_asc(identity::Column::Id);
    if let Some(p) = platform {
        query = query.filter(identity::Column::Platform.eq(p));
    }
    if let Some(q) = q.filter(|q| !q.trim().is_empty()) {
        let q = q.trim();
        query = query.filter(
            identity::Column::PlatformId
                .eq(q)
                .or(identity::Column::DisplayName.contains(q))
                .or(identity::Column::ProfileLink.eq(q)),
        );
    }
    query.limit(limit).all(db).await
}

/// The outcome of recomputing a record's fixity hashes.
pub struct Verification {
    /// Each version's seq and whether its stored hash matches its stored content.
    pub versions: Vec<(i32, bool)>,
    /// Whether the record's current hash is its last version's.
    pub current_matches: bool,
}

impl Verification {
    pub fn intact(&self) -> bool {
        self.current_matches && self.versions.iter().all(|(_, ok)| *ok)
    }
}

pub fn verify_versions(r: &record::Model, versions: &[record_version::Model]) -> Verification {
    Verification {
        versions: versions
            .iter()
            .map(|v| (v.seq, fixity_of(&v.content) == v.hash))
            .collect(),
        current_matches: versions
            .last()
            .is_some_and(|v| v.hash == r.current_hash && v.seq == r.version_count),
    }
}

pub async fn verify_record(
    db: &DatabaseConnection,
    id: i64,
) -> Result<Option<Verification>, DbErr> {
    Ok(find_record(db, id)
        .await?
        .map(|(r, v)| verify_versions(&r, &v)))
}

/// Recomputes every version's hash, a page of records at a time; returns (checked, failing ids).
pub async fn verify_all(db: &DatabaseConnection) -> Result<(u64, Vec<i64>), DbErr> {
    let mut after = 0;
    let mut checked = 0;
    let mut failing = vec![];
    loop {
        let page = held_records()
            .filter(record::Column::Id.gt(after))
            .order_by_asc(record::Column::Id)
            .limit(500)
            .all(db)
            .await?;
        let Some(last) = page.last() else {
            return Ok((checked, failing));
        };
        after = last.id;
        let ids: Vec<i64> = page.iter().map(|r| r.id).collect();
        let versions = record_version::Entity::find()
            .filter(record_version::Column::RecordId.is_in(ids))
            .order_by_asc(record_version::Column::RecordId)
            .order_by_asc(record_version::Column::Seq)
            .all(db)
            .await?;
        for r in page {
            let mine: Vec<_> = versions
                .iter()
                .filter(|v| v.record_id == r.id)
                .cloned()
                .collect();
            checked += 1;
            if !verify_versions(&r, &mine).intact() {
                failing.push(r.id);
            }
        }
    }
}

/// Turns erased records into tombstones (see [`TOMBSTONE`]): their versions and notes deleted,
/// every personal field of the row emptied, the platform's id replaced by `erased:{id}`.
pub async fn tombstone<C: ConnectionTrait>(txn: &C, ids: &[i64]) -> Result<(), DbErr> {
    use sea_orm::sea_query::Expr;
    if ids.is_empty() {
        return Ok(());
    }
    record_version::Entity::delete_many()
        .filter(record_version::Column::RecordId.is_in(ids.to_vec()))
        .exec(txn)
        .await?;
    entities::record_note::Entity::delete_many()
        .filter(entities::record_note::Column::RecordId.is_in(ids.to_vec()))
        .exec(txn)
        .await?;
    record::Entity::update_many()
        .col_expr(
            record::Column::PlatformId,
            Expr::cust(format!("'{ERASED_PREFIX}' || id")),
        )
        .col_expr(
            record::Column::ParentPlatformId,
            Expr::value(Option::<String>::None),
        )
        .col_expr(
            record::Column::AuthorIdentityId,
            Expr::value(Option::<i64>::None),
        )
        .col_expr(
            record::Column::RecipientIdentityId,
            Expr::value(Option::<i64>::None),
        )
        .col_expr(
            record::Column::PlatformTime,
            Expr::value(Option::<DateTime<Utc>>::None),
        )
        .col_expr(record::Column::Text, Expr::value(Option::<String>::None))
        .col_expr(
            record::Column::ReactionType,
            Expr::value(Option::<String>::None),
        )
        .col_expr(record::Column::Attachments, Expr::value("[]"))
        .col_expr(record::Column::Visibility, Expr::value(TOMBSTONE))
        .col_expr(
            record::Column::RegistrationNumber,
            Expr::value(Option::<String>::None),
        )
        .col_expr(record::Column::VersionCount, Expr::value(0))
        .col_expr(record::Column::CurrentHash, Expr::value(""))
        .col_expr(record::Column::Classified, Expr::value(false))
        .col_expr(
            record::Column::RestrictedBy,
            Expr::value(Option::<i64>::None),
        )
        .filter(record::Column::Id.is_in(ids.to_vec()))
        .exec(txn)
        .await?;
    Ok(())
}

/// Takes records out of the archive (what an erasure erases, what a disposal disposes of), in the
/// caller's transaction: deleted with their versions and notes, except a record that a record
/// staying in the archive answers, which stays as a tombstone, so that the reply keeps its row as
/// it was, its link to the parent included (the foreign key would set it to NULL). Answers the
/// ids kept as tombstones.
pub async fn remove<C: ConnectionTrait>(txn: &C, ids: &[i64]) -> Result<Vec<i64>, DbErr> {
    let going: std::collections::HashSet<i64> = ids.iter().copied().collect();
    let mut tombstones: Vec<i64> = vec![];
    for chunk in ids.chunks(500) {
        let children: Vec<(i64, Option<i64>)> = record::Entity::find()
            .select_only()
            .column(record::Column::Id)
            .column(record::Column::ParentId)
            .filter(record::Column::ParentId.is_in(chunk.to_vec()))
            .into_tuple()
            .all(txn)
            .await?;
        tombstones.extend(
            children
                .into_iter()
                .filter(|(child, _)| !going.contains(child))
                .filter_map(|(_, parent)| parent),
        );
    }
    tombstones.sort_unstable();
    tombstones.dedup();
    let deleted: Vec<i64> = ids
        .iter()
        .copied()
        .filter(|id| tombstones.binary_search(id).is_err())
        .collect();
    for chunk in deleted.chunks(500) {
        record::Entity::delete_many()
            .filter(record::Column::Id.is_in(chunk.to_vec()))
            .exec(txn)
            .await?;
    }
    for chunk in tombstones.chunks(500) {
        tombstone(txn, chunk).await?;
    }
    Ok(tombstones)
}

/// Corrections noted beside a record, oldest first.
pub async fn notes_of(
    db: &DatabaseConnection,
    record_id: i64,
) -> Result<Vec<entities::record_note::Model>, DbErr> {
    entities::record_note::Entity::find()
        .filter(entities::record_note::Column::RecordId.eq(record_id))
        .order_by_asc(entities::record_note::Column::Id)
        .all(db)
        .await
}
