use sea_orm::entity::prelude::*;

#[derive(Clone, Debug, PartialEq, Eq, DeriveEntityModel)]
#[sea_orm(table_name = "consent_event")]
pub struct Model {
    #[sea_orm(primary_key)]
    pub id: i64,
    pub identity_id: i64,
    pub channel_id: i64,
    pub record_id: Option<i64>,
    pub event: String,
    pub interaction: Option<String>,
    pub purpose: String,
    pub at: DateTimeUtc,
    pub recorded_at: DateTimeUtc,
    pub policy_version: String,
    pub actor: Option<String>,
    #[sea_orm(column_type = "Text", nullable)]
    pub note: Option<String>,
}

#[derive(Copy, Clone, Debug, EnumIter, DeriveRelation)]
pub enum Relation {}

impl ActiveModelBehavior for ActiveModel {}
