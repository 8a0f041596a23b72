//! Versions the archive writes itself (a moderation decision, a registration): the latest content,
//! changed, as a new version. Nothing is overwritten.
use crate::archive::rules::{Content, change_between, fixity_of};
use crate::audit::now;
use entities::{record, record_version};
use sea_orm::{
    ActiveModelTrait, ColumnTrait, ConnectionTrait, DbErr, EntityTrait, QueryFilter, Set,
};

/// Applies `change` to the record's latest content and, when that changes it, adds the version and
/// points the record at it. Answers the record as it is afterwards, or `None` when there is no
/// such record. Call inside the caller's transaction.
pub async fn amend<C: ConnectionTrait>(
    txn: &C,
    record_id: i64,
    change: impl FnOnce(&mut Content),
) -> Result<Option<record::Model>, DbErr> {
    let Some(rec) = super::held_records()
        .filter(record::Column::Id.eq(record_id))
        .one(txn)
        .await?
    else {
        return Ok(None);
    };
    let latest = record_version::Entity::find()
        .filter(record_version::Column::RecordId.eq(rec.id))
        .filter(record_version::Column::Seq.eq(rec.version_count))
        .one(txn)
        .await?
        .and_then(|v| Content::from_canonical(&v.content))
        .ok_or_else(|| {
            DbErr::Custom(format!("record {} has no readable latest version", rec.id))
        })?;
    let mut next = latest.clone();
    change(&mut next);
    let Some(kind) = change_between(&latest, &next) else {
        return Ok(Some(rec));
    };
    let canonical = next.canonical();
    let hash = fixity_of(&canonical);
    let seq = rec.version_count + 1;
    record_version::ActiveModel {
        record_id: Set(rec.id),
        seq: Set(seq),
        change: Set(kind.as_str().to_owned()),
        seen_at: Set(now()),
        content: Set(canonical),
        hash: Set(hash.clone()),
        ..Default::default()
    }
    .insert(txn)
    .await?;
    let mut a: record::ActiveModel = rec.into();
    a.registration_number = Set(next.registration_number.clone());
    a.version_count = Set(seq);
    a.current_hash = Set(hash);
    a.update(txn).await.map(Some)
}
