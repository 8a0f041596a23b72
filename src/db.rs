//! One code path for SQLite and PostgreSQL, chosen by the URL.
use migrations::{Migrator, MigratorTrait};
use sea_orm::{ConnectOptions, Database, DatabaseConnection, DbErr};
use std::time::Duration;

pub async fn connect(url: &str) -> Result<DatabaseConnection, DbErr> {
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
        opts.map_sqlx_sqlite_opts(|o| {
            o.pragma("journal_mode", "WAL")
                .pragma("synchronous", "NORMAL")
                .pragma("foreign_keys", "ON")
                .pragma("busy_timeout", "5000")
                .pragma("cache_size", "-262144")
                .pragma("temp_store", "MEMORY")
                // Rows cross from SQLite's worker thread in batches this large, not in fifties.
                .row_buffer_size(1024)
        });
    } else {
        opts.max_connections(16);
    }
    Database::connect(opts).await
}

pub async fn migrate(db: &DatabaseConnection) -> Result<(), DbErr> {
    Migrator::up(db, None).await
}

/// True when every migration this binary knows has been applied.
pub async fn is_migrated(db: &DatabaseConnection) -> Result<bool, DbErr> {
    Ok(Migrator::get_pending_migrations(db).await?.is_empty())
}
