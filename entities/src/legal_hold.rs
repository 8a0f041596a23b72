use sea_orm::entity::prelude::*;

#[derive(Clone, Debug, PartialEq, Eq, DeriveEntityModel)]
#[sea_orm(table_name = "legal_hold")]
pub struct Model {
    #[sea_orm(primary_key)]
    pub id: i64,
    pub reason: String,
    pub scope: String,
    #[sea_orm(column_type = "Text", nullable)]
    pub record_ids: Option<String>,
    pub identity_id: Option<i64>,
    pub channel_id: Option<i64>,
    pub holds_from: Date,
    pub holds_until: Option<Date>,
    pub created_at: DateTimeUtc,
    pub created_by: String,
}

#[derive(Copy, Clone, Debug, EnumIter, DeriveRelation)]
pub enum Relation {}

impl ActiveModelBehavior for ActiveModel {}
