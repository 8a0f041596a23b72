//! Archive queries and mutations. Every mutation writes its audit entry in the same transaction.
use super::rules::Platform;
use crate::audit::{self, Actor, NewEntry, now};
use entities::channel;
use sea_orm::{
    ActiveModelTrait, ColumnTrait, DatabaseConnection, DbErr, EntityTrait, QueryFilter, QueryOrder,
    Set, TransactionTrait,
};

pub struct NewChannel {
    pub platform: Platform,
    pub account_id: String,
    pub name: String,
    pub department: Option<String>,
}

#[derive(Debug, thiserror::Error)]
pub enum ChannelError {
    #[error("a {0} channel with this account id exists already")]
    Exists(&'static str),
    #[error(transparent)]
    Db(#[from] DbErr),
}

pub async fn create_channel(
    db: &DatabaseConnection,
    new: NewChannel,
    actor: &Actor,
) -> Result<channel::Model, ChannelError> {
    let txn = db.begin().await?;
    let taken = channel::Entity::find()
        .filter(channel::Column::Platform.eq(new.platform.as_str()))
        .filter(channel::Column::AccountId.eq(new.account_id.clone()))
        .one(&txn)
        .await?;
    if taken.is_some() {
        return Err(ChannelError::Exists(new.platform.as_str()));
    }
    let created = channel::ActiveModel {
        platform: Set(new.platform.as_str().to_owned()),
        account_id: Set(new.account_id),
        name: Set(new.name),
        department: Set(new.department),
        created_at: Set(now()),
        ..Default::default()
    }
    .insert(&txn)
    .await?;
    audit::append(
        &txn,
        actor,
        NewEntry {
            action: "channel.create",
            target: format!("channel:{}", created.id),
            details: serde_json::json!({ "platform": created.platform }),
        },
    )
    .await?;
    txn.commit().await?;
    Ok(created)
}

pub async fn list_channels(db: &DatabaseConnection) -> Result<Vec<channel::Model>, DbErr> {
    channel::Entity::find()
        .order_by_asc(channel::Column::Id)
        .all(db)
        .await
}

mod amend;
mod ingest;
mod records;

pub use amend::amend;
pub use ingest::{Counts, ImportError, import};
pub use records::{
    Fetched, RecordFilter, Verification, fetch_records, find_record, held_records, json_page,
    json_text, list_identities, list_records, notes_of, parse_json_rows, read_records,
    record_columns, records_of, remove, tombstone, verify_all, verify_record,
};
