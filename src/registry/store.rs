//! Registration numbers allocated gap-free per series and year, moderation decisions, blocks.
use super::rules::{CommentRule, ModerationAction, RegistrationReason, format_number};
use crate::archive::rules::ModerationMark;
use crate::audit::{self, Actor, NewEntry, now};
use crate::consent::rules::{TaskAction, TaskReason};
use chrono::Datelike;
use entities::{identity_block, moderation, record, registration};
use sea_orm::{
    ActiveModelTrait, ColumnTrait, ConnectionTrait, DatabaseConnection, DbBackend, DbErr,
    EntityTrait, QueryFilter, QueryOrder, QuerySelect, Set, Statement, TransactionTrait,
};

/// Where numbers come from: the series and how a number is written.
#[derive(Clone, Debug)]
pub struct Numbering {
    pub series: String,
    pub pattern: String,
    /// Years turn at midnight where the municipality is.
    pub time_zone: chrono_tz::Tz,
}

/// The next `n` sequences of `series` in `year`, taken at once. The counter row is locked until
/// the caller's transaction ends, so concurrent allocations queue and a rolled-back one leaves no
/// gap.
async fn next_seqs<C: ConnectionTrait>(
    txn: &C,
    series: &str,
    year: i32,
    n: i64,
) -> Result<std::ops::Range<i64>, DbErr> {
    let backend = txn.get_database_backend();
    let (ins, upd) = match backend {
        DbBackend::Postgres => (
            "INSERT INTO registration_counter (series, year, last) VALUES ($1, $2, 0) ON CONFLICT (series, year) DO NOTHING",
            "UPDATE registration_counter SET last = last + $3 WHERE series = $1 AND year = $2 RETURNING last",
        ),
        _ => (
            "INSERT INTO registration_counter (series, year, last) VALUES (?1, ?2, 0) ON CONFLICT (series, year) DO NOTHING",
            "UPDATE registration_counter SET last = last + ?3 WHERE series = ?1 AND year = ?2 RETURNING last",
        ),
    };
    txn.execute_raw(Statement::from_sql_and_values(
        backend,
        ins,
        [series.into(), year.into()],
    ))
    .await?;
    let row = txn
        .query_one_raw(Statement::from_sql_and_values(
            backend,
            upd,
            [series.into(), year.into(), n.into()],
        ))
        .await?
        .ok_or_else(|| DbErr::Custom("registration counter vanished".into()))?;
    let last: i64 = row.try_get("", "last")?;
    Ok(last - n + 1..last + 1)
}

pub struct NewRegistration {
    pub reason: RegistrationReason,
    pub record_id: Option<i64>,
    pub request_id: Option<i64>,
    pub title: String,
}

/// Allocates the next number and writes the registration, in the caller's transaction.
pub async fn register<C: ConnectionTrait>(
    txn: &C,
    numbering: &Numbering,
    new: NewRegistration,
    actor: &Actor,
) -> Result<registration::Model, DbErr> {
    let (row, _) = numbered(txn, numbering, vec![(new, actor)])
        .await?
        .pop()
        .ok_or_else(|| DbErr::Custom("a registration was not numbered".into()))?;
    row.insert(txn).await
}

/// Allocates consecutive numbers and writes the registrations in the given order, each by its
/// actor, in the caller's transaction; their numbers, in that order.
pub async fn register_many<C: ConnectionTrait>(
    txn: &C,
    numbering: &Numbering,
    new: Vec<(NewRegistration, &Actor)>,
) -> Result<Vec<String>, DbErr> {
    if new.is_empty() {
        return Ok(vec![]);
    }
    let (rows, numbers): (Vec<_>, Vec<_>) =
        numbered(txn, numbering, new).await?.into_iter().unzip();
    // Nothing comes back: the caller has the numbers, and on SQLite each returned row would cross
    // from its thread on its own.
    crate::db::insert_rows(txn, rows).await?;
    Ok(numbers)
}

