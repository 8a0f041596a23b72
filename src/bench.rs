//! `insyn bench import`: generates a realistic archive as NDJSON, imports it through the real parser
//! and store, and in the same run writes the rows the import wrote (identities, records, versions,
//! consent events)
//! again with raw multi-row INSERTs into tables with the same indexes — the physical limit the
//! import is reported against.
use crate::archive::{import, store};
use crate::audit::Actor;
use entities::{consent_event, identity, record, record_version};
use sea_orm::sea_query::{Alias, Query};
use sea_orm::{
    ColumnTrait, ConnectionTrait, DatabaseConnection, EntityTrait, IdenStatic, Iterable,
    ModelTrait, PaginatorTrait, QueryFilter, QueryOrder, QuerySelect, Statement, TransactionTrait,
};
use std::time::{Duration, Instant};

pub struct Report {
    pub records: u64,
    pub heavy_identity_records: u64,
    /// Records created per second.
    pub import_per_sec: f64,
    /// Rows the import wrote (identities, records, versions) per second, beside…
    pub import_rows_per_sec: f64,
    /// …the same rows written by raw multi-row INSERTs into tables with the same indexes.
    pub raw_rows_per_sec: f64,
    pub identity_query_ms: f64,
    pub raw_identity_query_ms: f64,
}

/// NDJSON lines of Graph API posts with nested comments, replies and reactions, and Messenger
/// conversations. Ten heavy identities own about a hundredth of the records between them (about
/// 1,000 each in a run of 1,000,000); the rest are spread over `records / 10` identities.
pub fn generate(records: u64, page_id: &str) -> Vec<String> {
    let identities = (records / 10).max(20);
    let mut lines = Vec::new();
    let mut made = 0u64;
    let mut n = 0u64;
    let person = |k: u64| {
        // Mixed so that the heavy ones are spread over every post and conversation.
        let h = k.wrapping_mul(0x9E37_79B9_7F4A_7C15) >> 32;
        let id = if h.is_multiple_of(100) {
            h / 100 % 10
        } else {
            10 + h % (identities - 10)
        };
        serde_json::json!({"id": format!("9{id:09}"), "name": format!("Person {id}")})
    };
    let time = |n: u64| 1_700_000_000 + n as i64 * 60;
    while made < records {
        if n % 10 == 9 {
            // A conversation: the person writes, the municipality answers.
            let who = person(n * 100);
            let messages: Vec<_> = (0..10u64)
                .map(|m| {
                    let from = if m % 2 == 0 { who.clone() } else { serde_json::json!({"id": page_id, "name": "Kommunen"}) };
                    serde_json::json!({"id": format!("m_{n}_{m}"), "from": from, "message": "Hej! Jag undrar över bygglovet.",
                        "created_time": time(n) + m as i64})
                })
                .collect();
            lines.push(
                serde_json::json!({"id": format!("t_{n}"), "participants": {"data": [who, {"id": page_id, "name": "Kommunen"}]},
                    "messages": {"data": messages}})
                .to_string(),
            );
            made += 10;
            n += 1;
            continue;
        }
        let post = format!("{page_id}_{n}");
        let mut comments = vec![];
        for c in 0..20u64 {
            let cid = format!("{n}_{c}");
            let replies: Vec<_> = (0..2u64)
                .map(|r| {
                    serde_json::json!({"id": format!("{n}_{c}_{r}"), "from": person(n * 100 + c * 3 + r + 1),
                    "message": "Tack för svaret!", "created_time": time(n) + 2})
                })
                .collect();
            let reactions: Vec<_> = (0..2u64)
                .map(|r| serde_json::json!({"id": person(n * 100 + c * 5 + r + 7)["id"], "type": "LIKE"}))
                .collect();
            comments.push(serde_json::json!({"id": cid, "from": person(n * 100 + c), "message": "Hej kommunen, när öppnar badet?",
                "created_time": time(n) + 1, "comments": {"data": replies}, "reactions": {"data": reactions}}));
        }
        lines.push(
            serde_json::json!({"id": post, "from": {"id": page_id, "name": "Kommunen"}, "message": "Nyheter från kommunen",
            "type": "status", "created_time": time(n), "comments": {"data": comments}})
            .to_string(),
        );
        made += 1 + 20 * 5;
        n += 1;
    }
    lines
}

