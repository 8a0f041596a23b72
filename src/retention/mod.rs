//! Retention under Arkivlagen: disposal decisions (gallringsbeslut) say what may be disposed of and
//! when; legal holds stop it; the disposal run deletes only what a decision allows.
pub mod api;
pub mod rules;
pub mod store;

/// The job that runs the disposal every day.
pub const JOB_KIND: &str = "retention.dispose";

/// Runs the disposal for today and schedules tomorrow's run. Harmless to run twice: a second run
/// finds nothing left to dispose of.
pub async fn run_daily(
    db: &sea_orm::DatabaseConnection,
    tz: chrono_tz::Tz,
) -> Result<(), sea_orm::DbErr> {
    let actor = crate::audit::Actor {
        id: format!("job:{JOB_KIND}"),
        role: "system".into(),
    };
    let run = store::dispose(db, api::today(tz), tz, true, &actor).await?;
    tracing::info!(
        checked = run.checked,
        disposed = run.disposed(),
        "disposal run"
    );
    Ok(())
}

/// Tomorrow, 02:00 UTC: a quiet hour for the archive.
pub fn next_run() -> chrono::DateTime<chrono::Utc> {
    let tomorrow = chrono::Utc::now().date_naive() + chrono::Days::new(1);
    tomorrow.and_hms_opt(2, 0, 0).unwrap_or_default().and_utc()
}
