use sea_orm::entity::prelude::*;

#[derive(Clone, Debug, PartialEq, Eq, DeriveEntityModel)]
#[sea_orm(table_name = "registration")]
pub struct Model {
    #[sea_orm(primary_key)]
    pub id: i64,
    pub series: String,
    pub year: i32,
    pub seq: i64,
    pub number: String,
    pub reason: String,
    pub record_id: Option<i64>,
    pub request_id: Option<i64>,
    pub title: String,
    pub registered_at: DateTimeUtc,
    pub registered_by: String,
}

#[derive(Copy, Clone, Debug, EnumIter, DeriveRelation)]
pub enum Relation {}

impl ActiveModelBehavior for ActiveModel {}
