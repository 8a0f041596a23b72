//! Erasure plans over `erasure_plan` and `erasure_item`, their execution, and the `suppression`
//! list. Computing a plan changes nothing; approving executes it in one transaction with the
//! request's completion, its mail, its history and its audit entry, or not at all.
use super::rules::{
    Ground, HoldFacts, ItemDecision, ItemKey, ItemKind, Outcome, Params, PlanStatus, Policy,
    SuppressionKey, SuppressionKind, decide_record, differences, fingerprint, is_published,
};
use crate::archive::rules::object_key;
use crate::audit::{Actor, now};
use crate::consent::rules::{TaskAction, TaskReason, TaskStatus, item_link};
use crate::mail::rules::Language;
use crate::requests::rules::{Action, RequestType, Status};
use crate::requests::{RequestError, event, language_of, lock, log, move_to, send, status_of};
use chrono::NaiveDate;
use entities::{
    channel, consent_event, erasure_item, erasure_plan, identity, identity_block, legal_hold,
    moderation, package, record, request, suppression, unpublish_task,
};
use sea_orm::sea_query::Expr;
use sea_orm::{
    ActiveModelTrait, ColumnTrait, ConnectionTrait, DatabaseConnection, DatabaseTransaction, DbErr,
    EntityTrait, QueryFilter, QueryOrder, QuerySelect, Set, TransactionTrait,
};
use std::collections::{BTreeMap, HashMap, HashSet};
use std::sync::Arc;

/// Rows per multi-row statement, well inside both stores' parameter limits.
const CHUNK: usize = 500;

/// What erasure needs from the settings.
#[derive(Clone, Debug)]
pub struct Context {
    pub policy: Arc<Policy>,
    pub key: SuppressionKey,
    pub requests: crate::requests::store::Context,
    pub packages: crate::packages::Storage,
}

