//! Disposal decisions, legal holds and the disposal run, over `disposal_decision`, `legal_hold`
//! and the archive's records.
use super::rules::{
    Decision, Disposal, DisposalRule, Hold, HoldScope, Keep, RecordFacts, Retention, disposal_of,
    retention_of,
};
use crate::audit::{self, Actor, NewEntry, now};
use chrono::NaiveDate;
use entities::{channel, disposal_decision, identity, legal_hold, record};
use sea_orm::{
    ActiveModelTrait, ColumnTrait, ConnectionTrait, DatabaseConnection, DbErr, EntityTrait,
    PaginatorTrait, QueryFilter, QueryOrder, QuerySelect, Set, TransactionTrait,
};
use std::collections::BTreeMap;

#[derive(Debug, thiserror::Error)]
pub enum RetentionError {
    #[error("a disposal decision {0} exists already")]
    DecisionExists(String),
    #[error("{field}: {reason}")]
    Invalid { field: String, reason: String },
    #[error(transparent)]
    Db(#[from] DbErr),
}

fn invalid(field: impl Into<String>, reason: impl Into<String>) -> RetentionError {
    RetentionError::Invalid {
        field: field.into(),
        reason: reason.into(),
    }
}

pub struct NewDecision {
    pub reference: String,
    pub title: String,
    pub decided_on: NaiveDate,
    pub rules: Vec<DisposalRule>,
}

pub async fn create_decision(
    db: &DatabaseConnection,
    d: NewDecision,
    actor: &Actor,
) -> Result<disposal_decision::Model, RetentionError> {
    let txn = db.begin().await?;
    for (i, rule) in d.rules.iter().enumerate() {
        if let Err(why) = Keep::parse(&rule.keep) {
            return Err(invalid(format!("rules/{i}/keep"), why));
        }
        if let Some(c) = rule.channel_id
            && channel::Entity::find_by_id(c).one(&txn).await?.is_none()
        {
            return Err(invalid(
                format!("rules/{i}/channel_id"),
                format!("there is no channel {c}"),
            ));
        }
    }
    let exists = disposal_decision::Entity::find()
        .filter(disposal_decision::Column::Reference.eq(d.reference.clone()))
        .one(&txn)
        .await?;
    if exists.is_some() {
        return Err(RetentionError::DecisionExists(d.reference));
    }
    let created = disposal_decision::ActiveModel {
        reference: Set(d.reference),
        title: Set(d.title),
        decided_on: Set(d.decided_on),
        rules: Set(serde_json::to_string(&d.rules).unwrap_or_else(|_| "[]".into())),
        created_at: Set(now()),
        created_by: Set(actor.id.clone()),
        ..Default::default()
    }
    .insert(&txn)
    .await?;
    audit::append(
        &txn,
        actor,
        NewEntry {
            action: "retention.decision.create",
            target: format!("disposal_decision:{}", created.id),
            details: serde_json::json!({"reference": created.reference, "rules": d.rules}),
        },
    )
    .await?;
    txn.commit().await?;
    Ok(created)
}

pub async fn list_decisions(
    db: &DatabaseConnection,
) -> Result<Vec<disposal_decision::Model>, DbErr> {
    disposal_decision::Entity::find()
        .order_by_asc(disposal_decision::Column::Id)
        .all(db)
        .await
}

pub struct NewHold {
    pub reason: String,
    pub scope: HoldScope,
    pub from: NaiveDate,
    pub until: Option<NaiveDate>,
}

pub async fn create_hold(
    db: &DatabaseConnection,
    h: NewHold,
    actor: &Actor,
) -> Result<legal_hold::Model, RetentionError> {
    if h.until.is_some_and(|u| u < h.from) {
        return Err(invalid("until", "must not be before `from`"));
    }
    let txn = db.begin().await?;
    // In turn with a disposal run (which holds the lock from reading the holds to deleting): a
    // hold answered 201 covers its records from then on, even against a run already going.
    crate::db::lock_archive(&txn).await?;
    let (scope, record_ids, identity_id, channel_id) = match &h.scope {
        HoldScope::Records(ids) => {
            if ids.is_empty() {
                return Err(invalid("record_ids", "name at least one record"));
            }
            let found = crate::archive::store::held_records()
                .filter(record::Column::Id.is_in(ids.iter().copied()))
                .count(&txn)
                .await?;
            let mut distinct = ids.clone();
            distinct.sort_unstable();
            distinct.dedup();
            if found != distinct.len() as u64 {
                return Err(invalid("record_ids", "names a record that does not exist"));
            }
            (
                "records",
                Some(serde_json::to_string(&distinct).unwrap_or_default()),
                None,
                None,
            )
        }
        HoldScope::Identity(i) => {
            if identity::Entity::find_by_id(*i).one(&txn).await?.is_none() {
                return Err(invalid("identity_id", format!("there is no identity {i}")));
            }
            ("identity", None, Some(*i), None)
        }
        HoldScope::Channel(c) => {
            if channel::Entity::find_by_id(*c).one(&txn).await?.is_none() {
                return Err(invalid("channel_id", format!("there is no channel {c}")));
            }
            ("channel", None, None, Some(*c))
        }
    };
    let created = legal_hold::ActiveModel {
        reason: Set(h.reason),
        scope: Set(scope.to_owned()),
        record_ids: Set(record_ids),
        identity_id: Set(identity_id),
        channel_id: Set(channel_id),
        holds_from: Set(h.from),
        holds_until: Set(h.until),
        created_at: Set(now()),
        created_by: Set(actor.id.clone()),
        ..Default::default()
    }
    .insert(&txn)
    .await?;
    audit::append(
        &txn,
        actor,
        NewEntry {
            action: "retention.hold.create",
            target: format!("legal_hold:{}", created.id),
            details: serde_json::json!({"scope": scope, "from": created.holds_from, "until": created.holds_until}),
        },
    )
    .await?;
    txn.commit().await?;
    Ok(created)
}

pub async fn list_holds(db: &DatabaseConnection) -> Result<Vec<legal_hold::Model>, DbErr> {
    legal_hold::Entity::find()
        .order_by_asc(legal_hold::Column::Id)
        .all(db)
        .await
}

pub fn hold_of(h: &legal_hold::Model) -> Hold {
    let scope = match (h.scope.as_str(), h.identity_id, h.channel_id) {
        ("identity", Some(i), _) => HoldScope::Identity(i),
        ("channel", _, Some(c)) => HoldScope::Channel(c),
        _ => HoldScope::Records(
            h.record_ids
                .as_deref()
                .and_then(|s| serde_json::from_str(s).ok())
                .unwrap_or_default(),
        ),
    };
    Hold {
        id: h.id,
        scope,
        from: h.holds_from,
        until: h.holds_until,
    }
}

/// The disposal decisions as the rules read them.
pub async fn decisions<C: ConnectionTrait>(db: &C) -> Result<Vec<Decision>, DbErr> {
    Ok(disposal_decision::Entity::find()
        .order_by_asc(disposal_decision::Column::Id)
        .all(db)
        .await?
        .into_iter()
        .map(|d| Decision {
            id: d.id,
            reference: d.reference,
            decided_on: d.decided_on,
            rules: serde_json::from_str(&d.rules).unwrap_or_default(),
        })
        .collect())
}

/// The decisions and holds as the rules read them.
pub async fn load<C: ConnectionTrait>(db: &C) -> Result<(Vec<Decision>, Vec<Hold>), DbErr> {
    let holds = legal_hold::Entity::find()
        .all(db)
        .await?
        .iter()
        .map(hold_of)
        .collect();
    Ok((decisions(db).await?, holds))
}

/// The facts retention goes by; days are the municipality's, in `tz`.
pub fn facts(r: &record::Model, tz: chrono_tz::Tz) -> RecordFacts<'_> {
    RecordFacts {
        id: r.id,
        kind: &r.kind,
        direction: &r.direction,
        channel_id: r.channel_id,
        registered: r.registration_number.is_some(),
        author_identity_id: r.author_identity_id,
        recipient_identity_id: r.recipient_identity_id,
        made_on: r
            .platform_time
            .unwrap_or(r.archived_at)
            .with_timezone(&tz)
            .date_naive(),
    }
}

