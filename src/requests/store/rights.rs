//! Rectification, restriction, objection and consent withdrawal, carried out on a verified request.
use super::*;

/// What carrying out a rectification needs: the records it concerns and the correction.
pub struct CarryOut {
    pub record_ids: Vec<i64>,
    pub note: Option<String>,
}

/// Carries out a verified rectification, restriction, objection or consent withdrawal on the
/// accounts the person proved theirs, completes the request and mails what was done and what was
/// not, and why. The archived records never change: archiving is a legal obligation.
pub async fn carry_out(
    db: &DatabaseConnection,
    ctx: &Context,
    id: i64,
    input: CarryOut,
    actor: &Actor,
) -> Result<request::Model, RequestError> {
    use crate::consent::rules::{TaskAction, TaskReason};
    use entities::record;
    let txn = db.begin().await?;
    let r = lock(&txn, id).await?;
    if status_of(&r) != Status::InProgress {
        return Err(RequestError::Illegal(format!(
            "a request that is {} cannot be carried out; assign it first",
            r.status
        )));
    }
    let kind = RequestType::parse(&r.request_type).unwrap_or(RequestType::Access);
    super::link_accounts(&txn, id).await?;
    let identities: Vec<i64> = crate::packages::build::verified_identities(&txn, id)
        .await?
        .iter()
        .map(|i| i.id)
        .collect();
    if identities.is_empty() {
        return Err(RequestError::Illegal(
            "no account of the person is verified yet: verify one first".into(),
        ));
    }
    let theirs = || record::Entity::find().filter(crate::archive::store::records_of(&identities));
    let shown = ["visible", "hidden"];
    let published = crate::consent::rules::Interaction::PUBLISHED.map(|i| i.as_str());
    let lang = language_of(&r);
    let sv = lang == Language::Sv;
    let mut done: Vec<String> = vec![];
    let mut kept: Vec<String> = vec![];
    let mut details = serde_json::json!({});
    match kind {
        RequestType::Rectification => {
            let note = input
                .note
                .as_deref()
                .map(str::trim)
                .filter(|n| !n.is_empty())
                .ok_or_else(|| invalid("note", "say what is wrong and what is right"))?
                .to_owned();
            if input.record_ids.is_empty() {
                return Err(invalid(
                    "record_ids",
                    "name the records the correction concerns",
                ));
            }
            for rid in &input.record_ids {
                let found = theirs()
                    .filter(record::Column::Id.eq(*rid))
                    .one(&txn)
                    .await?;
                if found.is_none() {
                    return Err(invalid(
                        "record_ids",
                        format!(
                            "record {rid} is not one of the person's verified accounts' records"
                        ),
                    ));
                }
                entities::record_note::ActiveModel {
                    record_id: Set(*rid),
                    request_id: Set(Some(id)),
                    note: Set(note.clone()),
                    created_at: Set(now()),
                    created_by: Set(actor.id.clone()),
                    ..Default::default()
                }
                .insert(&txn)
                .await?;
            }
            details = serde_json::json!({"records": input.record_ids});
            done.push(if sv {
                format!("En rättelse har antecknats bredvid {} poster. Den visas överallt där posterna visas.", input.record_ids.len())
            } else {
                format!("A correction has been noted beside {} records. It is shown wherever they are.", input.record_ids.len())
            });
            kept.push(if sv {
                "Själva posterna har inte ändrats: de är allmänna handlingar som ska bevaras som de kom in (tryckfrihetsförordningen 2 kap., arkivlagen).".into()
            } else {
                "The records themselves were not changed: they are public documents that must be kept as received (Freedom of the Press Act ch. 2, Archives Act).".into()
            });
        }
        RequestType::Restriction => {
            let rows = theirs()
                .filter(record::Column::RestrictedBy.is_null())
                .all(&txn)
                .await?;
            let mut tasks = 0;
            for rec in &rows {
                let mut a: record::ActiveModel = rec.clone().into();
                a.restricted_by = Set(Some(id));
                let rec = a.update(&txn).await?;
                if shown.contains(&rec.visibility.as_str())
                    && published.contains(&rec.kind.as_str())
                    && crate::consent::open_task(
                        &txn,
                        &rec,
                        rec.author_identity_id,
                        TaskReason::Restriction,
                        TaskAction::Hide,
                        &format!("request:{id}"),
                    )
                    .await?
                    .is_some()
                {
                    tasks += 1;
                }
            }
            details = serde_json::json!({"restricted": rows.len(), "unpublish_tasks": tasks});
            done.push(if sv {
                format!("Behandlingen av {} poster är begränsad: de visas inte i sökningar eller utlämnanden till andra, och det som syns på våra konton döljs.", rows.len())
            } else {
                format!("Processing of {} records is restricted: they are left out of searches and disclosures to others, and what shows on our accounts is hidden.", rows.len())
            });
            kept.push(if sv {
                "Posterna finns kvar i arkivet, eftersom kommunen är skyldig att bevara allmänna handlingar.".into()
            } else {
                "The records stay in the archive, as the municipality must keep public documents.".into()
            });
        }
        RequestType::Objection => {
            // The objection is to the publication of what the person wrote; what the
            // municipality published is its own.
            let rows = record::Entity::find()
                .filter(record::Column::AuthorIdentityId.is_in(identities.clone()))
                .filter(record::Column::Kind.is_in(published))
                .filter(record::Column::Visibility.is_in(shown))
                .all(&txn)
                .await?;
            let mut tasks = 0;
            for rec in &rows {
                if crate::consent::open_task(
                    &txn,
                    rec,
                    rec.author_identity_id,
                    TaskReason::Objection,
                    TaskAction::Remove,
                    &format!("request:{id}"),
                )
                .await?
                .is_some()
                {
                    tasks += 1;
                }
            }
            details = serde_json::json!({"unpublish_tasks": tasks});
            done.push(if sv {
                format!("Publiceringen upphör: {tasks} kommentarer, svar och reaktioner tas bort från våra konton.")
            } else {
                format!("Publication stops: {tasks} comments, replies and reactions are being removed from our accounts.")
            });
            kept.push(if sv {
                "Arkiveringen fortsätter: den är en rättslig förpliktelse (dataskyddsförordningen art. 6.1 c, arkivlagen) som en invändning inte gäller.".into()
            } else {
                "Archiving continues: it is a legal obligation (GDPR Art. 6(1)(c), the Archives Act), to which an objection does not apply.".into()
            });
        }
        RequestType::WithdrawConsent => {
            let mut tasks = 0;
            for identity_id in &identities {
                let w = crate::consent::withdraw_in(
                    &txn,
                    crate::consent::store::Withdraw {
                        identity_id: *identity_id,
                        channel_id: None,
                        note: None,
                        source: Some(format!("request:{id}")),
                    },
                    actor,
                )
                .await
                .map_err(|e| match e {
                    crate::consent::store::ConsentError::Db(e) => RequestError::Db(e),
                    other => RequestError::Illegal(other.to_string()),
                })?;
                tasks += w.tasks.len();
            }
            details = serde_json::json!({"unpublish_tasks": tasks});
            done.push(if sv {
                format!("Ditt samtycke till publicering är återkallat, och {tasks} kommentarer, svar och reaktioner tas bort från våra konton.")
            } else {
                format!("Your consent to publication is withdrawn, and {tasks} comments, replies and reactions are being removed from our accounts.")
            });
            kept.push(if sv {
                "Arkiveringen vilar inte på samtycke utan på en rättslig förpliktelse, och fortsätter.".into()
            } else {
                "Archiving does not rest on consent but on a legal obligation, and continues.".into()
            });
        }
        _ => {
            return Err(RequestError::Illegal(format!(
                "a request for {} is answered by `complete` (access, export) or a plan (erasure)",
                kind.as_str()
            )));
        }
    }
    let r = move_to(&txn, r, Action::Complete, |_| {}).await?;
    let summary = [done.join(" "), kept.join(" ")].join("\n\n");
    let link = ctx.status_page(id);
    send(
        &txn,
        &r,
        &letters::completion(lang, &r.reference, &summary, &link),
    )
    .await?;
    event(
        &txn,
        id,
        &actor.id,
        "carried_out",
        true,
        serde_json::json!({"done": done, "not_done": kept}),
    )
    .await?;
    log(&txn, actor, "request.carry_out", id, details).await?;
    txn.commit().await?;
    Ok(r)
}

