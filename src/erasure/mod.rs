//! Erasure that keeps public documents (GDPR Art. 17 against TF 2 kap. and Arkivlagen): a plan of
//! per-item decisions with legal grounds, the officer's exclusions and approval, an execution in one
//! transaction, a suppression list so erased items stay erased, and an item-by-item reply.
pub mod api;
pub mod rules;
pub mod store;

pub use rules::{Policy, SuppressionKey};
pub use store::Context;

/// The erasure policy: the built-in one, or the configured file laid over it.
pub fn load_policy(settings: &crate::config::Settings) -> Result<Policy, String> {
    match &settings.erasure_policy {
        None => Ok(Policy::default()),
        Some(path) => {
            let text = std::fs::read_to_string(path)
                .map_err(|e| format!("cannot read the erasure policy {path}: {e}"))?;
            Policy::from_toml(Some(&text)).map_err(|e| format!("the erasure policy {path}: {e}"))
        }
    }
}

/// What the person reads of an executed erasure, item by item (none before it is executed).
pub async fn outcome(
    db: &sea_orm::DatabaseConnection,
    ctx: &Context,
    request_id: i64,
    lang: crate::mail::rules::Language,
) -> Result<Vec<store::Told>, sea_orm::DbErr> {
    store::told(db, ctx, request_id, lang).await
}