#[derive(Debug, thiserror::Error)]
pub enum ErasureError {
    #[error(transparent)]
    Request(#[from] RequestError),
    #[error("request {0} has no erasure plan yet")]
    NoPlan(i64),
    #[error("the plan has no item {0}")]
    NoItem(i64),
}

impl From<DbErr> for ErasureError {
    fn from(e: DbErr) -> Self {
        ErasureError::Request(RequestError::Db(e))
    }
}

fn illegal(why: impl Into<String>) -> ErasureError {
    ErasureError::Request(RequestError::Illegal(why.into()))
}

/// A plan as shown: its items in order, and what executing it changed, if it was executed.
pub struct PlanView {
    pub plan: erasure_plan::Model,
    pub items: Vec<erasure_item::Model>,
    /// Unpublish tasks of the plan's publication items, by id: their state now.
    pub tasks: HashMap<i64, unpublish_task::Model>,
}

/// One item as computed, before it is stored.
struct NewItem {
    kind: ItemKind,
    target_id: Option<i64>,
    label: String,
    decision: ItemDecision,
    ground: Ground,
    params: Params,
}

impl NewItem {
    fn key(&self) -> ItemKey {
        ItemKey {
            kind: self.kind.as_str().into(),
            target_id: self.target_id,
            decision: self.decision.as_str().into(),
            ground: self.ground.as_str().into(),
            until: self.params.date.or(self.params.until),
            reference: self.params.reference.clone(),
            count: self.params.count,
        }
    }
}

fn key_of(i: &erasure_item::Model) -> ItemKey {
    ItemKey {
        kind: i.kind.clone(),
        target_id: i.target_id,
        decision: i.decision.clone(),
        ground: i.ground.clone(),
        until: i.until,
        reference: i.reference.clone(),
        count: i.count,
    }
}

/// Everything held about the person on the request's verified accounts, one decision each; and
/// their records as read, for the execution to use rather than read again.
async fn compute<C: ConnectionTrait>(
    db: &C,
    ctx: &Context,
    r: &request::Model,
    today: NaiveDate,
) -> Result<(Vec<NewItem>, Vec<record::Model>), ErasureError> {
    let lang = language_of(r);
    let policy = &ctx.policy;
    crate::requests::link_accounts(db, r.id).await?;
    let identities = crate::packages::build::verified_identities(db, r.id).await?;
    if identities.is_empty() {
        return Err(illegal(
            "no account of the person is verified yet: verify one first",
        ));
    }
    let ids: Vec<i64> = identities.iter().map(|i| i.id).collect();
    // A heavy identity has a thousand records or more: on SQLite they come as one JSON row.
    let records = crate::archive::store::fetch_records(
        db,
        record::Entity::find()
            .filter(crate::archive::store::records_of(&ids))
            .order_by_asc(record::Column::Id),
    )
    .await?;
    let record_ids: Vec<i64> = records.iter().map(|r| r.id).collect();
    let mut moderated: HashSet<i64> = HashSet::new();
    for chunk in record_ids.chunks(CHUNK) {
        moderated.extend(
            moderation::Entity::find()
                .filter(moderation::Column::RecordId.is_in(chunk.to_vec()))
                .all(db)
                .await?
                .into_iter()
                .map(|m| m.record_id),
        );
    }
    let decisions = crate::retention::store::decisions(db).await?;
    // The rules' holds, and the rows behind them for the reason the person is told.
    // In id order, so that of several holds over a record the same one is named every time.
    let hold_rows: BTreeMap<i64, legal_hold::Model> = legal_hold::Entity::find()
        .all(db)
        .await?
        .into_iter()
        .map(|h| (h.id, h))
        .collect();
    let holds: Vec<_> = hold_rows
        .values()
        .map(crate::retention::store::hold_of)
        .collect();

    let mut items = Vec::with_capacity(records.len() * 2 + 4);
    let mut publications = Vec::new();
    let mut erased: HashSet<i64> = HashSet::new();
    let mut kept_by: HashSet<i64> = HashSet::new();
    for rec in &records {
        let facts = crate::retention::store::facts(rec, ctx.requests.time_zone);
        let holding = holds
            .iter()
            .find(|h| h.covers(&facts, today))
            .and_then(|h| hold_rows.get(&h.id))
            .map(|h| HoldFacts {
                id: h.id,
                reason: h.reason.clone(),
                until: h.holds_until,
            });
        let d = decide_record(
            policy,
            &facts,
            rec.registration_number.as_deref(),
            moderated.contains(&rec.id),
            holding.as_ref(),
            &decisions,
            today,
        );
        let label = policy.label(&rec.kind, lang, Some(facts.made_on));
        if d.decision == ItemDecision::Erase {
            erased.insert(rec.id);
        } else {
            // A kept message sent to the person names them as well as one they wrote.
            kept_by.extend(rec.author_identity_id);
            kept_by.extend(rec.recipient_identity_id);
        }
        if is_published(&rec.kind, &rec.visibility) {
            publications.push(NewItem {
                kind: ItemKind::Publication,
                target_id: Some(rec.id),
                label: label.clone(),
                decision: ItemDecision::Unpublish,
                ground: Ground::Publication,
                params: Params::default(),
            });
        }
        items.push(NewItem {
            kind: ItemKind::Record,
            target_id: Some(rec.id),
            label,
            decision: d.decision,
            ground: d.ground,
            params: d.params,
        });
    }
    items.extend(publications);

    for i in &identities {
        let label = match lang {
            Language::Sv => format!("Profiluppgifter ({})", i.platform),
            Language::En => format!("Profile details ({})", i.platform),
        };
        items.push(NewItem {
            kind: ItemKind::Profile,
            target_id: Some(i.id),
            label,
            decision: ItemDecision::Erase,
            ground: Ground::ProfileDetails,
            params: Params {
                // Whether the name goes too: only when no kept record carries it.
                count: i64::from(!kept_by.contains(&i.id)),
                ..Params::default()
            },
        });
    }

    // Blocks of the person's accounts are kept: each is part of a moderation decision, and the
    // person is told so rather than left to wonder.
    let blocks = identity_block::Entity::find()
        .filter(identity_block::Column::IdentityId.is_in(ids.clone()))
        .order_by_asc(identity_block::Column::Id)
        .all(db)
        .await?;
    if !blocks.is_empty() {
        let names: HashMap<i64, String> = channel::Entity::find()
            .all(db)
            .await?
            .into_iter()
            .map(|c| (c.id, format!("{} {}", c.platform, c.name)))
            .collect();
        for b in blocks {
            let on = names.get(&b.channel_id).map_or("?", String::as_str);
            let since = b.blocked_at.date_naive();
            items.push(NewItem {
                kind: ItemKind::Block,
                target_id: Some(b.id),
                label: match lang {
                    Language::Sv => format!("Blockering på {on} sedan {since}"),
                    Language::En => format!("Block on {on} since {since}"),
                },
                decision: ItemDecision::Retain,
                ground: Ground::ModerationCase,
                params: Params::default(),
            });
        }
    }

    let erased_ids: Vec<i64> = erased.iter().copied().collect();
    for (identity_id, count) in consents_of(db, &erased_ids).await? {
        items.push(NewItem {
            kind: ItemKind::ConsentEvents,
            target_id: Some(identity_id),
            label: match lang {
                Language::Sv => "Anteckningar om samtycke".into(),
                Language::En => "Consent entries".into(),
            },
            decision: ItemDecision::Erase,
            ground: Ground::ConsentEvents,
            params: Params {
                count,
                ..Params::default()
            },
        });
    }

    // The person's withdrawals are kept, and said to be: they show that and when publication
    // stopped. The notes beside them are the officer's; the entries name no erased record.
    let withdrawals = sea_orm::PaginatorTrait::count(
        consent_event::Entity::find()
            .filter(consent_event::Column::IdentityId.is_in(ids.clone()))
            .filter(
                consent_event::Column::Event
                    .eq(crate::consent::rules::ConsentEvent::Withdrawn.as_str()),
            ),
        db,
    )
    .await?;
    if withdrawals > 0 {
        items.push(NewItem {
            kind: ItemKind::ConsentWithdrawals,
            target_id: None,
            label: match lang {
                Language::Sv => "Återkallade samtycken".into(),
                Language::En => "Withdrawals of consent".into(),
            },
            decision: ItemDecision::Retain,
            ground: Ground::WithdrawalRecord,
            params: Params {
                count: withdrawals as i64,
                ..Params::default()
            },
        });
    }

    // Packages of the person's earlier requests: those that acted on one of these identities as
    // the person's (verified there, or a match confirmed there). Merely naming an account proves
    // nothing: anyone may name anyone's, and that request's package is not this person's.
    let mut earlier = crate::requests::acting_on(db, &ids).await?;
    earlier.retain(|&e| e != r.id);
    if !earlier.is_empty() {
        let packages = package::Entity::find()
            .filter(package::Column::RequestId.is_in(earlier))
            .filter(package::Column::Status.is_in(["building", "ready", "failed"]))
            .order_by_asc(package::Column::Id)
            .all(db)
            .await?;
        for p in packages {
            items.push(NewItem {
                kind: ItemKind::Package,
                target_id: Some(p.id),
                label: match lang {
                    Language::Sv => format!("Nedladdningsfil från {}", p.created_at.date_naive()),
                    Language::En => format!("Download file of {}", p.created_at.date_naive()),
                },
                decision: ItemDecision::Erase,
                ground: Ground::EarlierPackage,
                params: Params::default(),
            });
        }
    }

    items.push(NewItem {
        kind: ItemKind::CaseFile,
        target_id: Some(r.id),
        label: match lang {
            Language::Sv => format!("Ärendet {}", r.reference),
            Language::En => format!("The case {}", r.reference),
        },
        decision: ItemDecision::Retain,
        ground: Ground::CaseFile,
        params: Params {
            reference: Some(
                r.registration_number
                    .clone()
                    .unwrap_or_else(|| r.reference.clone()),
            ),
            ..Params::default()
        },
    });
    Ok((items, records))
}

/// Stores a computed plan; exclusions of an earlier plan carry over to the same items.
async fn store_plan(
    txn: &DatabaseTransaction,
    ctx: &Context,
    r: &request::Model,
    items: Vec<NewItem>,
    previous: Option<(&erasure_plan::Model, &[erasure_item::Model])>,
    actor: &Actor,
) -> Result<(erasure_plan::Model, BTreeMap<String, i64>), DbErr> {
    let lang = language_of(r);
    let keys: Vec<ItemKey> = items.iter().map(NewItem::key).collect();
    let changes = previous
        .map(|(_, old)| differences(&old.iter().map(key_of).collect::<Vec<_>>(), &keys))
        .unwrap_or_default();
    let plan = erasure_plan::ActiveModel {
        request_id: Set(r.id),
        status: Set(PlanStatus::Proposed.as_str().into()),
        fingerprint: Set(fingerprint(&keys)),
        created_at: Set(now()),
        created_by: Set(actor.id.clone()),
        executed_at: Set(None),
        executed_by: Set(None),
        supersedes: Set(previous.map(|(p, _)| p.id)),
        changes: Set(serde_json::to_string(&changes).unwrap_or_else(|_| "[]".into())),
        ..Default::default()
    }
    .insert(txn)
    .await?;
    let excluded: HashMap<(String, Option<i64>), Option<String>> = previous
        .map(|(_, old)| {
            old.iter()
                .filter(|i| i.excluded)
                .map(|i| ((i.kind.clone(), i.target_id), i.exclusion_reason.clone()))
                .collect()
        })
        .unwrap_or_default();
    let rows: Vec<erasure_item::ActiveModel> = items
        .into_iter()
        .map(|i| {
            let carried = excluded.get(&(i.kind.as_str().to_owned(), i.target_id));
            let carried = carried.filter(|_| i.decision.acts());
            erasure_item::ActiveModel {
                plan_id: Set(plan.id),
                kind: Set(i.kind.as_str().into()),
                target_id: Set(i.target_id),
                sentence: Set(ctx.policy.sentence(i.ground, lang, &i.params)),
                label: Set(i.label),
                decision: Set(i.decision.as_str().into()),
                ground: Set(i.ground.as_str().into()),
                until: Set(i.params.date.or(i.params.until)),
                reference: Set(i.params.reference),
                count: Set(i.params.count),
                excluded: Set(carried.is_some()),
                exclusion_reason: Set(carried.cloned().flatten()),
                outcome: Set(None),
                task_id: Set(None),
                ..Default::default()
            }
        })
        .collect();
    for chunk in rows.chunks(CHUNK) {
        erasure_item::Entity::insert_many(chunk.to_vec())
            .exec_without_returning(txn)
            .await?;
    }
    if rows.iter().any(|i| *i.excluded.as_ref()) {
        recount_consents(txn, &ctx.policy, r, plan.id).await?;
    }
    let totals = count(
        rows.iter()
            .map(|i| (*i.excluded.as_ref(), i.decision.as_ref().as_str())),
    );
    Ok((plan, totals))
}

async fn latest_plan<C: ConnectionTrait>(
    db: &C,
    request_id: i64,
) -> Result<Option<erasure_plan::Model>, DbErr> {
    erasure_plan::Entity::find()
        .filter(erasure_plan::Column::RequestId.eq(request_id))
        .filter(erasure_plan::Column::Status.ne(PlanStatus::Superseded.as_str()))
        .order_by_desc(erasure_plan::Column::Id)
        .one(db)
        .await
}

/// A plan's items, in order.
async fn items_of<C: ConnectionTrait>(
    db: &C,
    plan_id: i64,
) -> Result<Vec<erasure_item::Model>, DbErr> {
    let select = erasure_item::Entity::find()
        .filter(erasure_item::Column::PlanId.eq(plan_id))
        .order_by_asc(erasure_item::Column::Id);
    let backend = db.get_database_backend();
    if backend != sea_orm::DbBackend::Sqlite {
        return select.all(db).await;
    }
    // A plan holds about two items per record of the person: on SQLite they come as one JSON row
    // rather than a driver row each, which is what reading a plan cost.
    let columns: Vec<&str> = <erasure_item::Column as sea_orm::Iterable>::iter()
        .map(|c| sea_orm::IdenStatic::as_str(&c))
        .collect();
    let text = crate::archive::store::json_text(
        db,
        sea_orm::QueryTrait::build(&select, backend),
        &columns,
    )
    .await?;
    let mut items: Vec<erasure_item::Model> =
        crate::archive::store::parse_json_rows::<ItemRow>(&text)?
            .into_iter()
            .map(ItemRow::into_model)
            .collect();
    // `json_group_array` keeps no order.
    items.sort_by_key(|i| i.id);
    Ok(items)
}

/// An item row as SQLite's `json_object` renders it: a boolean as 0 or 1.
#[derive(serde::Deserialize)]
struct ItemRow {
    id: i64,
    plan_id: i64,
    kind: String,
    target_id: Option<i64>,
    label: String,
    decision: String,
    ground: String,
    sentence: String,
    until: Option<NaiveDate>,
    reference: Option<String>,
    count: i64,
    excluded: i64,
    exclusion_reason: Option<String>,
    outcome: Option<String>,
    task_id: Option<i64>,
}

impl ItemRow {
    fn into_model(self) -> erasure_item::Model {
        erasure_item::Model {
            id: self.id,
            plan_id: self.plan_id,
            kind: self.kind,
            target_id: self.target_id,
            label: self.label,
            decision: self.decision,
            ground: self.ground,
            sentence: self.sentence,
            until: self.until,
            reference: self.reference,
            count: self.count,
            excluded: self.excluded != 0,
            exclusion_reason: self.exclusion_reason,
            outcome: self.outcome,
            task_id: self.task_id,
        }
    }
}

fn check_erasure(r: &request::Model) -> Result<(), ErasureError> {
    if r.request_type != RequestType::Erasure.as_str() {
        return Err(illegal(format!(
            "a request for {} has no erasure plan",
            r.request_type
        )));
    }
    Ok(())
}

/// Computes the plan (changing nothing else) and puts the request up for approval. A plan computed
/// again replaces the earlier one; the officer's exclusions carry over.
pub async fn plan(
    db: &DatabaseConnection,
    ctx: &Context,
    id: i64,
    today: NaiveDate,
    actor: &Actor,
) -> Result<PlanView, ErasureError> {
    let txn = db.begin().await?;
    let r = lock(&txn, id).await?;
    check_erasure(&r)?;
    if !matches!(status_of(&r), Status::InProgress | Status::AwaitingApproval) {
        return Err(illegal(format!(
            "a request that is {} cannot be planned; assign it first",
            r.status
        )));
    }
    let (items, _) = compute(&txn, ctx, &r, today).await?;
    let previous = latest_plan(&txn, id).await?;
    let old_items = match &previous {
        Some(p) => items_of(&txn, p.id).await?,
        None => vec![],
    };
    if let Some(p) = &previous {
        supersede(&txn, p).await?;
    }
    let (plan, totals) = store_plan(
        &txn,
        ctx,
        &r,
        items,
        previous.as_ref().map(|p| (p, old_items.as_slice())),
        actor,
    )
    .await?;
    move_to(&txn, r, Action::Plan, |_| {}).await?;
    event(
        &txn,
        id,
        &actor.id,
        "erasure_planned",
        false,
        serde_json::json!({"plan": plan.id, "totals": totals}),
    )
    .await?;
    log(
        &txn,
        actor,
        "erasure.plan",
        id,
        serde_json::json!({"plan": plan.id, "totals": totals}),
    )
    .await?;
    txn.commit().await?;
    view(db, id).await
}

async fn supersede(txn: &DatabaseTransaction, p: &erasure_plan::Model) -> Result<(), DbErr> {
    let mut a: erasure_plan::ActiveModel = p.clone().into();
    a.status = Set(PlanStatus::Superseded.as_str().into());
    a.update(txn).await?;
    Ok(())
}

/// Counts per decision of the items that will act or keep; excluded items counted apart.
pub fn totals(items: &[erasure_item::Model]) -> BTreeMap<String, i64> {
    count(items.iter().map(|i| (i.excluded, i.decision.as_str())))
}

/// [`totals`] of (excluded, decision) pairs.
fn count<'a>(items: impl Iterator<Item = (bool, &'a str)>) -> BTreeMap<String, i64> {
    let mut t: BTreeMap<String, i64> = ItemDecision::ALL
        .iter()
        .map(|d| (d.as_str().to_owned(), 0))
        .collect();
    t.insert("excluded".into(), 0);
    for (excluded, decision) in items {
        let k = if excluded { "excluded" } else { decision };
        *t.entry(k.to_owned()).or_default() += 1;
    }
    t
}