/// Lifts the restriction a completed restriction request put on the person's records, and tells
/// the person (Art. 18(3)) by mail in the same transaction.
pub async fn lift_restriction(
    db: &DatabaseConnection,
    id: i64,
    actor: &Actor,
) -> Result<u64, RequestError> {
    use entities::record;
    use sea_orm::sea_query::Expr;
    let txn = db.begin().await?;
    let r = lock(&txn, id).await?;
    if r.request_type != RequestType::Restriction.as_str() {
        return Err(RequestError::Illegal(
            "only a restriction can be lifted".into(),
        ));
    }
    if status_of(&r) != Status::Completed {
        return Err(RequestError::Illegal(format!(
            "a restriction request that is {} has restricted nothing to lift",
            r.status
        )));
    }
    let lifted = record::Entity::update_many()
        .col_expr(
            record::Column::RestrictedBy,
            Expr::value(Option::<i64>::None),
        )
        .filter(record::Column::RestrictedBy.eq(id))
        .exec(&txn)
        .await?
        .rows_affected;
    if lifted == 0 {
        return Err(RequestError::Illegal(
            "nothing this request restricted is restricted now: it was lifted before".into(),
        ));
    }
    send(
        &txn,
        &r,
        &letters::restriction_lifted(language_of(&r), &r.reference, lifted),
    )
    .await?;
    event(
        &txn,
        id,
        &actor.id,
        "restriction_lifted",
        true,
        serde_json::json!({"records": lifted}),
    )
    .await?;
    log(
        &txn,
        actor,
        "request.lift_restriction",
        id,
        serde_json::json!({"records": lifted}),
    )
    .await?;
    txn.commit().await?;
    Ok(lifted)
}
