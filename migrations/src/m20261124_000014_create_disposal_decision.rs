use sea_orm_migration::{prelude::*, schema::*};

#[derive(DeriveMigrationName)]
pub struct Migration;

#[async_trait::async_trait]
impl MigrationTrait for Migration {
    async fn up(&self, manager: &SchemaManager) -> Result<(), DbErr> {
        manager
            .create_table(
                Table::create()
                    .table(DisposalDecision::Table)
                    .if_not_exists()
                    .col(big_pk_auto(DisposalDecision::Id))
                    .col(string(DisposalDecision::Reference))
                    .col(string(DisposalDecision::Title))
                    .col(date(DisposalDecision::DecidedOn))
                    .col(text(DisposalDecision::Rules))
                    .col(timestamp_with_time_zone(DisposalDecision::CreatedAt))
                    .col(string(DisposalDecision::CreatedBy))
                    .to_owned(),
            )
            .await?;
        manager
            .create_index(
                Index::create()
                    .name("uq_disposal_decision_reference")
                    .table(DisposalDecision::Table)
                    .col(DisposalDecision::Reference)
                    .unique()
                    .to_owned(),
            )
            .await?;
        Ok(())
    }

    async fn down(&self, manager: &SchemaManager) -> Result<(), DbErr> {
        manager
            .drop_table(Table::drop().table(DisposalDecision::Table).to_owned())
            .await?;
        Ok(())
    }
}

#[derive(DeriveIden)]
pub enum DisposalDecision {
    Table,
    Id,
    Reference,
    Title,
    DecidedOn,
    Rules,
    CreatedAt,
    CreatedBy,
}
