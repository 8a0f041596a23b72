//! One code path for SQLite and PostgreSQL, chosen by the URL.
use migrations::{Migrator, MigratorTrait};
use sea_orm::{
    ConnectOptions, ConnectionTrait, Database, DatabaseConnection, DbBackend, DbErr, Statement,
};
use std::time::Duration;

/// Who folds SQLite's write-ahead log back into the database file.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum Checkpoints {
    /// SQLite's default: the commit that takes the log past 1,000 pages does it, and waits. For
    /// the one-shot commands, which have no background to give it to.
    OnCommit,
    /// A connection of its own, a few times a second: the service's writers never wait for it.
    /// A large erasure or import otherwise spends more time in that checkpoint than in its work.
    Background,
}

/// The `n`th (from 1) bound value's placeholder in a raw statement: `$n` on PostgreSQL, `?` on
/// SQLite, where values are bound in order.
pub fn placeholder(backend: sea_orm::DbBackend, n: usize) -> String {
    match backend {
        sea_orm::DbBackend::Postgres => format!("${n}"),
        _ => "?".to_owned(),
    }
}

/// Takes, on PostgreSQL, the lock that imports and erasures queue on until the caller's
/// transaction ends. Two imports at once would each find a new commenter or a new version missing
/// and both insert it (the second failing on the unique key), and an import that read the
/// suppression list before an erasure committed would write back what the erasure took. SQLite
/// needs none: its one connection runs one transaction at a time.
pub async fn lock_archive<C: ConnectionTrait>(txn: &C) -> Result<(), DbErr> {
    if txn.get_database_backend() == DbBackend::Postgres {
        txn.execute_unprepared(&format!("SELECT pg_advisory_xact_lock({ARCHIVE_LOCK})"))
            .await?;
    }
    Ok(())
}

/// The key of [`lock_archive`]'s lock (one-key advisory locks; the audit chain has its own).
const ARCHIVE_LOCK: i64 = 7306_0001;

/// How long SQLite's log may grow, in pages, before a checkpoint makes it start over.
const LOG_PAGES: i64 = 262_144;

/// One background checkpoint: passive, then restarting when the log has grown past [`LOG_PAGES`].
async fn checkpoint(conn: &DatabaseConnection) -> Result<(), DbErr> {
    let pragma = |mode: &str| {
        Statement::from_string(DbBackend::Sqlite, format!("PRAGMA wal_checkpoint({mode})"))
    };
    // (1 when it could not finish, the pages in the log, the pages copied)
    let Some(row) = conn.query_one_raw(pragma("PASSIVE")).await? else {
        return Ok(());
    };
    let pages: i64 = row.try_get_by_index(1)?;
    if pages > LOG_PAGES {
        let started = std::time::Instant::now();
        let row = conn.query_one_raw(pragma("RESTART")).await?;
        let busy = row.map_or(Ok(1), |r| r.try_get_by_index::<i32>(0))?;
        tracing::debug!(
            pages,
            restarted = busy == 0,
            ms = started.elapsed().as_secs_f64() * 1e3,
            "the SQLite log had grown long"
        );
    }
    Ok(())
}

/// After display names are erased. SQLite's FTS5 index of names (migration 24) keeps a deleted
/// name's trigrams, under a delete marker, until its segments are merged: merging them now leaves
/// nothing of the name behind. (If the process stops first, the next erasure merges them.)
pub async fn compact_name_index(db: &DatabaseConnection) -> Result<(), DbErr> {
    if db.get_database_backend() == sea_orm::DbBackend::Sqlite {
        db.execute_unprepared("INSERT INTO identity_name(identity_name) VALUES ('optimize')")
            .await?;
    }
    Ok(())
}

/// After an erasure, on SQLite: copies the write-ahead log into the database file and empties it.
/// Until then the log can hold earlier images of the pages the erasure cleaned (a passive
/// checkpoint copies the log but leaves it whole, to be overwritten bit by bit). Waits for readers
/// of older snapshots, retrying a few times; false when they never let it finish (the next
/// erasure tries again).
pub async fn empty_log(db: &DatabaseConnection) -> Result<bool, DbErr> {
    if db.get_database_backend() != sea_orm::DbBackend::Sqlite {
        return Ok(true);
    }
    for attempt in 0..5 {
        if attempt > 0 {
            tokio::time::sleep(Duration::from_millis(200 * attempt)).await;
        }
        let row = db
            .query_one_raw(sea_orm::Statement::from_string(
                sea_orm::DbBackend::Sqlite,
                "PRAGMA wal_checkpoint(TRUNCATE)",
            ))
            .await?;
        // The first column is 1 when a reader or writer kept the checkpoint from finishing.
        let busy = row.map_or(Ok(1), |r| r.try_get_by_index::<i32>(0))?;
        if busy == 0 {
            return Ok(true);
        }
    }
    Ok(false)
}

