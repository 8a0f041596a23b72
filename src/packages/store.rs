//! Packages over `package`: queued when a request is completed, built by a job, downloaded while
//! the link is valid, purged when it expires.
use super::build::{self, BuildError};
use super::rules::{PackageKind, PackageStatus};
use crate::audit::{self, Actor, NewEntry, now};
use crate::mail::rules::{Email, Language};
use entities::{package, request};
use sea_orm::{
    ActiveModelTrait, ColumnTrait, ConnectionTrait, DatabaseConnection, DbErr, EntityTrait,
    QueryFilter, QueryOrder, Set, TransactionTrait,
};
use std::path::PathBuf;

/// The job that builds a package.
pub const BUILD_JOB: &str = "packages.build";
/// The job that purges expired packages, daily.
pub const PURGE_JOB: &str = "packages.purge";

/// Where packages live and for how long.
#[derive(Clone, Debug)]
pub struct Storage {
    pub dir: PathBuf,
    pub days: i64,
    pub public_url: String,
    /// The municipality's: the days a record's retention counts from.
    pub time_zone: chrono_tz::Tz,
}

fn system(kind: &str) -> Actor {
    Actor {
        id: format!("job:{kind}"),
        role: "system".into(),
    }
}

/// Queues the package of a completed access or export request, in the caller's transaction.
pub async fn queue_build<C: ConnectionTrait>(
    txn: &C,
    request_id: i64,
    kind: PackageKind,
) -> Result<package::Model, DbErr> {
    let p = new_package(txn, request_id, kind).await?;
    crate::jobs::store::enqueue(txn, BUILD_JOB, &serde_json::json!({"package_id": p.id})).await?;
    Ok(p)
}

async fn new_package<C: ConnectionTrait>(
    txn: &C,
    request_id: i64,
    kind: PackageKind,
) -> Result<package::Model, DbErr> {
    package::ActiveModel {
        request_id: Set(request_id),
        kind: Set(kind.as_str().to_owned()),
        status: Set(PackageStatus::Building.as_str().to_owned()),
        file_name: Set(None),
        sha256: Set(None),
        size: Set(None),
        records: Set(None),
        downloads: Set(0),
        created_at: Set(now()),
        built_at: Set(None),
        expires_at: Set(None),
        error: Set(None),
        ..Default::default()
    }
    .insert(txn)
    .await
}

/// The package as built: ready until `days` from now. None when it is no longer being built: an
/// erasure executed while it was built took it (`erased`), and what was read for it before the
/// erasure must not become downloadable.
async fn mark_ready<C: ConnectionTrait>(
    conn: &C,
    p: package::Model,
    built: &build::Built,
    days: i64,
) -> Result<Option<package::Model>, DbErr> {
    use sea_orm::sea_query::Expr;
    let at = now();
    let expires = at + chrono::Duration::days(days);
    let file_name = built
        .path
        .file_name()
        .map(|f| f.to_string_lossy().into_owned());
    let updated = package::Entity::update_many()
        .col_expr(
            package::Column::Status,
            Expr::value(PackageStatus::Ready.as_str()),
        )
        .col_expr(package::Column::FileName, Expr::value(file_name))
        .col_expr(package::Column::Sha256, Expr::value(built.sha256.clone()))
        .col_expr(package::Column::Size, Expr::value(built.size as i64))
        .col_expr(package::Column::Records, Expr::value(built.records as i64))
        .col_expr(package::Column::BuiltAt, Expr::value(at))
        .col_expr(package::Column::ExpiresAt, Expr::value(expires))
        .filter(package::Column::Id.eq(p.id))
        .filter(package::Column::Status.eq(PackageStatus::Building.as_str()))
        .exec(conn)
        .await?;
    if updated.rows_affected == 0 {
        return Ok(None);
    }
    package::Entity::find_by_id(p.id).one(conn).await
}

