use crate::m20261124_000006_create_identity::Identity;
use sea_orm_migration::prelude::*;

#[derive(DeriveMigrationName)]
pub struct Migration;

/// Intake looks a named account up by profile link with a suffix pattern, which no B-tree can
/// seek: this partial index holds only the identities that have a link, so the look-up reads those
/// instead of the whole table (most identities the Graph API gives have none).
#[async_trait::async_trait]
impl MigrationTrait for Migration {
    async fn up(&self, manager: &SchemaManager) -> Result<(), DbErr> {
        manager
            .create_index(
                Index::create()
                    .name("idx_identity_linked")
                    .table(Identity::Table)
                    .col(Identity::Platform)
                    .col(Identity::Id)
                    .and_where(Expr::col((Identity::Table, Identity::ProfileLink)).is_not_null())
                    .to_owned(),
            )
            .await
    }

    async fn down(&self, manager: &SchemaManager) -> Result<(), DbErr> {
        manager
            .drop_index(
                Index::drop()
                    .name("idx_identity_linked")
                    .table(Identity::Table)
                    .to_owned(),
            )
            .await
    }
}
