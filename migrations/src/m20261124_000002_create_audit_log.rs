use sea_orm_migration::{prelude::*, schema::*};

#[derive(DeriveMigrationName)]
pub struct Migration;

#[async_trait::async_trait]
impl MigrationTrait for Migration {
    async fn up(&self, manager: &SchemaManager) -> Result<(), DbErr> {
        manager
            .create_table(
                Table::create()
                    .table(AuditLog::Table)
                    .if_not_exists()
                    .col(big_pk_auto(AuditLog::Id))
                    .col(timestamp_with_time_zone(AuditLog::At))
                    .col(string(AuditLog::Actor))
                    .col(string(AuditLog::Role))
                    .col(string(AuditLog::Action))
                    .col(string(AuditLog::Target))
                    .col(text(AuditLog::Details))
                    .col(string(AuditLog::PrevHash))
                    .col(string_uniq(AuditLog::Hash))
                    .to_owned(),
            )
            .await?;
        for (name, col) in [
            ("idx_audit_log_target", AuditLog::Target),
            ("idx_audit_log_actor", AuditLog::Actor),
            ("idx_audit_log_at", AuditLog::At),
        ] {
            manager
                .create_index(
                    Index::create()
                        .name(name)
                        .table(AuditLog::Table)
                        .col(col)
                        .to_owned(),
                )
                .await?;
        }
        Ok(())
    }

    async fn down(&self, manager: &SchemaManager) -> Result<(), DbErr> {
        manager
            .drop_table(Table::drop().table(AuditLog::Table).to_owned())
            .await
    }
}

#[derive(DeriveIden)]
enum AuditLog {
    Table,
    Id,
    At,
    Actor,
    Role,
    Action,
    Target,
    Details,
    PrevHash,
    Hash,
}
