use sea_orm::entity::prelude::*;

#[derive(Clone, Debug, PartialEq, Eq, DeriveEntityModel)]
#[sea_orm(table_name = "unpublish_task")]
pub struct Model {
    #[sea_orm(primary_key)]
    pub id: i64,
    pub record_id: Option<i64>,
    pub channel_id: i64,
    pub identity_id: Option<i64>,
    pub reason: String,
    pub action: String,
    pub link: String,
    pub source: Option<String>,
    pub status: String,
    #[sea_orm(column_type = "Text", nullable)]
    pub note: Option<String>,
    pub created_at: DateTimeUtc,
    pub closed_at: Option<DateTimeUtc>,
    pub closed_by: Option<String>,
}

#[derive(Copy, Clone, Debug, EnumIter, DeriveRelation)]
pub enum Relation {}

impl ActiveModelBehavior for ActiveModel {}