/// The request's current plan (the executed one, once executed).
pub async fn view(db: &DatabaseConnection, id: i64) -> Result<PlanView, ErasureError> {
    let plan = latest_plan(db, id).await?.ok_or(ErasureError::NoPlan(id))?;
    Ok(view_of(db, plan).await?)
}

/// A plan with its items and the state of their tasks.
async fn view_of(db: &DatabaseConnection, plan: erasure_plan::Model) -> Result<PlanView, DbErr> {
    let items = items_of(db, plan.id).await?;
    with_tasks(db, plan, items).await
}

/// A plan and its items, with the state of their tasks read.
async fn with_tasks(
    db: &DatabaseConnection,
    plan: erasure_plan::Model,
    items: Vec<erasure_item::Model>,
) -> Result<PlanView, DbErr> {
    let tasks = tasks_of(db, &items).await?;
    Ok(PlanView { plan, items, tasks })
}

/// The unpublish tasks the items opened, by id.
async fn tasks_of(
    db: &DatabaseConnection,
    items: &[erasure_item::Model],
) -> Result<HashMap<i64, unpublish_task::Model>, DbErr> {
    let task_ids: Vec<i64> = items.iter().filter_map(|i| i.task_id).collect();
    let mut tasks = HashMap::new();
    for chunk in task_ids.chunks(CHUNK) {
        for t in unpublish_task::Entity::find()
            .filter(unpublish_task::Column::Id.is_in(chunk.to_vec()))
            .all(db)
            .await?
        {
            tasks.insert(t.id, t);
        }
    }
    Ok(tasks)
}

