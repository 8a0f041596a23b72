use crate::m20261124_000017_create_request::Request;
use sea_orm_migration::{prelude::*, schema::*};

#[derive(DeriveMigrationName)]
pub struct Migration;

/// Erasure (Art. 17) as a plan of per-item decisions that an officer reviews and approves, and the
/// suppression list that keeps erased items from coming back with a later import.
#[async_trait::async_trait]
impl MigrationTrait for Migration {
    async fn up(&self, manager: &SchemaManager) -> Result<(), DbErr> {
        manager
            .create_table(
                Table::create()
                    .table(ErasurePlan::Table)
                    .if_not_exists()
                    .col(big_pk_auto(ErasurePlan::Id))
                    .col(big_integer(ErasurePlan::RequestId))
                    .col(string(ErasurePlan::Status))
                    .col(string(ErasurePlan::Fingerprint))
                    .col(timestamp_with_time_zone(ErasurePlan::CreatedAt))
                    .col(string(ErasurePlan::CreatedBy))
                    .col(timestamp_with_time_zone_null(ErasurePlan::ExecutedAt))
                    .col(string_null(ErasurePlan::ExecutedBy))
                    .col(big_integer_null(ErasurePlan::Supersedes))
                    .col(text(ErasurePlan::Changes))
                    .foreign_key(
                        ForeignKey::create()
                            .name("fk_erasure_plan_request")
                            .from(ErasurePlan::Table, ErasurePlan::RequestId)
                            .to(Request::Table, Request::Id)
                            .on_delete(ForeignKeyAction::Cascade),
                    )
                    .to_owned(),
            )
            .await?;
        manager
            .create_index(
                Index::create()
                    .name("idx_erasure_plan_request")
                    .table(ErasurePlan::Table)
                    .col(ErasurePlan::RequestId)
                    .col(ErasurePlan::Id)
                    .to_owned(),
            )
            .await?;
        manager
            .create_table(
                Table::create()
                    .table(ErasureItem::Table)
                    .if_not_exists()
                    .col(big_pk_auto(ErasureItem::Id))
                    .col(big_integer(ErasureItem::PlanId))
                    .col(string(ErasureItem::Kind))
                    .col(big_integer_null(ErasureItem::TargetId))
                    .col(text(ErasureItem::Label))
                    .col(string(ErasureItem::Decision))
                    .col(string(ErasureItem::Ground))
                    .col(text(ErasureItem::Sentence))
                    .col(date_null(ErasureItem::Until))
                    .col(string_null(ErasureItem::Reference))
                    .col(big_integer(ErasureItem::Count))
                    .col(boolean(ErasureItem::Excluded))
                    .col(text_null(ErasureItem::ExclusionReason))
                    .col(string_null(ErasureItem::Outcome))
                    .col(big_integer_null(ErasureItem::TaskId))
                    .foreign_key(
                        ForeignKey::create()
                            .name("fk_erasure_item_plan")
                            .from(ErasureItem::Table, ErasureItem::PlanId)
                            .to(ErasurePlan::Table, ErasurePlan::Id)
                            .on_delete(ForeignKeyAction::Cascade),
                    )
                    .to_owned(),
            )
            .await?;
        manager
            .create_index(
                Index::create()
                    .name("idx_erasure_item_plan")
                    .table(ErasureItem::Table)
                    .col(ErasureItem::PlanId)
                    .col(ErasureItem::Id)
                    .to_owned(),
            )
            .await?;
        manager
            .create_table(
                Table::create()
                    .table(Suppression::Table)
                    .if_not_exists()
                    .col(big_pk_auto(Suppression::Id))
                    .col(string(Suppression::Kind))
                    .col(string_uniq(Suppression::KeyHash))
                    .col(big_integer_null(Suppression::RequestId))
                    .col(timestamp_with_time_zone(Suppression::CreatedAt))
                    .to_owned(),
            )
            .await
    }

    async fn down(&self, manager: &SchemaManager) -> Result<(), DbErr> {
        manager
            .drop_table(Table::drop().table(Suppression::Table).to_owned())
            .await?;
        manager
            .drop_table(Table::drop().table(ErasureItem::Table).to_owned())
            .await?;
        manager
            .drop_table(Table::drop().table(ErasurePlan::Table).to_owned())
            .await
    }
}

#[derive(DeriveIden)]
pub enum ErasurePlan {
    Table,
    Id,
    RequestId,
    Status,
    Fingerprint,
    CreatedAt,
    CreatedBy,
    ExecutedAt,
    ExecutedBy,
    Supersedes,
    Changes,
}

#[derive(DeriveIden)]
pub enum ErasureItem {
    Table,
    Id,
    PlanId,
    Kind,
    TargetId,
    Label,
    Decision,
    Ground,
    Sentence,
    Until,
    Reference,
    Count,
    Excluded,
    ExclusionReason,
    Outcome,
    TaskId,
}

#[derive(DeriveIden)]
pub enum Suppression {
    Table,
    Id,
    Kind,
    KeyHash,
    RequestId,
    CreatedAt,
}
