//! Builds a package as a ZIP on disk, page by page: memory stays bounded however many records the
//! person has. Each file's SHA-256 and size go into `manifest.json`.
//!
//! Three stages, each on a thread of its own, with at most two parts in flight between them:
//! the reader and the assembler (`read.rs`), and the writer (`write.rs`). [`build`] runs them.
use crate::mail::rules::Language;
use crate::packages::rules::PackageKind;
use crate::retention::rules::Decision;
use entities::{
    channel, identity, identity_block, moderation, request, request_identity, request_match,
};
use sea_orm::{ColumnTrait, DatabaseConnection, DbErr, EntityTrait, QueryFilter, QueryOrder};
use sha2::{Digest, Sha256};
use std::collections::HashMap;
use std::path::{Path, PathBuf};

mod read;
mod write;
use read::{Assembly, Consent, Item, Role, Source, assemble_all, feed};
use write::write;

#[derive(Debug, thiserror::Error)]
pub enum BuildError {
    #[error(transparent)]
    Db(#[from] DbErr),
    #[error("writing the package: {0}")]
    Io(#[from] std::io::Error),
    #[error("writing the package: {0}")]
    Zip(#[from] zip::result::ZipError),
    #[error("the records stopped before the end of the package")]
    Incomplete,
}

/// A built package on disk.
pub struct Built {
    pub path: PathBuf,
    pub sha256: String,
    pub size: u64,
    pub records: u64,
}

/// The identities a request may act on: accounts proven the person's, and matches an officer
/// confirmed. Nothing matched by name alone.
pub async fn verified_identities<C: sea_orm::ConnectionTrait>(
    db: &C,
    request_id: i64,
) -> Result<Vec<identity::Model>, DbErr> {
    let mut ids: Vec<i64> = request_identity::Entity::find()
        .filter(request_identity::Column::RequestId.eq(request_id))
        .filter(request_identity::Column::VerifiedAt.is_not_null())
        .all(db)
        .await?
        .into_iter()
        .filter_map(|i| i.identity_id)
        .collect();
    ids.extend(
        request_match::Entity::find()
            .filter(request_match::Column::RequestId.eq(request_id))
            .filter(request_match::Column::State.eq("confirmed"))
            .all(db)
            .await?
            .into_iter()
            .map(|m| m.identity_id),
    );
    ids.sort_unstable();
    ids.dedup();
    identity::Entity::find()
        .filter(identity::Column::Id.is_in(ids))
        .order_by_asc(identity::Column::Id)
        .all(db)
        .await
}

/// Everything the writer needs besides the records.
struct Head {
    dir: PathBuf,
    time_zone: chrono_tz::Tz,
    package_id: i64,
    req: request::Model,
    kind: PackageKind,
    lang: Language,
    identities: Vec<identity::Model>,
    channels: HashMap<i64, String>,
    decisions: Vec<Decision>,
    earlier: Vec<request::Model>,
    blocks: Vec<BlockOut>,
    built_at: chrono::DateTime<chrono::Utc>,
    started: std::time::Instant,
}

/// A block of one of the person's accounts on one of our channels, with the moderation decision
/// it came from (its rule and registration number), when there is one.
#[derive(serde::Serialize)]
struct BlockOut {
    channel: String,
    blocked_at: chrono::DateTime<chrono::Utc>,
    rule: Option<String>,
    registration_number: Option<String>,
}

/// The blocks of `identities`, oldest first.
async fn blocks_of(
    db: &DatabaseConnection,
    identities: &[i64],
    channels: &HashMap<i64, String>,
) -> Result<Vec<BlockOut>, DbErr> {
    let blocks = identity_block::Entity::find()
        .filter(identity_block::Column::IdentityId.is_in(identities.to_vec()))
        .order_by_asc(identity_block::Column::BlockedAt)
        .order_by_asc(identity_block::Column::Id)
        .all(db)
        .await?;
    let decided: HashMap<i64, moderation::Model> = moderation::Entity::find()
        .filter(moderation::Column::Id.is_in(blocks.iter().filter_map(|b| b.moderation_id)))
        .all(db)
        .await?
        .into_iter()
        .map(|m| (m.id, m))
        .collect();
    Ok(blocks
        .into_iter()
        .map(|b| {
            let m = b.moderation_id.and_then(|id| decided.get(&id));
            BlockOut {
                channel: channels.get(&b.channel_id).cloned().unwrap_or_default(),
                blocked_at: b.blocked_at,
                rule: m.map(|m| m.rule.clone()),
                registration_number: m.map(|m| m.registration_number.clone()),
            }
        })
        .collect())
}

impl Head {
    fn lap(&self, phase: &str) {
        tracing::debug!(
            phase,
            ms = self.started.elapsed().as_secs_f64() * 1000.0,
            "package build"
        );
    }
}

/// What the reader hands the writer, in order.
enum Part {
    Records(Vec<Item>),
    /// What comes after the records. A writer that never gets it gives up.
    End {
        consents: Vec<Consent>,
        withheld: u64,
        restricted: u64,
    },
}

/// Builds the package for `req` into `dir`. The records are read here while a blocking thread
/// writes the pages already read into the ZIP: reading and compressing overlap, and no file is
/// written on the async runtime's threads.
pub async fn build(
    db: &DatabaseConnection,
    storage: &super::Storage,
    package_id: i64,
    req: &request::Model,
    kind: PackageKind,
) -> Result<Built, BuildError> {
    let lang = if req.language == "en" {
        Language::En
    } else {
        Language::Sv
    };
    let started = std::time::Instant::now();
    let identities = verified_identities(db, req.id).await?;
    let identity_ids: Vec<i64> = identities.iter().map(|i| i.id).collect();
    let channels: HashMap<i64, String> = channel::Entity::find()
        .all(db)
        .await?
        .into_iter()
        .map(|c| (c.id, format!("{}:{}", c.platform, c.name)))
        .collect();
    let decisions = crate::retention::store::decisions(db).await?;
    let earlier = requests_of(db, req.id, &identity_ids).await?;
    let blocks = match kind {
        PackageKind::Access => blocks_of(db, &identity_ids, &channels).await?,
        // An export holds what the person provided; a block is the municipality's act.
        PackageKind::Export => vec![],
    };
    let head = Head {
        dir: storage.dir.clone(),
        time_zone: storage.time_zone,
        package_id,
        req: req.clone(),
        kind,
        lang,
        identities,
        channels,
        decisions,
        earlier,
        blocks,
        built_at: crate::audit::now(),
        started,
    };
    head.lap("read around the records");
    let assembly = Assembly::read(db, identity_ids.clone(), lang).await?;
    let source = Source {
        db,
        identity_ids,
        roles: match kind {
            // What the municipality sent the person is personal data held about them (Art. 15),
            // but not data they provided (Art. 20).
            PackageKind::Access => &[Role::Author, Role::Recipient],
            PackageKind::Export => &[Role::Author],
        },
    };
    // Three stages, each on a thread of its own: the reader here, which waits for the database;
    // the assembler, which parses what was read; the writer, which formats and compresses. Two
    // parts in flight between stages at most: memory stays bounded whatever the record count.
    let (raw_tx, mut raw_rx) = tokio::sync::mpsc::channel(2);
    let (tx, mut rx) = tokio::sync::mpsc::channel(2);
    let started = head.started;
    let writer = tokio::task::spawn_blocking(move || write(head, &mut rx));
    let assembler =
        tokio::task::spawn_blocking(move || assemble_all(&assembly, &mut raw_rx, &tx, started));
    let read = feed(&source, &raw_tx).await;
    drop(raw_tx);
    let gone = |e: tokio::task::JoinError| BuildError::Io(std::io::Error::other(e));
    let assembled = assembler.await.map_err(gone)?;
    let written = writer.await.map_err(gone)?;
    // A failed read is the cause of the others' "incomplete": report it first.
    read?;
    assembled?;
    written
}

/// SHA-256 and size of a file, read in chunks.
pub fn hash_file(path: &Path) -> std::io::Result<(String, u64)> {
    use std::io::Read;
    let mut f = std::fs::File::open(path)?;
    let mut hash = Sha256::new();
    let mut buf = vec![0u8; 64 * 1024];
    let mut size = 0u64;
    loop {
        let n = f.read(&mut buf)?;
        if n == 0 {
            break;
        }
        hash.update(&buf[..n]);
        size += n as u64;
    }
    Ok((hex::encode(hash.finalize()), size))
}

/// The person's requests, this one among them: those that acted on one of their accounts as
/// theirs. Not those filed from the same address: a family's shared address is not one person,
/// and the person may have written from another.
async fn requests_of(
    db: &DatabaseConnection,
    this: i64,
    identity_ids: &[i64],
) -> Result<Vec<request::Model>, DbErr> {
    let mut ids = crate::requests::acting_on(db, identity_ids).await?;
    ids.push(this);
    request::Entity::find()
        .filter(request::Column::Id.is_in(ids))
        .order_by_asc(request::Column::Id)
        .all(db)
        .await
}