/// A record's retention as shown on it: the governing decision and date, and the holds in force.
pub struct RecordRetention {
    pub retention: Retention,
    pub held_by: Vec<i64>,
    /// A registered record is never swept by a disposal run, whatever the decision says: it
    /// leaves the archive only through the registry.
    pub registered: bool,
}

pub async fn retention_of_record<C: ConnectionTrait>(
    db: &C,
    r: &record::Model,
    today: NaiveDate,
    tz: chrono_tz::Tz,
) -> Result<RecordRetention, DbErr> {
    let (decisions, holds) = load(db).await?;
    let f = facts(r, tz);
    Ok(RecordRetention {
        registered: f.registered,
        retention: retention_of(&f, &decisions),
        held_by: holds
            .iter()
            .filter(|h| h.covers(&f, today))
            .map(|h| h.id)
            .collect(),
    })
}

/// What a disposal run found (and, when executed, deleted): record ids per decision.
#[derive(Debug, Default)]
pub struct DisposalRun {
    pub executed: bool,
    pub today: Option<NaiveDate>,
    pub checked: u64,
    pub by_decision: BTreeMap<String, Vec<i64>>,
}

impl DisposalRun {
    pub fn disposed(&self) -> usize {
        self.by_decision.values().map(Vec::len).sum()
    }
}

