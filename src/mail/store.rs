//! The outbox: mail is queued in the caller's transaction and sent by a job.
use super::rules::{Email, Rendered};
use crate::audit::now;
use crate::secret::ServerSecret;
use entities::outbox;
use sea_orm::{ActiveModelTrait, ConnectionTrait, DatabaseConnection, DbErr, EntityTrait, Set};

pub const QUEUED: &str = "queued";
pub const SENT: &str = "sent";
/// A mail that can never be sent as it is (its recipient is no address): kept, with the reason,
/// and not tried again.
pub const UNDELIVERABLE: &str = "undeliverable";
pub const JOB_KIND: &str = "mail.send";

/// Queues a mail that carries no secret and the job that sends it, inside the caller's
/// transaction; the mail's id.
pub async fn queue<C: ConnectionTrait>(
    conn: &C,
    to: &Email,
    mail: &Rendered,
) -> Result<i64, DbErr> {
    queue_many(conn, None, &[(to, mail)])
        .await?
        .pop()
        .ok_or_else(|| DbErr::Custom("a mail was not queued".into()))
}

/// Queues mails and the one job that sends them inside the caller's transaction, in two
/// statements however many; the mails' ids. A mail's secret is sealed with `secret`, which a mail
/// that carries one needs.
pub async fn queue_many<C: ConnectionTrait>(
    conn: &C,
    secret: Option<&ServerSecret>,
    mails: &[(&Email, &Rendered)],
) -> Result<Vec<i64>, DbErr> {
    if mails.is_empty() {
        return Ok(vec![]);
    }
    if secret.is_none() && mails.iter().any(|(_, m)| m.secret.is_some()) {
        return Err(DbErr::Custom(
            "a mail that carries a secret was queued without the key to seal it".into(),
        ));
    }
    let at = now();
    let ids = crate::db::allocate_ids(conn, "outbox", mails.len()).await?;
    // Nothing comes back: the ids were allocated above, and the bodies are large.
    let rows: Vec<outbox::ActiveModel> = mails
        .iter()
        .zip(&ids)
        .map(|((to, mail), id)| outbox::ActiveModel {
            id: Set(*id),
            recipient: Set(to.as_str().to_owned()),
            subject: Set(mail.subject.clone()),
            body_text: Set(mail.text.clone()),
            body_html: Set(mail.html.clone()),
            secret_sealed: Set(secret
                .zip(mail.secret.as_deref())
                .map(|(key, s)| key.seal_mail_secret(*id, to.as_str(), s))),
            status: Set(QUEUED.to_owned()),
            attempts: Set(0),
            next_attempt_at: Set(at),
            last_error: Set(None),
            created_at: Set(at),
            sent_at: Set(None),
        })
        .collect();
    crate::db::insert_rows(conn, rows).await?;
    // One job sends them all: a batch of intake queues 128 mails, and the outbox rows keep each
    // mail's own state (sent or not, attempts, last error), so a retry sends only what is unsent.
    crate::jobs::store::enqueue(conn, JOB_KIND, &payload(&ids)).await?;
    Ok(ids)
}

/// The `mail.send` job's payload for these outbox rows.
pub fn payload(ids: &[i64]) -> serde_json::Value {
    serde_json::json!({ "outbox_ids": ids })
}

/// The outbox rows a `mail.send` job names: `outbox_ids`, or `outbox_id` in jobs queued before
/// one job sent many.
pub fn named(payload: &serde_json::Value) -> Option<Vec<i64>> {
    if let Some(id) = payload["outbox_id"].as_i64() {
        return Some(vec![id]);
    }
    payload["outbox_ids"]
        .as_array()?
        .iter()
        .map(serde_json::Value::as_i64)
        .collect()
}

pub async fn find(db: &DatabaseConnection, id: i64) -> Result<Option<outbox::Model>, DbErr> {
    outbox::Entity::find_by_id(id).one(db).await
}

/// What one attempt to send an outbox row came to.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum Attempt {
    Sent,
    /// To be tried again.
    Failed(String),
    /// Never to be tried again.
    Undeliverable(String),
}

pub async fn record_attempt(
    db: &DatabaseConnection,
    row: outbox::Model,
    attempt: Attempt,
) -> Result<(), DbErr> {
    let attempts = row.attempts + 1;
    let mut active: outbox::ActiveModel = row.into();
    active.attempts = Set(attempts);
    match attempt {
        Attempt::Sent => {
            active.status = Set(SENT.to_owned());
            active.sent_at = Set(Some(now()));
            active.last_error = Set(None);
            // Shown once, in the mail just sent: the outbox keeps only the mark in its place.
            active.secret_sealed = Set(None);
        }
        Attempt::Failed(e) => active.last_error = Set(Some(e)),
        Attempt::Undeliverable(e) => {
            active.status = Set(UNDELIVERABLE.to_owned());
            active.last_error = Set(Some(e));
            // Nobody will read it: a secret no mail carries is not kept either.
            active.secret_sealed = Set(None);
        }
    }
    active.update(db).await.map(|_| ())
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn a_job_names_its_outbox_rows_in_either_form() {
        assert_eq!(named(&payload(&[3, 1, 2])), Some(vec![3, 1, 2]));
        assert_eq!(named(&serde_json::json!({"outbox_id": 7})), Some(vec![7]));
        assert_eq!(named(&serde_json::json!({"outbox_ids": [1, "x"]})), None);
        assert_eq!(named(&serde_json::json!({})), None);
    }
}
