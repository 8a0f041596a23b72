//! Applying parsed observations to the archive: identities resolved, records created, every change
//! a new version with its fixity hash. Nothing is overwritten.
use crate::archive::import::{Observation, Op, Person, Skipped};
use crate::archive::rules::{Change, Content, Direction, Visibility};
use crate::audit::{self, Actor, NewEntry, now};
use entities::{channel, identity, record, record_version};
use sea_orm::sea_query::Expr;
use sea_orm::{
    ActiveModelTrait, ColumnTrait, ConnectionTrait, DatabaseConnection, DbErr, EntityTrait,
    QueryFilter, Set, TransactionTrait,
};

#[derive(Debug, Default, Clone)]
pub struct Counts {
    pub created: u64,
    pub new_versions: u64,
    pub unchanged: u64,
    pub skipped: Vec<Skipped>,
}

#[derive(Debug, thiserror::Error)]
pub enum ImportError {
    #[error("no channel {0}")]
    NoChannel(i64),
    #[error(transparent)]
    Db(#[from] DbErr),
}

/// Imports parsed payloads for a channel in one transaction, with one audit entry for the import.
pub async fn import(
    db: &DatabaseConnection,
    channel_id: i64,
    observations: Vec<Observation>,
    skipped: Vec<Skipped>,
    actor: &Actor,
) -> Result<Counts, ImportError> {
    let txn = db.begin().await?;
    let channel = channel::Entity::find_by_id(channel_id)
        .one(&txn)
        .await?
        .ok_or(ImportError::NoChannel(channel_id))?;
    let mut counts = Counts {
        skipped,
        ..Counts::default()
    };
    for o in observations {
        apply(&txn, &channel, o, &mut counts).await?;
    }
    audit::append(
        &txn,
        actor,
        NewEntry {
            action: "archive.import",
            target: format!("channel:{}", channel.id),
            details: serde_json::json!({
                "created": counts.created,
                "new_versions": counts.new_versions,
                "unchanged": counts.unchanged,
                "skipped": counts.skipped.len(),
            }),
        },
    )
    .await?;
    txn.commit().await?;
    Ok(counts)
}

async fn resolve_identity<C: ConnectionTrait>(
    txn: &C,
    platform: &str,
    p: &Person,
    seen: chrono::DateTime<chrono::Utc>,
) -> Result<i64, DbErr> {
    let found = identity::Entity::find()
        .filter(identity::Column::Platform.eq(platform))
        .filter(identity::Column::PlatformId.eq(p.platform_id.clone()))
        .one(txn)
        .await?;
    match found {
        Some(i) => {
            let name = p.name.clone().or(i.display_name.clone());
            let link = p.profile_link.clone().or(i.profile_link.clone());
            let (first, last) = (i.first_seen.min(seen), i.last_seen.max(seen));
            if name != i.display_name
                || link != i.profile_link
                || first != i.first_seen
                || last != i.last_seen
            {
                let id = i.id;
                let mut a: identity::ActiveModel = i.into();
                a.display_name = Set(name);
                a.profile_link = Set(link);
                a.first_seen = Set(first);
                a.last_seen = Set(last);
                a.update(txn).await?;
                return Ok(id);
            }
            Ok(i.id)
        }
        None => Ok(identity::ActiveModel {
            platform: Set(platform.to_owned()),
            platform_id: Set(p.platform_id.clone()),
            display_name: Set(p.name.clone()),
            profile_link: Set(p.profile_link.clone()),
            first_seen: Set(seen),
            last_seen: Set(seen),
            ..Default::default()
        }
        .insert(txn)
        .await?
        .id),
    }
}

fn visibility_after(op: Op, stated: Option<Visibility>, before: Visibility) -> Visibility {
    match op {
        Op::Hide => Visibility::Hidden,
        Op::Unhide => Visibility::Visible,
        Op::Remove => Visibility::Removed,
        Op::Delete => Visibility::DeletedByAuthor,
        Op::Seen | Op::Edited => stated.unwrap_or(before),
    }
}

async fn apply<C: ConnectionTrait>(
    txn: &C,
    channel: &channel::Model,
    o: Observation,
    counts: &mut Counts,
) -> Result<(), DbErr> {
    let at = now();
    let author_id = match &o.author {
        Some(p) => {
            Some(resolve_identity(txn, &channel.platform, p, o.platform_time.unwrap_or(at)).await?)
        }
        None => None,
    };
    // The municipality's own account marks what it drew up; posts listed from its feed carry its id.
    let own = match &o.author {
        Some(p) => p.platform_id == channel.account_id,
        None => {
            o.platform_id
                .starts_with(&format!("{}_", channel.account_id))
                && o.kind == crate::archive::rules::Kind::Post
        }
    };
    let direction = if own {
        Direction::DrawnUp
    } else {
        Direction::Received
    };
    let existing = record::Entity::find()
        .filter(record::Column::ChannelId.eq(channel.id))
        .filter(record::Column::PlatformId.eq(o.platform_id.clone()))
        .one(txn)
        .await?;
    let Some(rec) = existing else {
        let content = Content {
            kind: o.kind,
            platform_id: o.platform_id.clone(),
            parent_platform_id: o.parent_platform_id.clone(),
            author_platform_id: o.author.as_ref().map(|p| p.platform_id.clone()),
            direction,
            platform_time: o.platform_time,
            text: o.text.clone(),
            reaction_type: o.reaction_type.clone(),
            attachments: o.attachments.clone(),
            visibility: visibility_after(o.op, o.visibility, Visibility::Visible),
        };
        let parent_id = match &o.parent_platform_id {
            Some(pp) => record::Entity::find()
                .filter(record::Column::ChannelId.eq(channel.id))
                .filter(record::Column::PlatformId.eq(pp.clone()))
                .one(txn)
                .await?
                .map(|p| p.id),
            None => None,
        };
        let canonical = content.canonical();
        let hash = content.fixity();
        let created = record::ActiveModel {
            channel_id: Set(channel.id),
            kind: Set(content.kind.as_str().to_owned()),
            platform_id: Set(content.platform_id.clone()),
            parent_platform_id: Set(content.parent_platform_id.clone()),
            parent_id: Set(parent_id),
            author_identity_id: Set(author_id),
            direction: Set(direction.as_str().to_owned()),
            platform_time: Set(content.platform_time),
            archived_at: Set(at),
            text: Set(content.text.clone()),
            reaction_type: Set(content.reaction_type.clone()),
            attachments: Set(
                serde_json::to_string(&content.attachments).unwrap_or_else(|_| "[]".into())
            ),
            visibility: Set(content.visibility.as_str().to_owned()),
            registration_number: Set(None),
            version_count: Set(1),
            current_hash: Set(hash.clone()),
            ..Default::default()
        }
        .insert(txn)
        .await?;
        record_version::ActiveModel {
            record_id: Set(created.id),
            seq: Set(1),
            change: Set(Change::Created.as_str().to_owned()),
            seen_at: Set(at),
            content: Set(canonical),
            hash: Set(hash),
            ..Default::default()
        }
        .insert(txn)
        .await?;
        // Replies and reactions that arrived before this item now find their parent.
        record::Entity::update_many()
            .col_expr(record::Column::ParentId, Expr::value(created.id))
            .filter(record::Column::ChannelId.eq(channel.id))
            .filter(record::Column::ParentPlatformId.eq(created.platform_id.clone()))
            .filter(record::Column::ParentId.is_null())
            .exec(txn)
            .await?;
        counts.created += 1;
        return Ok(());
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
    if matches!(o.op, Op::Seen | Op::Edited) {
        if o.text.is_some() {
            next.text = o.text.clone();
        }
        if !o.attachments.is_empty() {
            next.attachments = o.attachments.clone();
        }
        if o.reaction_type.is_some() {
            next.reaction_type = o.reaction_type.clone();
        }
    }
    if next.author_platform_id.is_none() {
        next.author_platform_id = o.author.as_ref().map(|p| p.platform_id.clone());
    }
    if next.platform_time.is_none() {
        next.platform_time = o.platform_time;
    }
    if next.parent_platform_id.is_none() {
        next.parent_platform_id = o.parent_platform_id.clone();
    }
    next.visibility = visibility_after(o.op, o.visibility, latest.visibility);
    let Some(change) = crate::archive::rules::change_between(&latest, &next) else {
        counts.unchanged += 1;
        return Ok(());
    };
    let seq = rec.version_count + 1;
    let hash = next.fixity();
    record_version::ActiveModel {
        record_id: Set(rec.id),
        seq: Set(seq),
        change: Set(change.as_str().to_owned()),
        seen_at: Set(at),
        content: Set(next.canonical()),
        hash: Set(hash.clone()),
        ..Default::default()
    }
    .insert(txn)
    .await?;
    let mut a: record::ActiveModel = rec.into();
    a.text = Set(next.text.clone());
    a.reaction_type = Set(next.reaction_type.clone());
    a.attachments = Set(serde_json::to_string(&next.attachments).unwrap_or_else(|_| "[]".into()));
    a.visibility = Set(next.visibility.as_str().to_owned());
    a.platform_time = Set(next.platform_time);
    a.parent_platform_id = Set(next.parent_platform_id.clone());
    if author_id.is_some() {
        a.author_identity_id = Set(author_id);
    }
    a.version_count = Set(seq);
    a.current_hash = Set(hash);
    a.update(txn).await?;
    counts.new_versions += 1;
    Ok(())
}
