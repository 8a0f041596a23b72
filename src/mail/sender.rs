//! Sends outbox mail over SMTP with lettre; the job runner retries with backoff.
use super::rules::fill_secret;
use super::store;
use crate::secret::ServerSecret;
use lettre::{
    AsyncSmtpTransport, AsyncTransport, Message, Tokio1Executor,
    message::{Mailbox, MultiPart},
};
use sea_orm::DatabaseConnection;
use std::time::Duration;

#[derive(Clone)]
pub struct Sender {
    transport: AsyncSmtpTransport<Tokio1Executor>,
    from: Mailbox,
    /// Opens the secrets the outbox keeps sealed.
    secret: ServerSecret,
}

#[derive(Debug, thiserror::Error)]
pub enum SenderError {
    #[error("INSYN_SMTP_URL is not a valid SMTP URL: {0}")]
    Url(#[source] lettre::transport::smtp::Error),
    #[error("INSYN_MAIL_FROM is not a valid mailbox: {0}")]
    From(#[source] lettre::address::AddressError),
}

impl Sender {
    pub fn new(smtp_url: &str, from: &str, secret: ServerSecret) -> Result<Self, SenderError> {
        let transport = AsyncSmtpTransport::<Tokio1Executor>::from_url(smtp_url)
            .map_err(SenderError::Url)?
            .timeout(Some(Duration::from_secs(20)))
            .build();
        Ok(Sender {
            transport,
            from: from.parse().map_err(SenderError::From)?,
            secret,
        })
    }

    /// The `mail.send` job: sends each outbox row that was not sent yet, every one of them even
    /// when one fails (a bad address must not hold back the others); fails if any did, so that the
    /// job is tried again for those.
    pub async fn send_all(
        &self,
        db: &DatabaseConnection,
        outbox_ids: &[i64],
    ) -> Result<(), String> {
        let mut failed = 0;
        for &id in outbox_ids {
            if self.send_outbox(db, id).await.is_err() {
                failed += 1;
            }
        }
        match failed {
            0 => Ok(()),
            n => Err(format!("{n} of {} mails not sent", outbox_ids.len())),
        }
    }

    /// The message to send, or why not: [`store::Attempt::Undeliverable`] when the mail can never
    /// be sent as it is (its recipient is no address), [`store::Attempt::Failed`] when this
    /// server cannot send it now. A secret that does not open with this server's key is the
    /// latter: an instance started with another key (a mistyped setting, another host's key file)
    /// must leave the mail for one that has the right key, not destroy its secret.
    fn message(&self, row: &entities::outbox::Model) -> Result<Message, store::Attempt> {
        let to = row.recipient.parse().map_err(|_| {
            store::Attempt::Undeliverable("the recipient is not an address".to_owned())
        })?;
        let (text, html) = match &row.secret_sealed {
            None => (row.body_text.clone(), row.body_html.clone()),
            Some(sealed) => {
                let secret = self
                    .secret
                    .open_mail_secret(row.id, &row.recipient, sealed)
                    .ok_or_else(|| {
                        store::Attempt::Failed(
                            "the mail's secret does not open with this server's secret".to_owned(),
                        )
                    })?;
                fill_secret(&row.body_text, &row.body_html, &secret)
            }
        };
        Message::builder()
            .from(self.from.clone())
            .to(to)
            .subject(row.subject.clone())
            .multipart(MultiPart::alternative_plain_html(text, html))
            .map_err(|e| store::Attempt::Undeliverable(format!("message could not be built: {e}")))
    }

    /// Sends one outbox row unless it was already sent (or can never be). An SMTP error, of
    /// whatever kind, is tried again: a server refusing every mail for an hour is as likely a
    /// misconfiguration as a bad mailbox, and the mail must not be lost to it.
    async fn send_outbox(&self, db: &DatabaseConnection, outbox_id: i64) -> Result<(), String> {
        let row = store::find(db, outbox_id)
            .await
            .map_err(|e| format!("outbox lookup failed: {e}"))?
            .ok_or_else(|| format!("outbox {outbox_id} is gone"))?;
        if row.status != store::QUEUED {
            return Ok(());
        }
        // A mail whose recipient is no address never will be sent: the outbox row says why, and
        // it is not tried again.
        let attempt = match self.message(&row) {
            Ok(message) => match self.transport.send(message).await {
                Ok(_) => store::Attempt::Sent,
                // Errors from lettre can quote the SMTP dialogue, which names the recipient: log
                // and keep the kind only.
                Err(e) => store::Attempt::Failed(format!(
                    "SMTP {} error",
                    if e.is_permanent() {
                        "permanent"
                    } else {
                        "transient"
                    }
                )),
            },
            Err(why) => why,
        };
        let outcome = match &attempt {
            store::Attempt::Sent => {
                tracing::info!(outbox_id, "mail sent");
                Ok(())
            }
            store::Attempt::Failed(e) => {
                tracing::warn!(outbox_id, error = %e, "mail not sent; will retry");
                Err(e.clone())
            }
            store::Attempt::Undeliverable(e) => {
                tracing::error!(outbox_id, error = %e, "mail cannot be sent; left in the outbox");
                Ok(())
            }
        };
        store::record_attempt(db, row, attempt)
            .await
            .map_err(|e| format!("outbox update failed: {e}"))?;
        outcome
    }
}