/// Leaves an item out of the plan with the officer's reason, or (`reason` none) takes it back in.
pub async fn exclude(
    db: &DatabaseConnection,
    policy: &Policy,
    id: i64,
    item_id: i64,
    reason: Option<String>,
    actor: &Actor,
) -> Result<PlanView, ErasureError> {
    let txn = db.begin().await?;
    let r = lock(&txn, id).await?;
    check_erasure(&r)?;
    let plan = latest_plan(&txn, id)
        .await?
        .ok_or(ErasureError::NoPlan(id))?;
    if plan.status != PlanStatus::Proposed.as_str() {
        return Err(illegal("the plan was executed; it can no longer change"));
    }
    let item = erasure_item::Entity::find_by_id(item_id)
        .filter(erasure_item::Column::PlanId.eq(plan.id))
        .one(&txn)
        .await?
        .ok_or(ErasureError::NoItem(item_id))?;
    let acts = ItemDecision::parse(&item.decision).is_some_and(ItemDecision::acts);
    if !acts {
        return Err(illegal(format!(
            "item {item_id} is kept already; only items to erase or unpublish can be left out"
        )));
    }
    let excluded = reason.is_some();
    let of_a_record = item.kind == ItemKind::Record.as_str();
    let mut a: erasure_item::ActiveModel = item.into();
    a.excluded = Set(excluded);
    a.exclusion_reason = Set(reason);
    a.update(&txn).await?;
    if of_a_record {
        recount_consents(&txn, policy, &r, plan.id).await?;
    }
    event(
        &txn,
        id,
        &actor.id,
        if excluded {
            "erasure_item_excluded"
        } else {
            "erasure_item_included"
        },
        false,
        serde_json::json!({"plan": plan.id, "item": item_id}),
    )
    .await?;
    log(
        &txn,
        actor,
        if excluded {
            "erasure.exclude"
        } else {
            "erasure.include"
        },
        id,
        serde_json::json!({"plan": plan.id, "item": item_id}),
    )
    .await?;
    txn.commit().await?;
    view(db, id).await
}