pub async fn connect(url: &str) -> Result<DatabaseConnection, DbErr> {
    connect_with(url, Checkpoints::OnCommit).await
}

pub async fn connect_with(
    url: &str,
    checkpoints: Checkpoints,
) -> Result<DatabaseConnection, DbErr> {
    let background = checkpoints == Checkpoints::Background && url.starts_with("sqlite:");
    let mut opts = ConnectOptions::new(url.to_owned());
    opts.sqlx_logging(false)
        .connect_timeout(Duration::from_secs(10))
        .acquire_timeout(Duration::from_secs(30));
    if url.starts_with("sqlite:") {
        // SQLite has one writer; one pooled connection makes every transaction wait its
        // turn instead of failing with SQLITE_BUSY when a read upgrades to a write.
        opts.max_connections(1).min_connections(1);
        // Per connection, so a recycled connection gets them too. The page cache is sized for
        // the indexes of a few million records; the default 2 MiB makes every lookup a read.
        opts.map_sqlx_sqlite_opts(move |o| {
            o.pragma("journal_mode", "WAL")
                // Each commit reaches the disk before it is answered, so an accepted request
                // survives a power cut too; NORMAL would keep it only through a crash of the
                // process. Intake commits a batch at a time, so the cost is a few per cent.
                .pragma("synchronous", "FULL")
                .pragma("foreign_keys", "ON")
                .pragma("busy_timeout", "5000")
                .pragma("cache_size", "-262144")
                .pragma("temp_store", "MEMORY")
                // What an erasure deletes is overwritten with zeros, not left in the file's free
                // space for anyone with a hex editor.
                .pragma("secure_delete", "ON")
                .pragma("wal_autocheckpoint", if background { "0" } else { "1000" })
                // When the log starts over it gives back all but 64 MiB: a burst of writes
                // otherwise leaves it at its largest, old page images and all.
                .pragma("journal_size_limit", "67108864")
                // Rows cross from SQLite's worker thread in batches this large, not in fifties.
                .row_buffer_size(1024)
        });
    } else {
        opts.max_connections(16);
    }
    let db = Database::connect(opts).await?;
    if background {
        checkpoint_in_background(url).await?;
    }
    Ok(db)
}

/// Checkpoints the log every quarter second from a connection of its own. A passive checkpoint
/// runs beside readers and the writer and copies what no reader still needs; when the log has
/// been copied whole, the next writer starts it again from the beginning, so it stays small.
/// Under writes that never pause, though, the log is never copied whole at the moment a writer
/// starts, and it grows without end: past [`LOG_PAGES`] a restarting checkpoint holds the next
/// writer back for the moment it takes to copy the last pages, and the log starts over.
async fn checkpoint_in_background(url: &str) -> Result<(), DbErr> {
    let mut opts = ConnectOptions::new(url.to_owned());
    opts.sqlx_logging(false)
        .max_connections(1)
        .min_connections(1)
        .map_sqlx_sqlite_opts(|o| o.pragma("busy_timeout", "5000"));
    let conn = Database::connect(opts).await?;
    tokio::spawn(async move {
        let mut tick = tokio::time::interval(Duration::from_millis(250));
        tick.set_missed_tick_behavior(tokio::time::MissedTickBehavior::Delay);
        loop {
            tick.tick().await;
            if let Err(e) = checkpoint(&conn).await {
                tracing::warn!(error = %e, "a checkpoint of the SQLite log failed; the next one retries");
            }
        }
    });
    Ok(())
}

pub async fn migrate(db: &DatabaseConnection) -> Result<(), DbErr> {
    Migrator::up(db, None).await
}

/// True when every migration this binary knows has been applied.
pub async fn is_migrated(db: &DatabaseConnection) -> Result<bool, DbErr> {
    Ok(Migrator::get_pending_migrations(db).await?.is_empty())
}

