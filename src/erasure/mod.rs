//! Erasure that keeps public documents (GDPR Art. 17 against TF 2 kap. and Arkivlagen): a plan of
//! per-item decisions with legal grounds, the officer's exclusions and approval, an execution in one
//! transaction, a suppression list so erased items stay erased, and an item-by-item reply.
pub mod api;
pub mod rules;
pub mod store;

pub use rules::{Policy, SuppressionKey};
pub use store::Context;

/// Reads the server's secret for the suppression list: the configured one, or else the key file in
/// the data directory, created (readable by the owner only) on first start. Without the same key a
/// later import cannot recognise what was erased: keep it with the database's backups.
pub fn load_key(settings: &crate::config::Settings) -> std::io::Result<SuppressionKey> {
    if let Some(secret) = &settings.secret_key {
        return Ok(SuppressionKey::new(secret.as_bytes()));
    }
    let dir = std::path::Path::new(&settings.data_dir);
    let path = dir.join("secret.key");
    match std::fs::read_to_string(&path) {
        Ok(s) if !s.trim().is_empty() => return Ok(SuppressionKey::new(s.trim().as_bytes())),
        Ok(_) => {}
        Err(e) if e.kind() == std::io::ErrorKind::NotFound => {}
        Err(e) => return Err(e),
    }
    std::fs::create_dir_all(dir)?;
    let secret = hex::encode(rand::random::<[u8; 32]>());
    let mut options = std::fs::OpenOptions::new();
    options.write(true).create_new(true);
    #[cfg(unix)]
    std::os::unix::fs::OpenOptionsExt::mode(&mut options, 0o600);
    match options.open(&path) {
        Ok(mut f) => {
            use std::io::Write;
            f.write_all(secret.as_bytes())?;
            f.sync_all()?;
            Ok(SuppressionKey::new(secret.as_bytes()))
        }
        // Another process wrote it first: use theirs.
        Err(e) if e.kind() == std::io::ErrorKind::AlreadyExists => Ok(SuppressionKey::new(
            std::fs::read_to_string(&path)?.trim().as_bytes(),
        )),
        Err(e) => Err(e),
    }
}

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