/// The registrations' rows with their numbers, allocated in the order given.
async fn numbered<C: ConnectionTrait>(
    txn: &C,
    numbering: &Numbering,
    new: Vec<(NewRegistration, &Actor)>,
) -> Result<Vec<(registration::ActiveModel, String)>, DbErr> {
    let at = now();
    let year = at.with_timezone(&numbering.time_zone).year();
    let seqs = next_seqs(txn, &numbering.series, year, new.len() as i64).await?;
    Ok(new
        .into_iter()
        .zip(seqs)
        .map(|((new, actor), seq)| {
            let number = format_number(&numbering.pattern, &numbering.series, year, seq);
            let row = registration::ActiveModel {
                series: Set(numbering.series.clone()),
                year: Set(year),
                seq: Set(seq),
                number: Set(number.clone()),
                reason: Set(new.reason.as_str().to_owned()),
                record_id: Set(new.record_id),
                request_id: Set(new.request_id),
                title: Set(new.title),
                registered_at: Set(at),
                registered_by: Set(actor.id.clone()),
                ..Default::default()
            };
            (row, number)
        })
        .collect())
}

#[derive(Debug, thiserror::Error)]
pub enum RegistryError {
    #[error("no record {0}")]
    NoRecord(i64),
    #[error("record is registered already as {0}")]
    AlreadyRegistered(String),
    #[error("{field}: {reason}")]
    Invalid {
        field: &'static str,
        reason: &'static str,
    },
    #[error(transparent)]
    Db(#[from] DbErr),
}

/// Registers a record as an individual matter (enskilt ärende); the registration is a new version.
pub async fn register_record(
    db: &DatabaseConnection,
    numbering: &Numbering,
    record_id: i64,
    title: String,
    actor: &Actor,
) -> Result<registration::Model, RegistryError> {
    let txn = db.begin().await?;
    // The record gets a new version: in turn with imports, erasures and other decisions on it,
    // so that two at once cannot both find it unregistered.
    crate::db::lock_archive(&txn).await?;
    let rec = crate::archive::store::held_records()
        .filter(record::Column::Id.eq(record_id))
        .one(&txn)
        .await?
        .ok_or(RegistryError::NoRecord(record_id))?;
    if let Some(n) = rec.registration_number {
        return Err(RegistryError::AlreadyRegistered(n));
    }
    let reg = register(
        &txn,
        numbering,
        NewRegistration {
            reason: RegistrationReason::IndividualMatter,
            record_id: Some(record_id),
            request_id: None,
            title,
        },
        actor,
    )
    .await?;
    let number = reg.number.clone();
    crate::archive::store::amend(&txn, record_id, |c| {
        c.registration_number = Some(number);
    })
    .await?;
    audit::append(
        &txn,
        actor,
        NewEntry {
            action: "record.register",
            target: format!("record:{record_id}"),
            details: serde_json::json!({"registration": reg.id, "number": reg.number, "reason": reg.reason}),
        },
    )
    .await?;
    txn.commit().await?;
    Ok(reg)
}

pub struct NewModeration {
    pub rule: CommentRule,
    pub action: ModerationAction,
    pub note: Option<String>,
}

pub struct Moderated {
    pub moderation: moderation::Model,
    pub record: record::Model,
    pub unpublish_task_id: Option<i64>,
    pub blocked_identity_id: Option<i64>,
}

/// A rule-breaking record is saved (the archive keeps it, with the decision as a new version),
/// removed from the channel (an unpublish task) and registered; classified content is restricted
/// to officers. One transaction with its audit entry.
pub async fn moderate(
    db: &DatabaseConnection,
    numbering: &Numbering,
    record_id: i64,
    m: NewModeration,
    actor: &Actor,
) -> Result<Moderated, RegistryError> {
    let txn = db.begin().await?;
    // The record gets a new version: in turn with imports, erasures and other decisions on it,
    // so that two at once cannot both find it unregistered.
    crate::db::lock_archive(&txn).await?;
    let rec = crate::archive::store::held_records()
        .filter(record::Column::Id.eq(record_id))
        .one(&txn)
        .await?
        .ok_or(RegistryError::NoRecord(record_id))?;
    // The municipality's own record may break the rules (classified information in a reply),
    // but there is nobody to block for it: the author is the municipality's own account.
    if m.action == ModerationAction::BlockAuthor
        && rec.direction == crate::archive::rules::Direction::DrawnUp.as_str()
    {
        return Err(RegistryError::Invalid {
            field: "action",
            reason: "the municipality drew this record up: its author is the municipality's own account, which cannot be blocked",
        });
    }
    let number = match rec.registration_number.clone() {
        Some(n) => n,
        None => {
            register(
                &txn,
                numbering,
                NewRegistration {
                    reason: RegistrationReason::RuleBreaking,
                    record_id: Some(record_id),
                    request_id: None,
                    title: format!("Moderated {} ({})", rec.kind, m.rule.as_str()),
                },
                actor,
            )
            .await?
            .number
        }
    };
    let decided = moderation::ActiveModel {
        record_id: Set(record_id),
        rule: Set(m.rule.as_str().to_owned()),
        action: Set(m.action.as_str().to_owned()),
        note: Set(m.note),
        registration_number: Set(number.clone()),
        decided_by: Set(actor.id.clone()),
        decided_at: Set(now()),
        ..Default::default()
    }
    .insert(&txn)
    .await?;
    let mark = ModerationMark {
        rule: m.rule.as_str().to_owned(),
        action: m.action.as_str().to_owned(),
    };
    let mut rec = crate::archive::store::amend(&txn, record_id, |c| {
        c.moderation = Some(mark);
        c.registration_number = Some(number.clone());
    })
    .await?
    .ok_or(RegistryError::NoRecord(record_id))?;
    if m.rule.restricts() && !rec.classified {
        let mut a: record::ActiveModel = rec.into();
        a.classified = Set(true);
        rec = a.update(&txn).await?;
    }
    // Shown on the platform still: the team takes it down (hides it when that is the action).
    let task_action = if m.action == ModerationAction::Hide {
        TaskAction::Hide
    } else {
        TaskAction::Remove
    };
    let shown = match task_action {
        TaskAction::Hide => rec.visibility == "visible",
        TaskAction::Remove => rec.visibility == "visible" || rec.visibility == "hidden",
    };
    let task = if shown {
        crate::consent::open_task(
            &txn,
            &rec,
            rec.author_identity_id,
            TaskReason::Moderation,
            task_action,
            &format!("moderation:{}", decided.id),
        )
        .await?
    } else {
        None
    };
    let mut blocked = None;
    if let (ModerationAction::BlockAuthor, Some(author)) = (m.action, rec.author_identity_id) {
        let exists = identity_block::Entity::find()
            .filter(identity_block::Column::IdentityId.eq(author))
            .filter(identity_block::Column::ChannelId.eq(rec.channel_id))
            .one(&txn)
            .await?;
        if exists.is_none() {
            identity_block::ActiveModel {
                identity_id: Set(author),
                channel_id: Set(rec.channel_id),
                moderation_id: Set(Some(decided.id)),
                blocked_at: Set(now()),
                blocked_by: Set(actor.id.clone()),
                ..Default::default()
            }
            .insert(&txn)
            .await?;
        }
        blocked = Some(author);
    }
    audit::append(
        &txn,
        actor,
        NewEntry {
            action: "record.moderate",
            target: format!("record:{record_id}"),
            details: serde_json::json!({
                "moderation": decided.id,
                "rule": decided.rule,
                "action": decided.action,
                "registration_number": number,
                "unpublish_task": task.as_ref().map(|t| t.id),
                "blocked_identity": blocked,
                "classified": rec.classified,
            }),
        },
    )
    .await?;
    txn.commit().await?;
    Ok(Moderated {
        moderation: decided,
        record: rec,
        unpublish_task_id: task.map(|t| t.id),
        blocked_identity_id: blocked,
    })
}

pub async fn moderations_of(
    db: &DatabaseConnection,
    record_id: i64,
) -> Result<Vec<moderation::Model>, DbErr> {
    moderation::Entity::find()
        .filter(moderation::Column::RecordId.eq(record_id))
        .order_by_asc(moderation::Column::Id)
        .all(db)
        .await
}

pub async fn list_registrations(
    db: &DatabaseConnection,
    year: Option<i32>,
    after_id: Option<i64>,
    limit: u64,
) -> Result<Vec<registration::Model>, DbErr> {
    let mut q = registration::Entity::find().order_by_asc(registration::Column::Id);
    if let Some(y) = year {
        q = q.filter(registration::Column::Year.eq(y));
    }
    if let Some(a) = after_id {
        q = q.filter(registration::Column::Id.gt(a));
    }
    q.limit(limit).all(db).await
}

pub async fn list_blocks(db: &DatabaseConnection) -> Result<Vec<identity_block::Model>, DbErr> {
    identity_block::Entity::find()
        .order_by_asc(identity_block::Column::Id)
        .all(db)
        .await
}