/// Rows per transaction in the raw copy, about what one import transaction writes.
const RAW_TXN_ROWS: usize = 2000;

/// Creates empty copies of the archive tables with the same columns and indexes (no foreign keys:
/// this is the physical limit of writing the rows, not of checking them).
async fn create_raw_tables(db: &DatabaseConnection) -> Result<(), sea_orm::DbErr> {
    drop_raw_tables(db).await?;
    let (pk, ts) = match db.get_database_backend() {
        sea_orm::DbBackend::Postgres => ("BIGINT PRIMARY KEY", "TIMESTAMPTZ"),
        _ => ("INTEGER PRIMARY KEY", "TEXT"),
    };
    for sql in [
        format!(
            "CREATE TABLE bench_raw_identity (id {pk}, platform TEXT NOT NULL, platform_id TEXT NOT NULL, \
             display_name TEXT, profile_link TEXT, first_seen {ts} NOT NULL, last_seen {ts} NOT NULL)"
        ),
        "CREATE UNIQUE INDEX bench_raw_identity_uq ON bench_raw_identity (platform, platform_id)".into(),
        "CREATE INDEX bench_raw_identity_name ON bench_raw_identity (display_name)".into(),
        format!(
            "CREATE TABLE bench_raw_record (id {pk}, channel_id BIGINT NOT NULL, kind TEXT NOT NULL, \
             platform_id TEXT NOT NULL, parent_platform_id TEXT, parent_id BIGINT, author_identity_id BIGINT, \
             direction TEXT NOT NULL, platform_time {ts}, archived_at {ts} NOT NULL, text TEXT, \
             reaction_type TEXT, attachments TEXT NOT NULL, visibility TEXT NOT NULL, \
             registration_number TEXT, version_count INTEGER NOT NULL, current_hash TEXT NOT NULL, \
             classified BOOLEAN NOT NULL, restricted_by BIGINT, recipient_identity_id BIGINT)"
        ),
        "CREATE UNIQUE INDEX bench_raw_record_uq ON bench_raw_record (channel_id, platform_id)".into(),
        "CREATE INDEX bench_raw_record_author ON bench_raw_record (author_identity_id, platform_time)".into(),
        "CREATE INDEX bench_raw_record_parent ON bench_raw_record (parent_id)".into(),
        "CREATE INDEX bench_raw_record_parent_pid ON bench_raw_record (channel_id, parent_platform_id)".into(),
        "CREATE INDEX bench_raw_record_author_id ON bench_raw_record (author_identity_id, id)".into(),
        "CREATE INDEX bench_raw_record_recipient_id ON bench_raw_record (recipient_identity_id, id)"
            .into(),
        format!(
            "CREATE TABLE bench_raw_record_version (id {pk}, record_id BIGINT NOT NULL, seq INTEGER NOT NULL, \
             change TEXT NOT NULL, seen_at {ts} NOT NULL, content TEXT NOT NULL, hash TEXT NOT NULL)"
        ),
        "CREATE UNIQUE INDEX bench_raw_version_uq ON bench_raw_record_version (record_id, seq)".into(),
        format!(
            "CREATE TABLE bench_raw_consent_event (id {pk}, identity_id BIGINT NOT NULL, channel_id BIGINT NOT NULL, \
             record_id BIGINT, event TEXT NOT NULL, interaction TEXT, purpose TEXT NOT NULL, at {ts} NOT NULL, \
             recorded_at {ts} NOT NULL, policy_version TEXT NOT NULL, actor TEXT, note TEXT)"
        ),
        "CREATE INDEX bench_raw_consent_identity ON bench_raw_consent_event (identity_id, at)".into(),
        "CREATE UNIQUE INDEX bench_raw_consent_uq ON bench_raw_consent_event (record_id, event)".into(),
    ] {
        db.execute_unprepared(&sql).await?;
    }
    Ok(())
}