/// How many consent entries each identity has on the `records`. Counted by the database: a heavy
/// identity has an entry per record, and each row handed over costs more than counting it.
async fn consents_of<C: ConnectionTrait>(
    db: &C,
    records: &[i64],
) -> Result<BTreeMap<i64, i64>, DbErr> {
    let mut consents: BTreeMap<i64, i64> = BTreeMap::new();
    for chunk in records.chunks(CHUNK) {
        let counted: Vec<(i64, i64)> = consent_event::Entity::find()
            .select_only()
            .column(consent_event::Column::IdentityId)
            .column_as(consent_event::Column::Id.count(), "events")
            .filter(consent_event::Column::RecordId.is_in(chunk.to_vec()))
            .group_by(consent_event::Column::IdentityId)
            .into_tuple()
            .all(db)
            .await?;
        for (identity_id, events) in counted {
            *consents.entry(identity_id).or_default() += events;
        }
    }
    Ok(consents)
}

/// The consent entries the plan erases are those of the records it erases: a record left out keeps
/// its entries, and the consent items say how many go.
async fn recount_consents(
    txn: &DatabaseTransaction,
    policy: &Policy,
    r: &request::Model,
    plan_id: i64,
) -> Result<(), DbErr> {
    let items = erasure_item::Entity::find()
        .filter(erasure_item::Column::PlanId.eq(plan_id))
        .all(txn)
        .await?;
    let erased: Vec<i64> = items
        .iter()
        .filter(|i| {
            !i.excluded
                && i.kind == ItemKind::Record.as_str()
                && i.decision == ItemDecision::Erase.as_str()
        })
        .filter_map(|i| i.target_id)
        .collect();
    let counts = consents_of(txn, &erased).await?;
    let lang = language_of(r);
    for item in items
        .into_iter()
        .filter(|i| i.kind == ItemKind::ConsentEvents.as_str())
    {
        let count = item
            .target_id
            .and_then(|identity| counts.get(&identity).copied())
            .unwrap_or(0);
        if count == item.count {
            continue;
        }
        let params = Params {
            count,
            ..Params::default()
        };
        let mut a: erasure_item::ActiveModel = item.into();
        a.count = Set(count);
        a.sentence = Set(policy.sentence(Ground::ConsentEvents, lang, &params));
        a.update(txn).await?;
    }
    Ok(())
}

/// What approval did, beside the plan.
pub struct Approved {
    pub view: PlanView,
    /// The plan was recomputed because the archive changed since the officer saw it.
    pub recomputed: bool,
    pub changes: Vec<String>,
    /// The plan had been executed before: nothing was done again.
    pub already_executed: bool,
}

/// Executes the plan: erases what it erases, opens the unpublish tasks, suppresses what was erased,
/// completes the request and mails the reply, in one transaction. Approving an executed plan again
/// changes nothing and answers the same plan.
pub async fn approve(
    db: &DatabaseConnection,
    ctx: &Context,
    id: i64,
    today: NaiveDate,
    actor: &Actor,
) -> Result<Approved, ErasureError> {
    let txn = db.begin().await?;
    // Before the request's row, in the order imports take them: an import writes the history of
    // requests whose phrase it finds.
    crate::db::lock_archive(&txn).await?;
    let r = lock(&txn, id).await?;
    check_erasure(&r)?;
    let current = latest_plan(&txn, id).await?;
    if let Some(p) = &current
        && p.status == PlanStatus::Executed.as_str()
    {
        txn.rollback().await?;
        return Ok(Approved {
            view: view(db, id).await?,
            recomputed: false,
            changes: vec![],
            already_executed: true,
        });
    }
    if status_of(&r) != Status::AwaitingApproval {
        return Err(illegal(format!(
            "a request that is {} cannot be approved; compute a plan first",
            r.status
        )));
    }
    let mut plan = current.ok_or(ErasureError::NoPlan(id))?;
    let started = std::time::Instant::now();
    let lap = |phase: &str| {
        tracing::debug!(
            phase,
            ms = started.elapsed().as_secs_f64() * 1000.0,
            "erasure approval"
        )
    };
    let mut items = items_of(&txn, plan.id).await?;
    lap("items read");

    // The archive may have changed since the officer saw the plan: recompute, and say how.
    let (fresh, records) = compute(&txn, ctx, &r, today).await?;
    let keys: Vec<ItemKey> = fresh.iter().map(NewItem::key).collect();
    let mut changes = vec![];
    let recomputed = fingerprint(&keys) != plan.fingerprint;
    if recomputed {
        supersede(&txn, &plan).await?;
        let (new, _) = store_plan(&txn, ctx, &r, fresh, Some((&plan, &items)), actor).await?;
        changes = serde_json::from_str(&new.changes).unwrap_or_default();
        plan = new;
        items = items_of(&txn, plan.id).await?;
    }

    lap("recomputed");
    let done = execute(&txn, ctx, &r, &mut items, &records, &lap).await?;

    let mut a: erasure_plan::ActiveModel = plan.clone().into();
    a.status = Set(PlanStatus::Executed.as_str().into());
    a.executed_at = Set(Some(now()));
    a.executed_by = Set(Some(actor.id.clone()));
    let plan = a.update(&txn).await?;
    let r = move_to(&txn, r, Action::Complete, |_| {}).await?;
    let link = format!(
        "{}/requests/{id}",
        ctx.requests.public_url.trim_end_matches('/')
    );
    send(&txn, &r, &reply(ctx, &r, &items, &link)).await?;
    event(
        &txn,
        id,
        &actor.id,
        "erasure_executed",
        true,
        serde_json::json!({"plan": plan.id, "recomputed": recomputed}),
    )
    .await?;
    lap("reply queued");
    log(
        &txn,
        actor,
        "erasure.execute",
        id,
        serde_json::json!({
            "plan": plan.id,
            "recomputed": recomputed,
            "erased_records": done.records,
            "profiles": done.profiles,
            "consent_events": done.consent_events,
            "packages": done.packages,
            "unpublish_tasks": done.tasks,
            "suppressed": done.suppressed,
        }),
    )
    .await?;
    txn.commit().await?;
    lap("committed");
    // The erasure has committed: nothing below may answer as if it had not. What is left to tidy
    // is redone by the next erasure (and the files by the nightly purge) if it fails here.
    if let Err(e) = crate::packages::store::remove_erased_files(db, &ctx.packages).await {
        tracing::warn!(request = id, error = %e, "removing erased packages' files after an erasure");
    }
    // The tasks' states are read back for the answer; if that read fails, the answer goes
    // without them rather than as an error (the erasure is done, and a retry would say so).
    let tasks = tasks_of(db, &items).await.unwrap_or_else(|e| {
        tracing::warn!(request = id, error = %e, "reading the tasks back after an erasure");
        HashMap::new()
    });
    // After the view is read: SQLite's one connection is the forgetting's until it is done.
    tokio::spawn(forget(db.clone(), id, !done.profiles.is_empty()));
    Ok(Approved {
        view: PlanView { plan, items, tasks },
        recomputed,
        changes,
        already_executed: false,
    })
}