fn ready_mail(
    lang: Language,
    reference: &str,
    link: &str,
    until: &str,
) -> crate::mail::rules::Rendered {
    use crate::mail::rules::layout;
    match lang {
        Language::Sv => layout(
            lang,
            &format!("Dina uppgifter finns att hämta – {reference}"),
            &[
                "Hej!".into(),
                format!("Filen med dina uppgifter i ärende {reference} är klar."),
                format!(
                    "Hämta den via statussidan för ärendet (använd den senaste länken vi har mejlat dig): {link}"
                ),
                format!("Filen finns kvar till och med {until}."),
            ],
        ),
        Language::En => layout(
            lang,
            &format!("Your data is ready to download – {reference}"),
            &[
                "Hello,".into(),
                format!("The file with your data for request {reference} is ready."),
                format!(
                    "Download it from the request's status page (use the latest link we emailed you): {link}"
                ),
                format!("It is available until {until}."),
            ],
        ),
    }
}

/// Builds a queued package, then mails the person that it is ready. Run by the job; an error
/// leaves the package `building` and the job retries.
pub async fn build_queued(
    db: &DatabaseConnection,
    storage: &Storage,
    package_id: i64,
) -> Result<(), BuildError> {
    let Some(p) = package::Entity::find_by_id(package_id).one(db).await? else {
        return Ok(());
    };
    if p.status != PackageStatus::Building.as_str() {
        return Ok(());
    }
    let Some(req) = request::Entity::find_by_id(p.request_id).one(db).await? else {
        return Ok(());
    };
    let kind = PackageKind::parse(&p.kind).unwrap_or(PackageKind::Access);
    let built = build::build(db, storage, p.id, &req, kind).await?;
    let path = built.path.clone();
    let published = publish(db, storage, p, &req, built).await;
    // Not committed as ready: the file is no package's, and a retry builds another. Left behind,
    // it would hold the person's records past any expiry or erasure.
    if !matches!(published, Ok(true))
        && let Err(e) = tokio::fs::remove_file(&path).await
    {
        tracing::warn!(package = package_id, error = %e, "could not remove a package built for nothing");
    }
    published.map(|_| ())
}

/// Marks a built package ready, mails the person and audits it, in one transaction; false when
/// the package was no longer being built (an erasure took it meanwhile).
async fn publish(
    db: &DatabaseConnection,
    storage: &Storage,
    p: package::Model,
    req: &request::Model,
    built: build::Built,
) -> Result<bool, BuildError> {
    let txn = db.begin().await?;
    let Some(p) = mark_ready(&txn, p, &built, storage.days).await? else {
        return Ok(false);
    };
    let expires = p.expires_at.unwrap_or_else(now);
    let lang = if req.language == "en" {
        Language::En
    } else {
        Language::Sv
    };
    if let Ok(to) = Email::parse(&req.email) {
        let link = format!(
            "{}/requests/{}",
            storage.public_url.trim_end_matches('/'),
            req.id
        );
        crate::mail::store::queue(
            &txn,
            &to,
            &ready_mail(
                lang,
                &req.reference,
                &link,
                &expires.date_naive().to_string(),
            ),
        )
        .await?;
    }
    audit::append(
        &txn,
        &system(BUILD_JOB),
        NewEntry {
            action: "package.build",
            target: format!("request:{}", req.id),
            details: serde_json::json!({"package": p.id, "sha256": built.sha256, "size": built.size, "records": built.records}),
        },
    )
    .await?;
    txn.commit().await?;
    Ok(true)
}

/// Keeps why a build failed (ids and causes, no personal data) for the officer and the
/// citizen's status; the job retries.
pub async fn record_failure(
    db: &DatabaseConnection,
    package_id: i64,
    why: &str,
    last: bool,
) -> Result<(), DbErr> {
    if let Some(p) = package::Entity::find_by_id(package_id)
        .filter(package::Column::Status.eq(PackageStatus::Building.as_str()))
        .one(db)
        .await?
    {
        let mut a: package::ActiveModel = p.into();
        a.error = Set(Some(why.chars().take(500).collect()));
        if last {
            // No more attempts: the package is failed, not forever "being built".
            tracing::error!(
                package = package_id,
                "a package could not be built and will not be retried"
            );
            a.status = Set(PackageStatus::Failed.as_str().to_owned());
        }
        a.update(db).await?;
    }
    Ok(())
}