async fn drop_raw_tables(db: &DatabaseConnection) -> Result<(), sea_orm::DbErr> {
    for t in [
        "bench_raw_identity",
        "bench_raw_record",
        "bench_raw_record_version",
        "bench_raw_consent_event",
    ] {
        db.execute_unprepared(&format!("DROP TABLE IF EXISTS {t}"))
            .await?;
    }
    Ok(())
}

/// Inserts `rows` into the raw copy of their table with multi-row prepared INSERTs, one
/// transaction per call; answers the time spent writing.
async fn raw_insert<M: ModelTrait>(
    db: &DatabaseConnection,
    table: &str,
    rows: &[M],
) -> Result<Duration, sea_orm::DbErr> {
    let columns: Vec<_> = <M::Entity as EntityTrait>::Column::iter().collect();
    let started = Instant::now();
    let txn = db.begin().await?;
    for chunk in rows.chunks(500) {
        let mut stmt = Query::insert();
        stmt.into_table(Alias::new(table))
            .columns(columns.iter().map(|c| Alias::new(c.as_str())));
        for m in chunk {
            stmt.values_panic(columns.iter().map(|c| m.get(*c).into()));
        }
        txn.execute(&stmt).await?;
    }
    txn.commit().await?;
    Ok(started.elapsed())
}

/// Copies what the import wrote (its identities, records and versions) into the raw tables,
/// timing only the writes. Answers rows written per second.
async fn raw_copy(
    db: &DatabaseConnection,
    channel_id: i64,
    identities_after: i64,
) -> Result<f64, sea_orm::DbErr> {
    create_raw_tables(db).await?;
    let mut spent = Duration::ZERO;
    let mut rows = 0u64;
    let mut last = identities_after;
    loop {
        let page = identity::Entity::find()
            .filter(identity::Column::Id.gt(last))
            .order_by_asc(identity::Column::Id)
            .limit(RAW_TXN_ROWS as u64)
            .all(db)
            .await?;
        let Some(tail) = page.last() else { break };
        last = tail.id;
        spent += raw_insert(db, "bench_raw_identity", &page).await?;
        rows += page.len() as u64;
    }
    let mut last = 0;
    loop {
        let page = record::Entity::find()
            .filter(record::Column::ChannelId.eq(channel_id))
            .filter(record::Column::Id.gt(last))
            .order_by_asc(record::Column::Id)
            .limit(RAW_TXN_ROWS as u64)
            .all(db)
            .await?;
        let Some(tail) = page.last() else { break };
        last = tail.id;
        let versions = record_version::Entity::find()
            .filter(record_version::Column::RecordId.is_in(page.iter().map(|r| r.id)))
            .all(db)
            .await?;
        let consents = consent_event::Entity::find()
            .filter(consent_event::Column::RecordId.is_in(page.iter().map(|r| r.id)))
            .all(db)
            .await?;
        spent += raw_insert(db, "bench_raw_record", &page).await?;
        spent += raw_insert(db, "bench_raw_record_version", &versions).await?;
        spent += raw_insert(db, "bench_raw_consent_event", &consents).await?;
        rows += (page.len() + versions.len() + consents.len()) as u64;
    }
    Ok(rows as f64 / spent.as_secs_f64())
}

