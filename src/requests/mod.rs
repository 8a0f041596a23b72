//! Data-subject requests: intake, proof of identity (a mailed code, a phrase sent from the claimed
//! account, or an officer's check), the officer's queue and actions, the Art. 12(3) clock, mail.
pub mod api;
pub mod clock;
mod intakes;
pub mod mail;
pub mod rules;
pub mod store;

pub use intakes::Intakes;
/// What other capabilities (erasure) use to act on a request's case file.
pub use store::{RequestError, event, language_of, lock, log, move_to, send, status_of};
pub use store::{acting_on, link_accounts, prove_by_message};

/// The job that mails the officers their daily digest.
pub const DIGEST_JOB: &str = "requests.digest";

/// Sends today's digest and schedules tomorrow's.
pub async fn run_digest(
    db: &sea_orm::DatabaseConnection,
    ctx: &store::Context,
    officers: &[crate::mail::rules::Email],
) -> Result<(), sea_orm::DbErr> {
    let sent = store::send_digest(db, ctx, officers).await?;
    tracing::info!(sent, "officer digest");
    Ok(())
}

/// 07:00 tomorrow where the municipality is.
pub fn next_digest(ctx: &store::Context) -> chrono::DateTime<chrono::Utc> {
    use chrono::TimeZone;
    let tomorrow = ctx.today(chrono::Utc::now()) + chrono::Days::new(1);
    let at = tomorrow.and_hms_opt(7, 0, 0).unwrap_or_default();
    ctx.time_zone
        .from_local_datetime(&at)
        .earliest()
        .map(|t| t.with_timezone(&chrono::Utc))
        .unwrap_or_else(|| at.and_utc())
}
