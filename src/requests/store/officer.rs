//! The officer's queue and actions: assign, notes, refuse, cancel, extend, complete.
use super::*;

pub struct QueueFilter {
    pub status: Option<Status>,
    pub request_type: Option<RequestType>,
    pub assignee: Option<String>,
    pub overdue: Option<bool>,
    pub due_before: Option<NaiveDate>,
    pub today: NaiveDate,
    /// The (due date, id) of the previous page's last row.
    pub after: Option<(NaiveDate, i64)>,
    pub limit: u64,
}

/// Open requests, earliest due first.
pub async fn queue(db: &DatabaseConnection, f: &QueueFilter) -> Result<Vec<request::Model>, DbErr> {
    let mut q = request::Entity::find().filter(
        request::Column::Status.is_in(
            [
                Status::AwaitingVerification,
                Status::Verified,
                Status::InProgress,
                Status::AwaitingApproval,
            ]
            .map(Status::as_str),
        ),
    );
    if let Some(s) = f.status {
        q = q.filter(request::Column::Status.eq(s.as_str()));
    }
    if let Some(t) = f.request_type {
        q = q.filter(request::Column::RequestType.eq(t.as_str()));
    }
    if let Some(a) = &f.assignee {
        q = q.filter(request::Column::Assignee.eq(a.clone()));
    }
    // The date a request must be answered by: the extended one once it is extended.
    const DUE: &str = "COALESCE(extended_due_at, due_at)";
    use sea_orm::sea_query::{Expr, Order};
    let due = || Expr::cust(DUE);
    match f.overdue {
        Some(true) => q = q.filter(due().lt(f.today)),
        Some(false) => q = q.filter(due().gte(f.today)),
        None => {}
    }
    if let Some(b) = f.due_before {
        q = q.filter(due().lt(b));
    }
    if let Some((after_due, after_id)) = f.after {
        q = q.filter(
            due()
                .gt(after_due)
                .or(due().eq(after_due).and(request::Column::Id.gt(after_id))),
        );
    }
    q.order_by(Expr::cust(DUE), Order::Asc)
        .order_by_asc(request::Column::Id)
        .limit(f.limit)
        .all(db)
        .await
}

pub async fn assign(
    db: &DatabaseConnection,
    id: i64,
    assignee: String,
    actor: &Actor,
) -> Result<request::Model, RequestError> {
    let txn = db.begin().await?;
    let r = lock(&txn, id).await?;
    let status = status_of(&r);
    if !status.is_open() || status == Status::AwaitingVerification {
        return Err(RequestError::Illegal(format!(
            "a request that is {} cannot be assigned",
            r.status
        )));
    }
    let who = assignee.clone();
    let r = if status == Status::Verified {
        move_to(&txn, r, Action::Start, |a| a.assignee = Set(Some(who))).await?
    } else {
        let mut a: request::ActiveModel = r.into();
        a.assignee = Set(Some(who));
        a.updated_at = Set(now());
        a.update(&txn).await?
    };
    event(
        &txn,
        id,
        &actor.id,
        "assigned",
        false,
        serde_json::json!({"assignee": assignee}),
    )
    .await?;
    log(
        &txn,
        actor,
        "request.assign",
        id,
        // Who was assigned is free text, often a name: the request's history keeps it, where it
        // can be corrected; the audit chain, which cannot, keeps only that it happened.
        serde_json::json!({}),
    )
    .await?;
    txn.commit().await?;
    Ok(r)
}

pub async fn note(
    db: &DatabaseConnection,
    id: i64,
    text: String,
    actor: &Actor,
) -> Result<(), RequestError> {
    let txn = db.begin().await?;
    lock(&txn, id).await?;
    event(
        &txn,
        id,
        &actor.id,
        "note",
        false,
        serde_json::json!({"text": text}),
    )
    .await?;
    log(&txn, actor, "request.note", id, serde_json::json!({})).await?;
    txn.commit().await?;
    Ok(())
}

pub async fn refuse(
    db: &DatabaseConnection,
    id: i64,
    reason: String,
    actor: &Actor,
) -> Result<request::Model, RequestError> {
    let txn = db.begin().await?;
    let r = lock(&txn, id).await?;
    let why = reason.clone();
    let r = move_to(&txn, r, Action::Refuse, |a| {
        a.refusal_reason = Set(Some(why))
    })
    .await?;
    send(
        &txn,
        &r,
        &letters::refusal(language_of(&r), &r.reference, &reason),
    )
    .await?;
    event(
        &txn,
        id,
        &actor.id,
        "refused",
        true,
        serde_json::json!({"reason": reason}),
    )
    .await?;
    log(&txn, actor, "request.refuse", id, serde_json::json!({})).await?;
    txn.commit().await?;
    Ok(r)
}

