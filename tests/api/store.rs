//! What the embedded store promises about the data it is given.
use crate::helpers::{Backend, spawn_app};
use sea_orm::{ConnectionTrait, DbBackend, Statement};

async fn pragma(db: &sea_orm::DatabaseConnection, name: &str) -> String {
    let row = db
        .query_one_raw(Statement::from_string(
            DbBackend::Sqlite,
            format!("PRAGMA {name}"),
        ))
        .await
        .unwrap()
        .unwrap();
    row.try_get_by_index::<String>(0)
        .or_else(|_| row.try_get_by_index::<i64>(0).map(|v| v.to_string()))
        .unwrap()
}

/// An accepted request is on the disk when it is answered: SQLite's log is synced at every commit
/// (FULL, 2), not only at checkpoints (NORMAL, which loses the last commits in a power cut), and
/// the foreign keys hold.
#[tokio::test]
async fn sqlite_commits_reach_the_disk_before_they_are_answered() {
    let app = spawn_app(Backend::Sqlite).await;
    assert_eq!(pragma(&app.db, "journal_mode").await, "wal");
    assert_eq!(pragma(&app.db, "synchronous").await, "2");
    assert_eq!(pragma(&app.db, "foreign_keys").await, "1");
}