pub async fn run(
    db: &DatabaseConnection,
    records: u64,
    requests: &crate::requests::store::Context,
) -> anyhow::Result<Report> {
    // A fresh Page id per run, so that runs can share a database; its posts are drawn up.
    let page = format!("1002{:08}", rand::random::<u32>() % 100_000_000);
    let page = page.as_str();
    let channel = store::create_channel(
        db,
        store::NewChannel {
            platform: crate::archive::rules::Platform::Facebook,
            account_id: page.to_owned(),
            name: "bench".into(),
            department: None,
        },
        &Actor::cli(),
    )
    .await?;
    let identities_before = identity::Entity::find()
        .order_by_desc(identity::Column::Id)
        .one(db)
        .await?
        .map_or(0, |i| i.id);
    let lines = generate(records, page);
    // Import: parse + identities + versions + hashes, 20 NDJSON lines (about 2,000 records) per
    // transaction, as `insyn import` and `POST /api/v1/imports` would take them.
    let started = Instant::now();
    let mut imported = 0u64;
    let mut written = 0u64;
    for batch in lines.chunks(20) {
        let docs: Vec<(String, serde_json::Value)> = batch
            .iter()
            .map(|l| Ok((String::new(), serde_json::from_str(l)?)))
            .collect::<Result<_, serde_json::Error>>()?;
        let parsed = import::parse_all(docs.iter().map(|(p, d)| (p.as_str(), d)))?;
        let counts = store::import(
            db,
            channel.id,
            parsed.observations,
            parsed.skipped,
            &Actor::cli(),
            "bench",
            &crate::erasure::SuppressionKey::new(b"bench"),
            requests,
        )
        .await?;
        imported += counts.created;
    }
    let elapsed = started.elapsed().as_secs_f64();
    let import_per_sec = imported as f64 / elapsed;
    let new_identities = identity::Entity::find()
        .filter(identity::Column::Id.gt(identities_before))
        .count(db)
        .await?;
    let consents = consent_event::Entity::find()
        .filter(consent_event::Column::ChannelId.eq(channel.id))
        .count(db)
        .await?;
    // Every created record wrote a record row and a version row; interactions a consent event.
    written += new_identities + 2 * imported + consents;
    let import_rows_per_sec = written as f64 / elapsed;
    let raw_rows_per_sec = raw_copy(db, channel.id, identities_before).await?;

    // "All records of one identity" for the heaviest identity, through the store and as raw SQL.
    let id = heaviest_identity(db, Some(channel.id)).await?.unwrap_or(0);
    let started = Instant::now();
    let mut found = 0;
    for _ in 0..20 {
        found = store::list_records(
            db,
            &store::RecordFilter {
                identity: Some(id),
                limit: 1000,
                ..Default::default()
            },
        )
        .await?
        .len();
    }
    let identity_query_ms = started.elapsed().as_secs_f64() * 1000.0 / 20.0;
    let backend = db.get_database_backend();
    let started = Instant::now();
    for _ in 0..20 {
        let sql = match backend {
            sea_orm::DbBackend::Postgres => {
                "SELECT * FROM bench_raw_record WHERE author_identity_id = $1 ORDER BY id LIMIT 1000"
            }
            _ => {
                "SELECT * FROM bench_raw_record WHERE author_identity_id = ? ORDER BY id LIMIT 1000"
            }
        };
        db.query_all_raw(Statement::from_sql_and_values(backend, sql, [id.into()]))
            .await?;
    }
    let raw_identity_query_ms = started.elapsed().as_secs_f64() * 1000.0 / 20.0;
    drop_raw_tables(db).await?;
    Ok(Report {
        records: imported,
        heavy_identity_records: found as u64,
        import_per_sec,
        import_rows_per_sec,
        raw_rows_per_sec,
        identity_query_ms,
        raw_identity_query_ms,
    })
}