/// After an erasure commits, in the background and in this order: on SQLite, merges the index of
/// names when display names were erased, then empties the write-ahead log. Both rewrite what the
/// erasure left behind in the files (a deleted name's trigrams stay in the index under a delete
/// marker until its segments merge; the log keeps earlier images of the pages the erasure
/// cleaned), and both take as long as the index or the log is large, which the officer need not
/// wait for.
async fn forget(db: DatabaseConnection, request: i64, names: bool) {
    if names && let Err(e) = crate::db::compact_name_index(&db).await {
        tracing::warn!(request, error = %e, "merging the name index after an erasure");
    }
    match crate::db::empty_log(&db).await {
        Ok(true) => tracing::debug!(request, "the log emptied after an erasure"),
        Ok(false) => tracing::warn!(
            request,
            "readers kept the log from being emptied after an erasure; the next erasure tries again"
        ),
        Err(e) => tracing::warn!(request, error = %e, "emptying the log after an erasure"),
    }
}

/// What an execution erased and opened, by id, for the audit log.
#[derive(Default)]
struct Done {
    records: Vec<i64>,
    profiles: Vec<i64>,
    consent_events: u64,
    packages: Vec<i64>,
    tasks: Vec<i64>,
    suppressed: usize,
}

async fn execute(
    txn: &DatabaseTransaction,
    ctx: &Context,
    r: &request::Model,
    items: &mut [erasure_item::Model],
    known: &[record::Model],
    lap: &(dyn Fn(&str) + Sync),
) -> Result<Done, DbErr> {
    let mut done = Done::default();
    let acting = |kind: ItemKind, decision: ItemDecision| {
        items
            .iter()
            .filter(move |i| {
                !i.excluded && i.kind == kind.as_str() && i.decision == decision.as_str()
            })
            .filter_map(|i| i.target_id)
    };
    let erase: Vec<i64> = acting(ItemKind::Record, ItemDecision::Erase).collect();
    let unpublish: Vec<i64> = acting(ItemKind::Publication, ItemDecision::Unpublish).collect();
    let profiles: Vec<i64> = acting(ItemKind::Profile, ItemDecision::Erase).collect();
    let packages: Vec<i64> = acting(ItemKind::Package, ItemDecision::Erase).collect();
    let consents: Vec<i64> = acting(ItemKind::ConsentEvents, ItemDecision::Erase).collect();

    // Unpublish tasks first: they must exist while their records do, to carry the link.
    let mut task_of: HashMap<i64, (i64, Outcome)> = HashMap::new();
    // The plan's records were read by its recomputing, in this transaction; any other is read now.
    let read: HashSet<i64> = known.iter().map(|r| r.id).collect();
    let mut wanted: Vec<i64> = unpublish
        .iter()
        .chain(&erase)
        .copied()
        .filter(|id| !read.contains(id))
        .collect();
    wanted.sort_unstable();
    wanted.dedup();
    let mut touched: Vec<record::Model> = Vec::new();
    for chunk in wanted.chunks(CHUNK) {
        touched.extend(
            crate::archive::store::fetch_records(
                txn,
                record::Entity::find().filter(record::Column::Id.is_in(chunk.to_vec())),
            )
            .await?,
        );
    }
    let records: HashMap<i64, &record::Model> =
        known.iter().chain(&touched).map(|r| (r.id, r)).collect();
    for chunk in unpublish.chunks(CHUNK) {
        for t in unpublish_task::Entity::find()
            .filter(unpublish_task::Column::RecordId.is_in(chunk.to_vec()))
            .filter(unpublish_task::Column::Status.eq(TaskStatus::Open.as_str()))
            .filter(unpublish_task::Column::Action.eq(TaskAction::Remove.as_str()))
            .all(txn)
            .await?
        {
            if let Some(rid) = t.record_id {
                task_of.insert(rid, (t.id, Outcome::TaskAlreadyOpen));
            }
        }
    }
    let platforms: HashMap<i64, String> = channel::Entity::find()
        .all(txn)
        .await?
        .into_iter()
        .map(|c| (c.id, c.platform))
        .collect();
    let source = format!("request:{}", r.id);
    let at = now();
    let created: HashSet<i64> = unpublish
        .iter()
        .copied()
        .filter(|rid| !task_of.contains_key(rid) && records.contains_key(rid))
        .collect();
    let new_tasks: Vec<unpublish_task::ActiveModel> = unpublish
        .iter()
        .filter(|rid| created.contains(rid))
        .filter_map(|rid| records.get(rid))
        .map(|rec| unpublish_task::ActiveModel {
            record_id: Set(Some(rec.id)),
            channel_id: Set(rec.channel_id),
            identity_id: Set(rec.author_identity_id),
            reason: Set(TaskReason::Erasure.as_str().into()),
            action: Set(TaskAction::Remove.as_str().into()),
            link: Set(item_link(
                platforms
                    .get(&rec.channel_id)
                    .map_or("other", String::as_str),
                &rec.kind,
                &rec.platform_id,
                rec.parent_platform_id.as_deref(),
            )),
            source: Set(Some(source.clone())),
            status: Set(TaskStatus::Open.as_str().into()),
            note: Set(None),
            created_at: Set(at),
            closed_at: Set(None),
            closed_by: Set(None),
            ..Default::default()
        })
        .collect();
    // Each new task comes back with its id, so none has to be looked for afterwards (by its
    // source, which no index serves).
    for chunk in new_tasks.chunks(CHUNK) {
        for t in unpublish_task::Entity::insert_many(chunk.to_vec())
            .exec_with_returning(txn)
            .await?
        {
            if let Some(rid) = t.record_id {
                task_of.insert(rid, (t.id, Outcome::TaskOpened));
                done.tasks.push(t.id);
            }
        }
    }
    done.tasks.sort_unstable();

    lap("tasks opened");
    // The suppression list, so that a later import does not bring back what goes now.
    let identities: Vec<identity::Model> = identity::Entity::find()
        .filter(identity::Column::Id.is_in(profiles.clone()))
        .all(txn)
        .await?;
    let mut keys: Vec<(SuppressionKind, String)> = erase
        .iter()
        .filter_map(|rid| records.get(rid))
        .map(|rec| {
            (
                SuppressionKind::Record,
                // By the object's key, so that none of its names brings it back.
                ctx.key
                    .record(rec.channel_id, &object_key(&rec.platform_id)),
            )
        })
        .collect();
    keys.extend(identities.iter().map(|i| {
        (
            SuppressionKind::Identity,
            ctx.key.identity(&i.platform, &i.platform_id),
        )
    }));
    done.suppressed = keys.len();
    let rows: Vec<suppression::ActiveModel> = keys
        .into_iter()
        .map(|(kind, hash)| suppression::ActiveModel {
            kind: Set(kind.as_str().into()),
            key_hash: Set(hash),
            request_id: Set(Some(r.id)),
            created_at: Set(at),
            ..Default::default()
        })
        .collect();
    for chunk in rows.chunks(CHUNK) {
        // An item erased before (by another request) is on the list already.
        suppression::Entity::insert_many(chunk.to_vec())
            .on_conflict_do_nothing_on([suppression::Column::KeyHash])
            .exec_without_returning(txn)
            .await?;
    }

    lap("suppressed");
    // Consent events of the erased records, then the records (their versions and notes go with
    // them; one that a kept record answers, a reply by someone else or the person's own reply
    // under a hold, stays as a tombstone).
    for chunk in erase.chunks(CHUNK) {
        done.consent_events += consent_event::Entity::delete_many()
            .filter(consent_event::Column::RecordId.is_in(chunk.to_vec()))
            .filter(consent_event::Column::IdentityId.is_in(consents.clone()))
            .exec(txn)
            .await?
            .rows_affected;
    }
    // Before the records go: a deleted record's tasks lose their link to it.
    crate::consent::forget_closed_tasks_of(txn, &erase).await?;
    crate::archive::store::remove(txn, &erase).await?;
    done.records = erase.clone();
    lap("records erased");

    // Profile details: the link always; the name and the platform's id when no kept record
    // names the person any more (then the row stays only as the target of the case's links).
    for i in identities {
        let still_kept = record::Entity::find()
            .filter(crate::archive::store::records_of(&[i.id]))
            .one(txn)
            .await?
            .is_some();
        let id = i.id;
        let mut a: identity::ActiveModel = i.into();
        a.profile_link = Set(None);
        if !still_kept {
            a.display_name = Set(None);
            a.platform_id = Set(format!("{}{id}", crate::archive::rules::ERASED_PREFIX));
        }
        a.update(txn).await?;
        done.profiles.push(id);
    }

    if !packages.is_empty() {
        package::Entity::update_many()
            .col_expr(
                package::Column::Status,
                Expr::value(crate::packages::rules::PackageStatus::Erased.as_str()),
            )
            .filter(package::Column::Id.is_in(packages.clone()))
            .exec(txn)
            .await?;
        done.packages = packages;
    }

    lap("profiles and packages");
    // Each item's outcome, here and in the store: the items as they are now are what the reply and
    // the answer show, without reading them back.
    let mut by_outcome: BTreeMap<&'static str, Vec<i64>> = BTreeMap::new();
    let mut with_tasks: Vec<(i64, i64, Outcome)> = vec![];
    for i in items.iter_mut() {
        let task = i.target_id.and_then(|rid| task_of.get(&rid));
        match (outcome_of(i), task) {
            (Some(Outcome::TaskOpened), Some((task, outcome))) => {
                i.task_id = Some(*task);
                i.outcome = Some(outcome.as_str().to_owned());
                with_tasks.push((i.id, *task, *outcome));
            }
            (Some(Outcome::TaskOpened), None) | (None, _) => {}
            (Some(outcome), _) => {
                i.outcome = Some(outcome.as_str().to_owned());
                by_outcome.entry(outcome.as_str()).or_default().push(i.id);
            }
        }
    }
    for (outcome, ids) in by_outcome {
        for chunk in ids.chunks(CHUNK) {
            erasure_item::Entity::update_many()
                .col_expr(erasure_item::Column::Outcome, Expr::value(outcome))
                .filter(erasure_item::Column::Id.is_in(chunk.to_vec()))
                .exec(txn)
                .await?;
        }
    }
    set_tasks(txn, &with_tasks).await?;
    lap("outcomes");
    Ok(done)
}

