//! The consent ledger and the unpublish tasks, over `consent_event` and `unpublish_task`.
use super::rules::{
    ConsentEvent, Interaction, Purpose, TaskAction, TaskReason, TaskStatus, interaction_of,
    item_link,
};
use crate::audit::{self, Actor, NewEntry, now};
use chrono::{DateTime, Utc};
use entities::{channel, consent_event, identity, record, unpublish_task};
use sea_orm::{
    ActiveModelTrait, ColumnTrait, ConnectionTrait, DatabaseConnection, DbErr, EntityTrait,
    QueryFilter, QueryOrder, QuerySelect, Set, TransactionTrait,
};
use std::collections::{BTreeSet, HashMap};

/// A record just archived, as the ledger needs to see it.
pub struct Archived<'a> {
    pub record_id: i64,
    pub kind: &'a str,
    pub direction: &'a str,
    pub author_identity_id: Option<i64>,
    pub platform_time: Option<DateTime<Utc>>,
}

/// Writes a `given` event for each archived interaction of a member of the public. Called in the
/// import's transaction, for records it created. An interaction from before the person withdrew
/// their consent on the channel, archived only now (a late delivery, an archive export), is
/// covered by that withdrawal: it gets its unpublish task as if it had been there then. One whose
/// time the platform did not give (a Graph reaction) is taken as covered too, and its entry is
/// dated at the withdrawal: nothing shows it came after, and the ledger must not read it as
/// consent given anew.
pub async fn record_given<C: ConnectionTrait>(
    txn: &C,
    channel_id: i64,
    archived: &[Archived<'_>],
    policy_version: &str,
) -> Result<u64, DbErr> {
    let withdrawn = withdrawals(txn, channel_id, archived).await?;
    let n = write_given(txn, channel_id, archived, policy_version, &withdrawn).await?;
    take_down_withdrawn(txn, archived, &withdrawn).await?;
    Ok(n)
}

/// An archived record's interaction and who made it, if it is one that gives consent.
fn interacting(a: &Archived<'_>) -> Option<(Interaction, i64)> {
    Some((
        interaction_of(a.kind, a.direction, a.author_identity_id.is_some())?,
        a.author_identity_id?,
    ))
}

/// Each interacting person's latest withdrawal on the channel: its time and its entry's id.
async fn withdrawals<C: ConnectionTrait>(
    txn: &C,
    channel_id: i64,
    archived: &[Archived<'_>],
) -> Result<HashMap<i64, (DateTime<Utc>, i64)>, DbErr> {
    let mut people: Vec<i64> = archived
        .iter()
        .filter_map(interacting)
        .map(|(_, p)| p)
        .collect();
    people.sort_unstable();
    people.dedup();
    let mut latest: HashMap<i64, (DateTime<Utc>, i64)> = HashMap::new();
    for chunk in people.chunks(500) {
        for w in consent_event::Entity::find()
            .filter(consent_event::Column::IdentityId.is_in(chunk.to_vec()))
            .filter(consent_event::Column::ChannelId.eq(channel_id))
            .filter(consent_event::Column::Event.eq(ConsentEvent::Withdrawn.as_str()))
            .all(txn)
            .await?
        {
            let e = latest.entry(w.identity_id).or_insert((w.at, w.id));
            if (w.at, w.id) > *e {
                *e = (w.at, w.id);
            }
        }
    }
    Ok(latest)
}

/// Whether a withdrawal covers an interaction made at `made` (unknown: `None`): made before it.
fn covered(made: Option<DateTime<Utc>>, withdrawn: DateTime<Utc>) -> bool {
    made.is_none_or(|m| m < withdrawn)
}

/// The unpublish tasks of interactions archived after a withdrawal that covers them.
async fn take_down_withdrawn<C: ConnectionTrait>(
    txn: &C,
    archived: &[Archived<'_>],
    withdrawn: &HashMap<i64, (DateTime<Utc>, i64)>,
) -> Result<(), DbErr> {
    let to_take_down: HashMap<i64, (i64, i64)> = archived
        .iter()
        .filter_map(|a| {
            let (interaction, person) = interacting(a)?;
            let (at, event) = withdrawn.get(&person)?;
            (Interaction::PUBLISHED.contains(&interaction) && covered(a.platform_time, *at))
                .then_some((a.record_id, (person, *event)))
        })
        .collect();
    let ids: Vec<i64> = to_take_down.keys().copied().collect();
    for chunk in ids.chunks(500) {
        for r in record::Entity::find()
            .filter(record::Column::Id.is_in(chunk.to_vec()))
            .filter(record::Column::Visibility.is_in(["visible", "hidden"]))
            .all(txn)
            .await?
        {
            let (person, event) = to_take_down[&r.id];
            open_task(
                txn,
                &r,
                Some(person),
                TaskReason::ConsentWithdrawn,
                TaskAction::Remove,
                &format!("consent_event:{event}"),
            )
            .await?;
        }
    }
    Ok(())
}

async fn write_given<C: ConnectionTrait>(
    txn: &C,
    channel_id: i64,
    archived: &[Archived<'_>],
    policy_version: &str,
    withdrawn: &HashMap<i64, (DateTime<Utc>, i64)>,
) -> Result<u64, DbErr> {
    let at = now();
    let rows: Vec<consent_event::ActiveModel> = archived
        .iter()
        .filter_map(|a| {
            let (interaction, person) = interacting(a)?;
            // No time of its own: dated at a withdrawal that covers it, else when it arrived.
            let when = a
                .platform_time
                .or_else(|| withdrawn.get(&person).map(|(w, _)| *w))
                .unwrap_or(at);
            Some(consent_event::ActiveModel {
                identity_id: Set(person),
                channel_id: Set(channel_id),
                record_id: Set(Some(a.record_id)),
                event: Set(ConsentEvent::Given.as_str().to_owned()),
                interaction: Set(Some(interaction.as_str().to_owned())),
                purpose: Set(Purpose::PublicationOnChannel.as_str().to_owned()),
                at: Set(when),
                recorded_at: Set(at),
                policy_version: Set(policy_version.to_owned()),
                actor: Set(None),
                note: Set(None),
                ..Default::default()
            })
        })
        .collect();
    let n = rows.len() as u64;
    for chunk in rows.chunks(500) {
        consent_event::Entity::insert_many(chunk.to_vec())
            .exec_without_returning(txn)
            .await?;
    }
    Ok(n)
}

/// The identity's ledger, oldest first; `None` when there is no such identity.
pub async fn history(
    db: &DatabaseConnection,
    identity_id: i64,
) -> Result<Option<Vec<consent_event::Model>>, DbErr> {
    if entities::identity::Entity::find_by_id(identity_id)
        .one(db)
        .await?
        .is_none()
    {
        return Ok(None);
    }
    consent_event::Entity::find()
        .filter(consent_event::Column::IdentityId.eq(identity_id))
        .order_by_asc(consent_event::Column::At)
        // At one instant a withdrawal comes after what it withdraws ("given" < "withdrawn").
        .order_by_asc(consent_event::Column::Event)
        .order_by_asc(consent_event::Column::Id)
        .all(db)
        .await
        .map(Some)
}

pub struct Withdraw {
    pub identity_id: i64,
    /// One channel, or every channel the person interacted on.
    pub channel_id: Option<i64>,
    pub note: Option<String>,
    /// Where the withdrawal came from when not an officer's own action, e.g. `request:12`.
    pub source: Option<String>,
}

pub struct Withdrawal {
    pub events: Vec<consent_event::Model>,
    pub tasks: Vec<unpublish_task::Model>,
}

#[derive(Debug, thiserror::Error)]
pub enum ConsentError {
    #[error("no identity {0}")]
    NoIdentity(i64),
    #[error("no channel {0}")]
    NoChannel(i64),
    #[error("no unpublish task {0}")]
    NoTask(i64),
    #[error("the task is closed already ({0})")]
    Closed(String),
    #[error(transparent)]
    Db(#[from] DbErr),
}

/// Records the withdrawal and opens an unpublish task for each place on the channel where the
/// person's content still shows. The archived records are not touched.
pub async fn withdraw(
    db: &DatabaseConnection,
    w: Withdraw,
    actor: &Actor,
) -> Result<Withdrawal, ConsentError> {
    let txn = db.begin().await?;
    let done = withdraw_in(&txn, w, actor).await?;
    txn.commit().await?;
    Ok(done)
}

/// [`withdraw`] inside the caller's transaction (a citizen's verified request carries it out).
pub async fn withdraw_in<C: ConnectionTrait>(
    txn: &C,
    w: Withdraw,
    actor: &Actor,
) -> Result<Withdrawal, ConsentError> {
    identity::Entity::find_by_id(w.identity_id)
        .one(txn)
        .await?
        .ok_or(ConsentError::NoIdentity(w.identity_id))?;
    let channels: BTreeSet<i64> = match w.channel_id {
        Some(c) => {
            channel::Entity::find_by_id(c)
                .one(txn)
                .await?
                .ok_or(ConsentError::NoChannel(c))?;
            BTreeSet::from([c])
        }
        None => record::Entity::find()
            .select_only()
            .column(record::Column::ChannelId)
            .filter(record::Column::AuthorIdentityId.eq(w.identity_id))
            .distinct()
            .into_tuple::<i64>()
            .all(txn)
            .await?
            .into_iter()
            .chain(
                consent_event::Entity::find()
                    .select_only()
                    .column(consent_event::Column::ChannelId)
                    .filter(consent_event::Column::IdentityId.eq(w.identity_id))
                    .distinct()
                    .into_tuple::<i64>()
                    .all(txn)
                    .await?,
            )
            .collect(),
    };
    let at = now();
    let mut events = Vec::new();
    for c in &channels {
        events.push(
            consent_event::ActiveModel {
                identity_id: Set(w.identity_id),
                channel_id: Set(*c),
                record_id: Set(None),
                event: Set(ConsentEvent::Withdrawn.as_str().to_owned()),
                interaction: Set(None),
                purpose: Set(Purpose::PublicationOnChannel.as_str().to_owned()),
                at: Set(at),
                recorded_at: Set(at),
                policy_version: Set(String::new()),
                actor: Set(Some(w.source.clone().unwrap_or_else(|| actor.id.clone()))),
                note: Set(w.note.clone()),
                ..Default::default()
            }
            .insert(txn)
            .await?,
        );
    }
    let mut tasks = Vec::new();
    for c in &channels {
        let shown = record::Entity::find()
            .filter(record::Column::AuthorIdentityId.eq(w.identity_id))
            .filter(record::Column::ChannelId.eq(*c))
            .filter(record::Column::Kind.is_in(Interaction::PUBLISHED.map(|i| i.as_str())))
            .filter(record::Column::Visibility.is_in(["visible", "hidden"]))
            .order_by_asc(record::Column::Id)
            .all(txn)
            .await?;
        for r in shown {
            let source = format!(
                "consent_event:{}",
                events
                    .iter()
                    .find(|e| e.channel_id == *c)
                    .map_or(0, |e| e.id)
            );
            if let Some(t) = open_task(
                txn,
                &r,
                Some(w.identity_id),
                TaskReason::ConsentWithdrawn,
                TaskAction::Remove,
                &source,
            )
            .await?
            {
                tasks.push(t);
            }
        }
    }
    audit::append(
        txn,
        actor,
        NewEntry {
            action: "consent.withdraw",
            target: format!("identity:{}", w.identity_id),
            details: serde_json::json!({
                "channels": channels,
                "events": events.iter().map(|e| e.id).collect::<Vec<_>>(),
                "unpublish_tasks": tasks.iter().map(|t| t.id).collect::<Vec<_>>(),
                "source": w.source,
            }),
        },
    )
    .await?;
    Ok(Withdrawal { events, tasks })
}

/// Opens a task to take `r` down on the platform, unless one is open for it already.
pub async fn open_task<C: ConnectionTrait>(
    txn: &C,
    r: &record::Model,
    identity_id: Option<i64>,
    reason: TaskReason,
    action: TaskAction,
    source: &str,
) -> Result<Option<unpublish_task::Model>, DbErr> {
    let open = unpublish_task::Entity::find()
        .filter(unpublish_task::Column::RecordId.eq(r.id))
        .filter(unpublish_task::Column::Status.eq(TaskStatus::Open.as_str()))
        .filter(unpublish_task::Column::Action.eq(action.as_str()))
        .one(txn)
        .await?;
    if open.is_some() {
        return Ok(None);
    }
    let platform = channel::Entity::find_by_id(r.channel_id)
        .one(txn)
        .await?
        .map_or_else(|| "other".to_owned(), |c| c.platform);
    let link = item_link(
        &platform,
        &r.kind,
        &r.platform_id,
        r.parent_platform_id.as_deref(),
    );
    unpublish_task::ActiveModel {
        record_id: Set(Some(r.id)),
        channel_id: Set(r.channel_id),
        identity_id: Set(identity_id),
        reason: Set(reason.as_str().to_owned()),
        action: Set(action.as_str().to_owned()),
        link: Set(link),
        source: Set(Some(source.to_owned())),
        status: Set(TaskStatus::Open.as_str().to_owned()),
        note: Set(None),
        created_at: Set(now()),
        closed_at: Set(None),
        closed_by: Set(None),
        ..Default::default()
    }
    .insert(txn)
    .await
    .map(Some)
}

pub async fn list_tasks(
    db: &DatabaseConnection,
    status: Option<TaskStatus>,
    after_id: Option<i64>,
    limit: u64,
) -> Result<Vec<unpublish_task::Model>, DbErr> {
    let mut q = unpublish_task::Entity::find().order_by_asc(unpublish_task::Column::Id);
    if let Some(s) = status {
        q = q.filter(unpublish_task::Column::Status.eq(s.as_str()));
    }
    if let Some(a) = after_id {
        q = q.filter(unpublish_task::Column::Id.gt(a));
    }
    q.limit(limit).all(db).await
}

/// Forgets what closed tasks took down, once their records are erased: the link (which names the
/// item on the platform) and the person. An open task keeps both until it is closed: the team
/// needs them to take the item down.
pub async fn forget_closed_tasks_of<C: ConnectionTrait>(
    txn: &C,
    record_ids: &[i64],
) -> Result<(), DbErr> {
    for chunk in record_ids.chunks(500) {
        unpublish_task::Entity::update_many()
            .col_expr(unpublish_task::Column::Link, "".into())
            .col_expr(
                unpublish_task::Column::IdentityId,
                Option::<i64>::None.into(),
            )
            .filter(unpublish_task::Column::RecordId.is_in(chunk.to_vec()))
            .filter(unpublish_task::Column::Status.ne(TaskStatus::Open.as_str()))
            .exec(txn)
            .await?;
    }
    Ok(())
}

/// Closes an open task as done, or as not possible with the reason why. A task whose record was
/// erased meanwhile forgets, as it closes, what it took down (see [`forget_closed_tasks_of`]).
pub async fn close_task(
    db: &DatabaseConnection,
    id: i64,
    status: TaskStatus,
    note: Option<String>,
    actor: &Actor,
) -> Result<unpublish_task::Model, ConsentError> {
    let txn = db.begin().await?;
    // In turn with erasures and disposals, which forget what closed tasks took down: a close
    // that read its record as held must not commit after the record was erased.
    crate::db::lock_archive(&txn).await?;
    // Under the row's lock on PostgreSQL: of two closes at once, the second sees the first's.
    let mut q = unpublish_task::Entity::find_by_id(id);
    if txn.get_database_backend() == sea_orm::DbBackend::Postgres {
        q = q.lock_exclusive();
    }
    let task = q.one(&txn).await?.ok_or(ConsentError::NoTask(id))?;
    if task.status != TaskStatus::Open.as_str() {
        return Err(ConsentError::Closed(task.status));
    }
    let erased = match task.record_id {
        Some(r) => crate::archive::store::held_records()
            .filter(record::Column::Id.eq(r))
            .one(&txn)
            .await?
            .is_none(),
        None => true,
    };
    let mut a: unpublish_task::ActiveModel = task.into();
    if erased {
        a.link = Set(String::new());
        a.identity_id = Set(None);
    }
    a.status = Set(status.as_str().to_owned());
    a.note = Set(note);
    a.closed_at = Set(Some(now()));
    a.closed_by = Set(Some(actor.id.clone()));
    let task = a.update(&txn).await?;
    audit::append(
        &txn,
        actor,
        NewEntry {
            action: "unpublish_task.close",
            target: format!("unpublish_task:{id}"),
            details: serde_json::json!({"status": status.as_str(), "record": task.record_id}),
        },
    )
    .await?;
    txn.commit().await?;
    Ok(task)
}