/// "All records of one identity" for the heaviest identity in the archive as it is, through the
/// store and as a raw SELECT of the same rows from the same table: milliseconds each.
pub async fn query(db: &DatabaseConnection) -> anyhow::Result<(u64, f64, f64)> {
    let id = heaviest_identity(db, None).await?.unwrap_or(0);
    let filter = store::RecordFilter {
        identity: Some(id),
        limit: 1000,
        ..Default::default()
    };
    let mut found = store::list_records(db, &filter).await?.len();
    let started = Instant::now();
    for _ in 0..20 {
        found = store::list_records(db, &filter).await?.len();
    }
    let store_ms = started.elapsed().as_secs_f64() * 1000.0 / 20.0;
    let backend = db.get_database_backend();
    let sql = match backend {
        sea_orm::DbBackend::Postgres => {
            "SELECT * FROM record WHERE author_identity_id = $1 ORDER BY id LIMIT 1000"
        }
        _ => "SELECT * FROM record WHERE author_identity_id = ? ORDER BY id LIMIT 1000",
    };
    let started = Instant::now();
    for _ in 0..20 {
        db.query_all_raw(Statement::from_sql_and_values(backend, sql, [id.into()]))
            .await?;
    }
    let raw_ms = started.elapsed().as_secs_f64() * 1000.0 / 20.0;
    Ok((found as u64, store_ms, raw_ms))
}

/// The identity with the most received records (in one channel, or anywhere), leaving out the
/// identities `bench package` made big: they are not the generated archive's.
pub async fn heaviest_identity(
    db: &DatabaseConnection,
    channel: Option<i64>,
) -> Result<Option<i64>, sea_orm::DbErr> {
    Ok(heaviest_identities(db, channel, 1).await?.first().copied())
}

/// The `n` identities with the most received records, heaviest first.
/// A scratch directory for a bench's package files, removed when the bench ends, however it ends.
pub struct Scratch(std::path::PathBuf);

impl Scratch {
    pub fn new() -> std::io::Result<Self> {
        let dir = std::env::temp_dir().join(format!("insyn-bench-{}", rand::random::<u32>()));
        std::fs::create_dir_all(&dir)?;
        Ok(Scratch(dir))
    }

    pub fn path(&self) -> String {
        self.0.to_string_lossy().into_owned()
    }

    /// `settings` for a bench that serves from this directory. The benches run one after
    /// another on one throwaway archive (the erasure's requests, then the package's), each from a
    /// scratch directory of its own: they share a fixed secret, unless one is configured, rather
    /// than each make a key the next one has not got.
    pub fn settings(&self, mut settings: crate::config::Settings) -> crate::config::Settings {
        settings.data_dir = self.path();
        settings.smtp_url = None;
        if settings.secret_key.is_none() {
            settings.secret_key = Some("insyn-bench-secret-of-thirty-two-characters".into());
        }
        settings
    }
}

impl Drop for Scratch {
    fn drop(&mut self) {
        let _ = std::fs::remove_dir_all(&self.0);
    }
}

pub async fn heaviest_identities(
    db: &DatabaseConnection,
    channel: Option<i64>,
    n: u64,
) -> Result<Vec<i64>, sea_orm::DbErr> {
    let made_big: Vec<i64> = identity::Entity::find()
        .filter(identity::Column::PlatformId.starts_with("bench-big-"))
        .all(db)
        .await?
        .into_iter()
        .map(|i| i.id)
        .collect();
    let mut q = record::Entity::find()
        .select_only()
        .column(record::Column::AuthorIdentityId)
        .filter(record::Column::AuthorIdentityId.is_not_null())
        .filter(record::Column::AuthorIdentityId.is_not_in(made_big))
        .filter(record::Column::Direction.eq("received"));
    if let Some(c) = channel {
        q = q.filter(record::Column::ChannelId.eq(c));
    }
    Ok(q.group_by(record::Column::AuthorIdentityId)
        .order_by_desc(record::Column::Id.count())
        .limit(n)
        .into_tuple::<Option<i64>>()
        .all(db)
        .await?
        .into_iter()
        .flatten()
        .collect())
}