pub async fn cancel(
    db: &DatabaseConnection,
    id: i64,
    actor: &Actor,
) -> Result<request::Model, RequestError> {
    let txn = db.begin().await?;
    let r = lock(&txn, id).await?;
    let r = move_to(&txn, r, Action::Cancel, |_| {}).await?;
    event(
        &txn,
        id,
        &actor.id,
        "cancelled",
        true,
        serde_json::json!({}),
    )
    .await?;
    log(&txn, actor, "request.cancel", id, serde_json::json!({})).await?;
    txn.commit().await?;
    Ok(r)
}

/// Extends the deadline by `months` (at most two over the request's life), only before the
/// original due date; the person is told the new date and why.
pub async fn extend(
    db: &DatabaseConnection,
    ctx: &Context,
    id: i64,
    months: u32,
    reason: String,
    actor: &Actor,
) -> Result<request::Model, RequestError> {
    let txn = db.begin().await?;
    let r = lock(&txn, id).await?;
    if !status_of(&r).is_open() {
        return Err(RequestError::Illegal(format!(
            "the request is {}",
            r.status
        )));
    }
    if ctx.today(now()) > r.due_at {
        return Err(RequestError::Illegal(
            "an extension must be given before the original due date (GDPR art. 12.3)".into(),
        ));
    }
    let total = r.extension_months as u32 + months;
    if !(1..=2).contains(&months) || total > 2 {
        return Err(invalid(
            "months",
            format!(
                "at most two months in all; {} already granted",
                r.extension_months
            ),
        ));
    }
    let due = due_date(ctx.today(r.received_at), 1 + total);
    let mut a: request::ActiveModel = r.into();
    a.extension_months = Set(total as i32);
    a.extended_due_at = Set(Some(due));
    a.extension_reason = Set(Some(reason.clone()));
    a.updated_at = Set(now());
    let r = a.update(&txn).await?;
    send(
        &txn,
        &r,
        &letters::extension(language_of(&r), &r.reference, due, &reason),
    )
    .await?;
    event(
        &txn,
        id,
        &actor.id,
        "extended",
        true,
        serde_json::json!({"months": months, "due_at": due, "reason": reason}),
    )
    .await?;
    log(
        &txn,
        actor,
        "request.extend",
        id,
        serde_json::json!({"months": months, "due_at": due}),
    )
    .await?;
    txn.commit().await?;
    Ok(r)
}

pub async fn complete(
    db: &DatabaseConnection,
    ctx: &Context,
    id: i64,
    summary: String,
    actor: &Actor,
) -> Result<request::Model, RequestError> {
    let txn = db.begin().await?;
    // In turn with an erasure being approved (which takes the archive's lock, then the request's):
    // a package queued while it runs would escape it, and be built from what it erases.
    crate::db::lock_archive(&txn).await?;
    let r = lock(&txn, id).await?;
    // Access and export are answered with a package, built by a job from the verified accounts;
    // the other rights by what is done about them (a plan for erasure, `carry-out` for the rest),
    // which `complete` would skip.
    let kind = match RequestType::parse(&r.request_type) {
        Some(RequestType::Access) => crate::packages::rules::PackageKind::Access,
        Some(RequestType::Export) => crate::packages::rules::PackageKind::Export,
        Some(RequestType::Erasure) => {
            return Err(RequestError::Illegal(
                "an erasure request is answered by its plan: propose and approve one".into(),
            ));
        }
        _ => {
            return Err(RequestError::Illegal(format!(
                "a request for {} is answered by `carry-out`",
                r.request_type
            )));
        }
    };
    // The package answers for the accounts shown to be the person's: with none, its emptiness
    // would say the archive holds nothing about them when nobody has looked.
    super::link_accounts(&txn, id).await?;
    let verified = request_identity::Entity::find()
        .filter(request_identity::Column::RequestId.eq(id))
        .filter(request_identity::Column::VerifiedAt.is_not_null())
        .one(&txn)
        .await?;
    if verified.is_none() {
        return Err(RequestError::Illegal(
            "no account the request names is verified yet: verify one first".into(),
        ));
    }
    let r = move_to(&txn, r, Action::Complete, |_| {}).await?;
    crate::packages::queue_build(&txn, id, kind).await?;
    // The status token is not stored, so the link in this mail points at the page without it.
    let link = ctx.status_page(id);
    send(
        &txn,
        &r,
        &letters::completion(language_of(&r), &r.reference, &summary, &link),
    )
    .await?;
    event(
        &txn,
        id,
        &actor.id,
        "completed",
        true,
        serde_json::json!({"summary": summary}),
    )
    .await?;
    log(&txn, actor, "request.complete", id, serde_json::json!({})).await?;
    txn.commit().await?;
    Ok(r)
}