/// Files `r` under the reference of the decision that allows its disposal today, if one does.
fn file_if_due(
    r: &record::Model,
    tz: chrono_tz::Tz,
    decisions: &[Decision],
    holds: &[Hold],
    today: NaiveDate,
    by_decision: &mut BTreeMap<String, Vec<i64>>,
) {
    if let Disposal::Dispose { decision_id } = disposal_of(&facts(r, tz), decisions, holds, today)
        && let Some(d) = decisions.iter().find(|d| d.id == decision_id)
    {
        by_decision
            .entry(d.reference.clone())
            .or_default()
            .push(r.id);
    }
}

/// Finds the records whose disposal date has passed, that no hold covers and that are not
/// registered; with `execute`, deletes them (their versions go with them) in one transaction
/// and writes the ids per decision to the audit log. Content never reaches the log.
pub async fn dispose(
    db: &DatabaseConnection,
    today: NaiveDate,
    tz: chrono_tz::Tz,
    execute: bool,
    actor: &Actor,
) -> Result<DisposalRun, DbErr> {
    // The scan reads the whole archive and holds no lock: imports, erasures and holds go on
    // while it runs. Before anything is deleted, only what it found is read again, under the
    // archive's lock.
    let (decisions, holds) = load(db).await?;
    let mut run = DisposalRun {
        executed: execute,
        today: Some(today),
        ..Default::default()
    };
    if !decisions.is_empty() {
        let mut last = 0i64;
        loop {
            // A tombstone is not disposed of: the kept records that answer it point at it.
            let page = crate::archive::store::held_records()
                .filter(record::Column::Id.gt(last))
                .order_by_asc(record::Column::Id)
                .limit(5000)
                .all(db)
                .await?;
            let Some(tail) = page.last() else { break };
            last = tail.id;
            run.checked += page.len() as u64;
            for r in &page {
                file_if_due(r, tz, &decisions, &holds, today, &mut run.by_decision);
            }
        }
    }
    if !execute {
        return Ok(run);
    }
    let txn = db.begin().await?;
    // A hold, a registration or an erasure that came while the scan ran is seen now: holds and
    // imports wait for the run from here to its commit.
    crate::db::lock_archive(&txn).await?;
    let (decisions, holds) = load(&txn).await?;
    let found: Vec<i64> = std::mem::take(&mut run.by_decision)
        .into_values()
        .flatten()
        .collect();
    for chunk in found.chunks(500) {
        for r in crate::archive::store::held_records()
            .filter(record::Column::Id.is_in(chunk.to_vec()))
            .order_by_asc(record::Column::Id)
            .all(&txn)
            .await?
        {
            file_if_due(&r, tz, &decisions, &holds, today, &mut run.by_decision);
        }
    }
    let all: Vec<i64> = run.by_decision.values().flatten().copied().collect();
    let mut consent_events = 0;
    for chunk in all.chunks(500) {
        // A disposed record's consent entries go with it: kept without it they would name the
        // person's interaction with nothing, where no erasure plan looks for them.
        consent_events += entities::consent_event::Entity::delete_many()
            .filter(entities::consent_event::Column::RecordId.is_in(chunk.iter().copied()))
            .exec(&txn)
            .await?
            .rows_affected;
    }
    // A record that a kept one answers (a registered reply, a reply under a hold) stays as a
    // tombstone: disposing of the parent must not change the kept reply. Closed unpublish tasks
    // forget what they took down, as after an erasure.
    crate::consent::forget_closed_tasks_of(&txn, &all).await?;
    crate::archive::store::remove(&txn, &all).await?;
    audit::append(
        &txn,
        actor,
        NewEntry {
            action: "archive.dispose",
            target: format!("disposal:{today}"),
            details: serde_json::json!({
                "checked": run.checked,
                "consent_events": consent_events,
                "disposed": run.by_decision.iter().map(|(k, v)| (k.clone(), serde_json::json!({"count": v.len(), "records": v}))).collect::<serde_json::Map<_, _>>(),
            }),
        },
    )
    .await?;
    txn.commit().await?;
    Ok(run)
}
