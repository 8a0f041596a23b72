use sea_orm_migration::prelude::*;
use sea_orm_migration::sea_orm::{ConnectionTrait, DbBackend};

#[derive(DeriveMigrationName)]
pub struct Migration;

/// Intake looks for accounts whose display name contains the name a person gave: a pattern with a
/// leading wildcard, which no B-tree can seek, so every look-up read every identity (about 55 ms
/// in 100,000). A trigram index answers it from the index: on SQLite an FTS5 table over
/// `identity.display_name` (kept in step by triggers, and only when the name changes), on
/// PostgreSQL `pg_trgm` (a trusted extension: the database's owner may create it).
#[async_trait::async_trait]
impl MigrationTrait for Migration {
    async fn up(&self, manager: &SchemaManager) -> Result<(), DbErr> {
        let db = manager.get_connection();
        let statements: &[&str] = match db.get_database_backend() {
            DbBackend::Sqlite => &[
                "CREATE VIRTUAL TABLE identity_name USING fts5(display_name, \
                 content='identity', content_rowid='id', tokenize='trigram')",
                "CREATE TRIGGER identity_name_insert AFTER INSERT ON identity BEGIN \
                 INSERT INTO identity_name(rowid, display_name) VALUES (new.id, new.display_name); \
                 END",
                "CREATE TRIGGER identity_name_delete AFTER DELETE ON identity BEGIN \
                 INSERT INTO identity_name(identity_name, rowid, display_name) \
                 VALUES ('delete', old.id, old.display_name); END",
                "CREATE TRIGGER identity_name_update AFTER UPDATE OF display_name ON identity \
                 WHEN old.display_name IS NOT new.display_name BEGIN \
                 INSERT INTO identity_name(identity_name, rowid, display_name) \
                 VALUES ('delete', old.id, old.display_name); \
                 INSERT INTO identity_name(rowid, display_name) VALUES (new.id, new.display_name); \
                 END",
                "INSERT INTO identity_name(identity_name) VALUES ('rebuild')",
            ],
            _ => &[
                "CREATE EXTENSION IF NOT EXISTS pg_trgm",
                "CREATE INDEX idx_identity_name_trigram ON identity \
                 USING gin (display_name gin_trgm_ops)",
            ],
        };
        for statement in statements {
            db.execute_unprepared(statement).await?;
        }
        Ok(())
    }

    async fn down(&self, manager: &SchemaManager) -> Result<(), DbErr> {
        let db = manager.get_connection();
        let statements: &[&str] = match db.get_database_backend() {
            DbBackend::Sqlite => &[
                "DROP TRIGGER identity_name_insert",
                "DROP TRIGGER identity_name_delete",
                "DROP TRIGGER identity_name_update",
                "DROP TABLE identity_name",
            ],
            // The extension stays: other schemas in the database may use it.
            _ => &["DROP INDEX idx_identity_name_trigram"],
        };
        for statement in statements {
            db.execute_unprepared(statement).await?;
        }
        Ok(())
    }
}