/// What executing the plan does to an item, before its task is known: a publication item's
/// outcome (`TaskOpened` here) is its task's, and it has none without one.
fn outcome_of(i: &erasure_item::Model) -> Option<Outcome> {
    if i.excluded {
        return Some(Outcome::Excluded);
    }
    match ItemDecision::parse(&i.decision)? {
        ItemDecision::Erase => Some(Outcome::Erased),
        ItemDecision::Retain | ItemDecision::RetainUnderHold => Some(Outcome::Kept),
        ItemDecision::Unpublish if i.kind == ItemKind::Publication.as_str() => {
            Some(Outcome::TaskOpened)
        }
        ItemDecision::Unpublish => None,
    }
}

/// `UPDATE … FROM (VALUES …)`: each publication item's task and outcome in one statement per chunk.
async fn set_tasks(txn: &DatabaseTransaction, rows: &[(i64, i64, Outcome)]) -> Result<(), DbErr> {
    let backend = txn.get_database_backend();
    for chunk in rows.chunks(CHUNK) {
        let mut values: Vec<sea_orm::Value> = Vec::with_capacity(chunk.len() * 3);
        let mut tuples = Vec::with_capacity(chunk.len());
        for (item, task, outcome) in chunk {
            let mut t = Vec::with_capacity(3);
            for v in [
                sea_orm::Value::from(*item),
                sea_orm::Value::from(*task),
                sea_orm::Value::from(outcome.as_str()),
            ] {
                values.push(v);
                t.push(crate::db::placeholder(backend, values.len()));
            }
            tuples.push(format!("({})", t.join(", ")));
        }
        let sql = format!(
            "UPDATE erasure_item SET task_id = v.column2, outcome = v.column3 \
             FROM (VALUES {}) AS v WHERE erasure_item.id = v.column1",
            tuples.join(", ")
        );
        txn.execute_raw(sea_orm::Statement::from_sql_and_values(
            backend, sql, values,
        ))
        .await?;
    }
    Ok(())
}

