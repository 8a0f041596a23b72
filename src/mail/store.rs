//! The outbox: mail is queued in the caller's transaction and sent by a job.
use super::rules::{Email, Rendered};
use crate::audit::now;
use entities::outbox;
use sea_orm::{ActiveModelTrait, ConnectionTrait, DatabaseConnection, DbErr, EntityTrait, Set};

pub const QUEUED: &str = "queued";
pub const SENT: &str = "sent";
pub const JOB_KIND: &str = "mail.send";

/// Queues a mail and the job that sends it, inside the caller's transaction; the mail's id.
pub async fn queue<C: ConnectionTrait>(
    conn: &C,
    to: &Email,
    mail: &Rendered,
) -> Result<i64, DbErr> {
    queue_many(conn, &[(to, mail)])
        .await?
        .pop()
        .ok_or_else(|| DbErr::Custom("a mail was not queued".into()))
}

/// Queues mails and their jobs inside the caller's transaction, in two statements however many;
/// the mails' ids.
pub async fn queue_many<C: ConnectionTrait>(
    conn: &C,
    mails: &[(&Email, &Rendered)],
) -> Result<Vec<i64>, DbErr> {
    if mails.is_empty() {
        return Ok(vec![]);
    }
    let at = now();
    let ids = crate::db::allocate_ids(conn, "outbox", mails.len()).await?;
    // Nothing comes back: the ids were allocated above, and the bodies are large.
    outbox::Entity::insert_many(mails.iter().zip(&ids).map(|((to, mail), id)| {
        outbox::ActiveModel {
            id: Set(*id),
            recipient: Set(to.as_str().to_owned()),
            subject: Set(mail.subject.clone()),
            body_text: Set(mail.text.clone()),
            body_html: Set(mail.html.clone()),
            status: Set(QUEUED.to_owned()),
            attempts: Set(0),
            next_attempt_at: Set(at),
            last_error: Set(None),
            created_at: Set(at),
            sent_at: Set(None),
        }
    }))
    .exec_without_returning(conn)
    .await?;
    let payloads: Vec<_> = ids
        .iter()
        .map(|id| serde_json::json!({ "outbox_id": id }))
        .collect();
    crate::jobs::store::enqueue_many(conn, JOB_KIND, &payloads).await?;
    Ok(ids)
}

pub async fn find(db: &DatabaseConnection, id: i64) -> Result<Option<outbox::Model>, DbErr> {
    outbox::Entity::find_by_id(id).one(db).await
}

pub async fn record_attempt(
    db: &DatabaseConnection,
    row: outbox::Model,
    error: Option<String>,
) -> Result<(), DbErr> {
    let attempts = row.attempts + 1;
    let mut active: outbox::ActiveModel = row.into();
    active.attempts = Set(attempts);
    match error {
        None => {
            active.status = Set(SENT.to_owned());
            active.sent_at = Set(Some(now()));
            active.last_error = Set(None);
        }
        Some(e) => active.last_error = Set(Some(e)),
    }
    active.update(db).await.map(|_| ())
}