#[derive(Debug, thiserror::Error)]
pub enum DownloadError {
    #[error("there is no package for this request")]
    None,
    #[error("the package is being built")]
    NotReady,
    #[error("the package could not be built; it is retried")]
    Failed,
    #[error("the package could not be built and is not retried")]
    GaveUp,
    #[error("the download link has expired")]
    Expired,
    #[error("the package was erased at the person's request")]
    Erased,
    /// The package's file cannot be read (the io error stays in the log).
    #[error("the package's file cannot be read")]
    File(#[source] std::io::Error),
    #[error(transparent)]
    Db(#[from] DbErr),
}

/// The latest package of a request, counted and audited as a download, and its file: opened
/// before the download is counted, so that a file that cannot be read counts nothing.
pub async fn open_download(
    db: &DatabaseConnection,
    storage: &Storage,
    request_id: i64,
    actor: &Actor,
) -> Result<(package::Model, tokio::fs::File), DownloadError> {
    let p = package::Entity::find()
        .filter(package::Column::RequestId.eq(request_id))
        .order_by_desc(package::Column::Id)
        .one(db)
        .await?
        .ok_or(DownloadError::None)?;
    match PackageStatus::parse(&p.status) {
        Some(PackageStatus::Ready) => {}
        Some(PackageStatus::Expired) => return Err(DownloadError::Expired),
        Some(PackageStatus::Erased) => return Err(DownloadError::Erased),
        Some(PackageStatus::Failed) => return Err(DownloadError::GaveUp),
        _ if p.error.is_some() => return Err(DownloadError::Failed),
        _ => return Err(DownloadError::NotReady),
    }
    if p.expires_at.is_none_or(|e| e < now()) {
        return Err(DownloadError::Expired);
    }
    let path = storage.dir.join(p.file_name.clone().unwrap_or_default());
    let file = tokio::fs::File::open(&path)
        .await
        .map_err(DownloadError::File)?;
    let txn = db.begin().await?;
    let downloads = p.downloads + 1;
    let mut a: package::ActiveModel = p.into();
    a.downloads = Set(downloads);
    let p = a.update(&txn).await?;
    audit::append(
        &txn,
        actor,
        NewEntry {
            action: "package.download",
            target: format!("request:{request_id}"),
            details: serde_json::json!({"package": p.id, "downloads": downloads}),
        },
    )
    .await?;
    txn.commit().await?;
    Ok((p, file))
}

/// Deletes the files of expired packages and marks them expired.
pub async fn purge(db: &DatabaseConnection, storage: &Storage) -> Result<u64, DbErr> {
    remove_erased_files(db, storage).await?;
    sweep(db, storage).await?;
    let expired = package::Entity::find()
        .filter(package::Column::Status.eq(PackageStatus::Ready.as_str()))
        .filter(package::Column::ExpiresAt.lt(now()))
        .all(db)
        .await?;
    let mut n = 0;
    for p in expired {
        // A file that cannot be removed now stays on the list for the next purge, rather than
        // be marked expired and forgotten with the person's records in it.
        if let Some(f) = &p.file_name
            && let Err(e) = std::fs::remove_file(storage.dir.join(f))
            && e.kind() != std::io::ErrorKind::NotFound
        {
            tracing::warn!(package = p.id, error = %e, "could not remove an expired package");
            continue;
        }
        let id = p.id;
        let request_id = p.request_id;
        let mut a: package::ActiveModel = p.into();
        a.status = Set(PackageStatus::Expired.as_str().to_owned());
        let txn = db.begin().await?;
        a.update(&txn).await?;
        audit::append(
            &txn,
            &system(PURGE_JOB),
            NewEntry {
                action: "package.purge",
                target: format!("request:{request_id}"),
                details: serde_json::json!({"package": id}),
            },
        )
        .await?;
        txn.commit().await?;
        n += 1;
    }
    Ok(n)
}

/// The request's newest package, if it has one.
pub async fn latest(
    db: &DatabaseConnection,
    request_id: i64,
) -> Result<Option<package::Model>, DbErr> {
    package::Entity::find()
        .filter(package::Column::RequestId.eq(request_id))
        .order_by_desc(package::Column::Id)
        .one(db)
        .await
}

/// Removes the files of packages an erasure marked erased, and then forgets their names. The
/// erasure calls it after its commit; the purge job calls it too, so a file left behind by a crash
/// between the two is removed the next night.
pub async fn remove_erased_files(db: &DatabaseConnection, storage: &Storage) -> Result<u64, DbErr> {
    let erased = package::Entity::find()
        .filter(package::Column::Status.eq(PackageStatus::Erased.as_str()))
        .filter(package::Column::FileName.is_not_null())
        .all(db)
        .await?;
    let n = erased.len() as u64;
    for p in erased {
        if let Some(f) = &p.file_name {
            match std::fs::remove_file(storage.dir.join(f)) {
                Ok(()) => {}
                Err(e) if e.kind() == std::io::ErrorKind::NotFound => {}
                // Kept for the next sweep rather than forgotten with the file still there.
                Err(e) => {
                    tracing::warn!(package = p.id, error = %e, "could not remove an erased package's file");
                    continue;
                }
            }
        }
        let mut a: package::ActiveModel = p.into();
        a.file_name = Set(None);
        a.update(db).await?;
    }
    Ok(n)
}

/// Builds a request's package at once, without the job or the mail: for benchmarks and tools.
pub async fn build_now(
    db: &DatabaseConnection,
    storage: &Storage,
    request_id: i64,
    kind: PackageKind,
) -> Result<package::Model, BuildError> {
    let p = new_package(db, request_id, kind).await?;
    let req = request::Entity::find_by_id(request_id)
        .one(db)
        .await?
        .ok_or_else(|| DbErr::RecordNotFound(format!("request {request_id}")))?;
    let built = build::build(db, storage, p.id, &req, kind).await?;
    let id = p.id;
    mark_ready(db, p, &built, storage.days)
        .await?
        .ok_or_else(|| {
            DbErr::RecordNotFound(format!("package {id} is no longer being built")).into()
        })
}

/// How long a file in the package directory may go unclaimed before the purge takes it: longer
/// than any build takes to write its parts and commit.
const UNCLAIMED: std::time::Duration = std::time::Duration::from_secs(6 * 3600);

/// Removes what no package holds: the parts of a build cut short by a crash, and a ZIP whose
/// package never became ready (or was erased, or expired). Each is a copy of someone's records
/// that no expiry and no erasure would otherwise reach.
async fn sweep(db: &DatabaseConnection, storage: &Storage) -> Result<(), DbErr> {
    let Ok(entries) = std::fs::read_dir(&storage.dir) else {
        return Ok(());
    };
    let held: std::collections::HashSet<String> = package::Entity::find()
        .filter(package::Column::Status.eq(PackageStatus::Ready.as_str()))
        .all(db)
        .await?
        .into_iter()
        .filter_map(|p| p.file_name)
        .collect();
    for entry in entries.flatten() {
        let name = entry.file_name().to_string_lossy().into_owned();
        let old = entry
            .metadata()
            .and_then(|m| m.modified())
            .ok()
            .and_then(|t| t.elapsed().ok())
            .is_some_and(|age| age > UNCLAIMED);
        if old && !held.contains(&name) {
            match std::fs::remove_file(entry.path()) {
                Ok(()) => tracing::info!(file = %name, "removed a package file no package holds"),
                Err(e) => {
                    tracing::warn!(file = %name, error = %e, "could not remove a package file no package holds")
                }
            }
        }
    }
    Ok(())
}