/// The sentence the person reads for an item: its ground's, or the officer's reason for leaving it
/// out.
pub fn shown_sentence(ctx: &Context, lang: Language, i: &erasure_item::Model) -> String {
    if i.excluded {
        ctx.policy.sentence(
            Ground::Excluded,
            lang,
            &Params {
                reason: i.exclusion_reason.clone(),
                ..Params::default()
            },
        )
    } else {
        i.sentence.clone()
    }
}

/// The reply: what was erased, what was kept and why until when, what is taken down on the
/// platform, and the person's further rights. Items with the same sentence are listed together.
fn reply(
    ctx: &Context,
    r: &request::Model,
    items: &[erasure_item::Model],
    link: &str,
) -> crate::mail::rules::Rendered {
    let lang = language_of(r);
    let sv = lang == Language::Sv;
    let mut paragraphs = vec![
        if sv { "Hej!" } else { "Hello," }.to_owned(),
        if sv {
            format!(
                "Vi har nu behandlat din begäran om radering, {}. Här är utfallet, punkt för punkt.",
                r.reference
            )
        } else {
            format!(
                "We have now handled your request for erasure, {}. Here is the outcome, item by item.",
                r.reference
            )
        },
    ];
    for (heading, decisions) in [
        (
            if sv { "Raderat" } else { "Erased" },
            &[ItemDecision::Erase][..],
        ),
        (
            if sv { "Bevarat" } else { "Kept" },
            &[ItemDecision::Retain, ItemDecision::RetainUnderHold][..],
        ),
        (
            if sv {
                "Tas bort från våra konton på plattformen"
            } else {
                "Taken down from our accounts on the platform"
            },
            &[ItemDecision::Unpublish][..],
        ),
    ] {
        let mut groups: BTreeMap<String, Vec<&str>> = BTreeMap::new();
        for i in items {
            // An item the officer left out is kept, on the officer's stated ground.
            let shown_as = if i.excluded {
                Some(ItemDecision::Retain)
            } else {
                ItemDecision::parse(&i.decision)
            };
            if shown_as.is_some_and(|d| decisions.contains(&d)) {
                groups
                    .entry(shown_sentence(ctx, lang, i))
                    .or_default()
                    .push(&i.label);
            }
        }
        if groups.is_empty() {
            continue;
        }
        let mut lines = vec![format!("{heading}:")];
        for (sentence, labels) in groups {
            let shown: Vec<&str> = labels.iter().take(10).copied().collect();
            let more = labels.len().saturating_sub(shown.len());
            let mut names = shown.join(", ");
            if more > 0 {
                names.push_str(&if sv {
                    format!(" och {more} till")
                } else {
                    format!(" and {more} more")
                });
            }
            lines.push(format!("• {names}: {sentence}"));
        }
        paragraphs.push(lines.join("\n"));
    }
    paragraphs.extend(ctx.policy.notes(lang));
    paragraphs.push(if sv {
        format!("På statussidan ser du varje punkt och hur borttagningen på plattformen går (den öppnas med den senaste länken vi har mejlat dig): {link}")
    } else {
        format!("The status page shows every item and how the take-down on the platform is going (it opens with the latest link we emailed you): {link}")
    });
    let subject = if sv {
        format!("Svar på din begäran om radering – {}", r.reference)
    } else {
        format!("Our answer to your request for erasure – {}", r.reference)
    };
    crate::mail::rules::layout(lang, &subject, &paragraphs)
}

/// One item as the person is told it.
pub struct Told {
    pub label: String,
    /// `erased`, `kept` or `unpublish`.
    pub decision: String,
    pub ground: String,
    pub sentence: String,
    pub until: Option<NaiveDate>,
    /// For a take-down: `open`, `done` or `not_possible`.
    pub task_status: Option<String>,
}

/// The executed plan as the person is told it; empty until it is executed.
pub async fn told(
    db: &DatabaseConnection,
    ctx: &Context,
    request_id: i64,
    lang: Language,
) -> Result<Vec<Told>, DbErr> {
    // Once executed, the executed plan is the request's current one.
    let Some(plan) = latest_plan(db, request_id)
        .await?
        .filter(|p| p.status == PlanStatus::Executed.as_str())
    else {
        return Ok(vec![]);
    };
    let v = view_of(db, plan).await?;
    Ok(v.items
        .iter()
        .map(|i| Told {
            label: i.label.clone(),
            decision: if i.excluded {
                ItemDecision::Retain.as_str().into()
            } else {
                i.decision.clone()
            },
            ground: if i.excluded {
                Ground::Excluded.as_str().into()
            } else {
                i.ground.clone()
            },
            sentence: shown_sentence(ctx, lang, i),
            until: if i.excluded { None } else { i.until },
            task_status: i
                .task_id
                .and_then(|t| v.tasks.get(&t))
                .map(|t| t.status.clone()),
        })
        .collect())
}