/// Reserves `n` ids of `table` inside the caller's transaction, in ascending order: rows written
/// with them need no RETURNING to be found again. On SQLite two writers cannot both take them:
/// a transaction that read them before another wrote fails on its first write (SQLITE_BUSY, the
/// log's snapshot rule) instead of writing rows with the same ids.
pub async fn allocate_ids<C: ConnectionTrait>(
    txn: &C,
    table: &str,
    n: usize,
) -> Result<Vec<i64>, DbErr> {
    if n == 0 {
        return Ok(vec![]);
    }
    let backend = txn.get_database_backend();
    match backend {
        DbBackend::Postgres => {
            let rows = txn
                .query_all_raw(Statement::from_sql_and_values(
                    backend,
                    format!(
                        "SELECT nextval(pg_get_serial_sequence('{table}', 'id')) AS id \
                         FROM generate_series(1, $1)"
                    ),
                    [(n as i64).into()],
                ))
                .await?;
            let mut ids = rows
                .iter()
                .map(|r| r.try_get::<i64>("", "id"))
                .collect::<Result<Vec<_>, _>>()?;
            ids.sort_unstable();
            Ok(ids)
        }
        _ => {
            // AUTOINCREMENT never reuses an id, even of a deleted row: start past both.
            let row = txn
                .query_one_raw(Statement::from_string(
                    backend,
                    format!(
                        "SELECT MAX(COALESCE((SELECT seq FROM sqlite_sequence WHERE name = '{table}'), 0), \
                                COALESCE((SELECT MAX(id) FROM {table}), 0)) AS id"
                    ),
                ))
                .await?
                .ok_or_else(|| DbErr::Custom(format!("no max id of {table}")))?;
            let max: i64 = row.try_get("", "id")?;
            Ok((1..=n as i64).map(|i| max + i).collect())
        }
    }
}

/// Inserts `rows` (all with the same columns set) without reading anything back. On PostgreSQL
/// as one statement whose text is the same however many rows — `INSERT … SELECT … FROM
/// jsonb_populate_recordset(NULL::table, $1)` — so the driver prepares it once and every later
/// batch runs it in one round trip; a multi-row `VALUES` is a statement of its own for each
/// number of rows, and most batches parsed theirs again (a round trip more, each). SQLite, whose
/// statements cost no round trip, takes the multi-row insert.
pub async fn insert_rows<C, A>(conn: &C, rows: Vec<A>) -> Result<(), DbErr>
where
    C: ConnectionTrait,
    A: sea_orm::ActiveModelTrait + Send,
{
    use sea_orm::{ActiveValue, EntityName, EntityTrait, IdenStatic, Iterable};
    if rows.is_empty() {
        return Ok(());
    }
    if conn.get_database_backend() != DbBackend::Postgres {
        return <A::Entity as EntityTrait>::insert_many(rows)
            .exec_without_returning(conn)
            .await
            .map(|_| ());
    }
    let columns: Vec<_> = <A::Entity as EntityTrait>::Column::iter()
        .filter(|c| !matches!(rows[0].get(*c), ActiveValue::NotSet))
        .collect();
    let mut objects = Vec::with_capacity(rows.len());
    for row in &rows {
        let mut object = serde_json::Map::with_capacity(columns.len());
        for c in &columns {
            let value = match row.get(*c) {
                ActiveValue::Set(v) | ActiveValue::Unchanged(v) => {
                    json_of(&v).ok_or_else(|| {
                        DbErr::Custom(format!("insert_rows cannot send {} as JSON", c.as_str()))
                    })?
                }
                ActiveValue::NotSet => {
                    return Err(DbErr::Custom(format!(
                        "rows inserted together set different columns ({})",
                        c.as_str()
                    )));
                }
            };
            object.insert(c.as_str().to_owned(), value);
        }
        objects.push(serde_json::Value::Object(object));
    }
    let table = <A::Entity as Default>::default().table_name().to_owned();
    let list = columns
        .iter()
        .map(|c| format!("\"{}\"", c.as_str()))
        .collect::<Vec<_>>()
        .join(", ");
    let sql = format!(
        "INSERT INTO \"{table}\" ({list}) SELECT {list} \
         FROM jsonb_populate_recordset(NULL::\"{table}\", $1)"
    );
    conn.execute_raw(Statement::from_sql_and_values(
        DbBackend::Postgres,
        sql,
        [sea_orm::Value::Json(Some(Box::new(
            serde_json::Value::Array(objects),
        )))],
    ))
    .await
    .map(|_| ())
}

/// A column's value as PostgreSQL reads it from JSON into the column's type; `None` for a type
/// the service's tables do not use.
fn json_of(v: &sea_orm::Value) -> Option<serde_json::Value> {
    use sea_orm::Value as V;
    use serde_json::Value as J;
    Some(match v {
        V::Bool(b) => b.map_or(J::Null, J::Bool),
        V::Int(n) => n.map_or(J::Null, J::from),
        V::BigInt(n) => n.map_or(J::Null, J::from),
        V::SmallInt(n) => n.map_or(J::Null, J::from),
        V::String(s) => s.clone().map_or(J::Null, J::String),
        V::Json(j) => j.as_deref().cloned().unwrap_or(J::Null),
        V::ChronoDate(d) => d.map_or(J::Null, |d| J::String(d.to_string())),
        V::ChronoDateTimeUtc(t) => t.map_or(J::Null, |t| {
            J::String(t.to_rfc3339_opts(chrono::SecondsFormat::Micros, true))
        }),
        _ => return None,
    })
}
