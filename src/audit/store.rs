//! Appending to, reading and verifying the audit log.
use super::rules::{self, Break, EntryFields, GENESIS};
use chrono::{DateTime, Utc};
use entities::audit_log;
use sea_orm::{
    ColumnTrait, ConnectionTrait, DatabaseConnection, DbBackend, DbErr, EntityTrait, QueryFilter,
    QueryOrder, QuerySelect, Set,
};

/// Who did it: a token (`token:ID`) or the command line (`cli`), and the role they acted in.
#[derive(Debug, Clone)]
pub struct Actor {
    pub id: String,
    pub role: String,
}

impl Actor {
    pub fn cli() -> Self {
        Actor {
            id: "cli".into(),
            role: "admin".into(),
        }
    }
}

pub struct NewEntry {
    pub action: &'static str,
    /// `kind:id`; ids only, never names, emails or message text.
    pub target: String,
    pub details: serde_json::Value,
}

/// Appends an entry inside the caller's transaction.
pub async fn append<C: ConnectionTrait>(
    txn: &C,
    actor: &Actor,
    entry: NewEntry,
) -> Result<(), DbErr> {
    append_many(txn, vec![(actor.clone(), entry)]).await
}

/// Appends entries in order inside the caller's transaction: the tail is read once and the
/// entries are chained onto it and written in one statement.
pub async fn append_many<C: ConnectionTrait>(
    txn: &C,
    entries: Vec<(Actor, NewEntry)>,
) -> Result<(), DbErr> {
    if entries.is_empty() {
        return Ok(());
    }
    // Two writers must not both chain onto the same tail. On PostgreSQL a transaction-scoped
    // advisory lock serialises appenders; SQLite already has a single writer.
    if txn.get_database_backend() == DbBackend::Postgres {
        txn.execute_unprepared("SELECT pg_advisory_xact_lock(7306752717)")
            .await?;
    }
    let mut prev_hash = audit_log::Entity::find()
        .order_by_desc(audit_log::Column::Id)
        .one(txn)
        .await?
        .map(|m| m.hash)
        .unwrap_or_else(|| GENESIS.to_owned());
    let mut rows = Vec::with_capacity(entries.len());
    for (actor, entry) in entries {
        let at = super::now();
        let details = entry.details.to_string();
        let hash = rules::entry_hash(
            &prev_hash,
            &EntryFields {
                at,
                actor: &actor.id,
                role: &actor.role,
                action: entry.action,
                target: &entry.target,
                details: &details,
            },
        );
        rows.push(audit_log::ActiveModel {
            at: Set(at),
            actor: Set(actor.id),
            role: Set(actor.role),
            action: Set(entry.action.to_owned()),
            target: Set(entry.target),
            details: Set(details),
            prev_hash: Set(std::mem::replace(&mut prev_hash, hash.clone())),
            hash: Set(hash),
            ..Default::default()
        });
    }
    // Nothing comes back: on SQLite each returned row would cross from its thread on its own.
    crate::db::insert_rows(txn, rows).await
}

#[derive(Debug, Default)]
pub struct Filter {
    pub target: Option<String>,
    pub action: Option<String>,
    pub actor: Option<String>,
    pub since: Option<DateTime<Utc>>,
    pub until: Option<DateTime<Utc>>,
    pub after_id: Option<i64>,
    pub limit: u64,
}

pub async fn list(db: &DatabaseConnection, f: &Filter) -> Result<Vec<audit_log::Model>, DbErr> {
    let mut q = audit_log::Entity::find().order_by_asc(audit_log::Column::Id);
    if let Some(a) = &f.action {
        q = q.filter(audit_log::Column::Action.eq(a.clone()));
    }
    if let Some(t) = &f.target {
        q = q.filter(audit_log::Column::Target.eq(t.clone()));
    }
    if let Some(a) = &f.actor {
        q = q.filter(audit_log::Column::Actor.eq(a.clone()));
    }
    if let Some(s) = f.since {
        q = q.filter(audit_log::Column::At.gte(s));
    }
    if let Some(u) = f.until {
        q = q.filter(audit_log::Column::At.lt(u));
    }
    if let Some(a) = f.after_id {
        q = q.filter(audit_log::Column::Id.gt(a));
    }
    q.limit(f.limit).all(db).await
}

pub struct Verdict {
    pub checked: u64,
    pub first_broken: Option<(i64, Break)>,
    /// The last entry's id and hash: kept outside the service (a report, the diarium), they are
    /// the anchor a later verification checks the chain still reaches.
    pub head: Option<(i64, String)>,
}

/// Walks the whole chain in id order, a page at a time so memory stays flat. With an `anchor`
/// (an entry's id and hash, read off an earlier verification), the chain must still hold that
/// entry with that hash: a chain whose newest entries were deleted, or which was rewritten and
/// hashed again by someone with the database in hand, links up by itself, but not to the anchor.
pub async fn verify(
    db: &DatabaseConnection,
    anchor: Option<(i64, &str)>,
) -> Result<Verdict, DbErr> {
    const PAGE: u64 = 1000;
    let mut expected_prev = GENESIS.to_owned();
    let mut after = 0_i64;
    let mut checked = 0_u64;
    loop {
        let rows = audit_log::Entity::find()
            .filter(audit_log::Column::Id.gt(after))
            .order_by_asc(audit_log::Column::Id)
            .limit(PAGE)
            .all(db)
            .await?;
        if rows.is_empty() {
            let head = (after > 0).then(|| (after, expected_prev.clone()));
            // The anchor lies beyond the chain's end: what followed it is gone.
            if let Some((id, _)) = anchor.filter(|(id, _)| *id > after) {
                return Ok(Verdict {
                    checked,
                    first_broken: Some((id, Break::Anchor)),
                    head,
                });
            }
            return Ok(Verdict {
                checked,
                first_broken: None,
                head,
            });
        }
        for r in rows {
            let fields = EntryFields {
                at: r.at,
                actor: &r.actor,
                role: &r.role,
                action: &r.action,
                target: &r.target,
                details: &r.details,
            };
            checked += 1;
            let broken =
                rules::check(&expected_prev, &r.prev_hash, &r.hash, &fields).or(match anchor {
                    // Passed over: the anchor's entry was removed.
                    Some((id, _)) if after < id && id < r.id => Some(Break::Anchor),
                    Some((id, hash)) if id == r.id && hash != r.hash => Some(Break::Anchor),
                    _ => None,
                });
            if let Some(b) = broken {
                let id = match (b, anchor) {
                    (Break::Anchor, Some((id, _))) => id,
                    _ => r.id,
                };
                return Ok(Verdict {
                    checked,
                    first_broken: Some((id, b)),
                    head: None,
                });
            }
            expected_prev = r.hash;
            after = r.id;
        }
    }
}
