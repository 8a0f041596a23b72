//! `insyn bench package`: on the archive `insyn bench import` left, the access package of the
//! heaviest identity built and downloaded over HTTP (median of runs) beside a raw SELECT of the
//! same rows; then the server's peak RSS while building and serving a package of `--big` records.
use crate::audit::Actor;
use crate::mail::rules::{Email, Language};
use crate::packages::rules::PackageKind;
use crate::requests::rules::{ProofMethod, RequestType};
use crate::requests::store::{self as requests, NewIdentity, NewRequest};
use entities::identity;
use sea_orm::{ConnectionTrait, DatabaseConnection, EntityTrait, Statement};
use std::time::Instant;
use tokio::io::{AsyncReadExt, AsyncWriteExt};

pub struct Report {
    pub records: u64,
    pub median_ms: f64,
    pub raw_ms: f64,
    pub big_records: u64,
    pub big_bytes: u64,
    pub big_ms: f64,
    pub rss_before_mb: f64,
    pub peak_rss_mb: f64,
}

/// The process's peak resident set (VmHWM), in MiB.
fn peak_rss_mb() -> f64 {
    std::fs::read_to_string("/proc/self/status")
        .ok()
        .and_then(|s| {
            s.lines()
                .find(|l| l.starts_with("VmHWM:"))
                .and_then(|l| l.split_whitespace().nth(1))
                .and_then(|kb| kb.parse::<f64>().ok())
        })
        .map_or(0.0, |kb| kb / 1024.0)
}

/// GETs `path` with a bearer token and reads the whole answer; its size.
async fn fetch(addr: std::net::SocketAddr, path: &str, token: &str) -> anyhow::Result<u64> {
    let mut s = tokio::net::TcpStream::connect(addr).await?;
    s.write_all(
        format!("GET {path} HTTP/1.1\r\nHost: {addr}\r\nAuthorization: Bearer {token}\r\nConnection: close\r\n\r\n")
            .as_bytes(),
    )
    .await?;
    let mut buf = vec![0u8; 64 * 1024];
    let mut total = 0u64;
    let mut head = Vec::new();
    loop {
        let n = s.read(&mut buf).await?;
        if n == 0 {
            break;
        }
        if head.len() < 16 {
            head.extend_from_slice(&buf[..n.min(16)]);
        }
        total += n as u64;
    }
    anyhow::ensure!(
        head.starts_with(b"HTTP/1.1 200"),
        "download failed: {}",
        String::from_utf8_lossy(&head)
    );
    Ok(total)
}

/// A verified, started access request for `identity`, with its status token.
async fn request_for(
    db: &DatabaseConnection,
    ctx: &requests::Context,
    who: &identity::Model,
) -> anyhow::Result<(i64, String)> {
    let actor = Actor::cli();
    let submitted = requests::submit(
        db,
        ctx,
        NewRequest {
            request_type: RequestType::Access,
            email: Email::parse(&format!("bench-{}@example.se", rand::random::<u32>()))
                .map_err(anyhow::Error::msg)?,
            language: Language::Sv,
            identities: vec![NewIdentity {
                platform: who.platform.clone(),
                value: who.platform_id.clone(),
            }],
            message: None,
            received_at: None,
        },
        &actor,
    )
    .await?;
    let id = submitted.request.id;
    // The address was never confirmed: the proof replaces the token given at submission.
    let (_, token) =
        requests::verify_identity(db, ctx, id, ProofMethod::Other, None, None, &actor).await?;
    requests::assign(db, id, "bench".into(), &actor).await?;
    Ok((id, token.or(submitted.status_token).unwrap_or_default()))
}

pub async fn run(settings: crate::config::Settings, big: u64, runs: u32) -> anyhow::Result<Report> {
    let dir = crate::bench::Scratch::new()?;
    let state = crate::app::prepare(dir.settings(settings)).await?;
    let db = state.db.clone();
    let ctx = state.request_context();
    let storage = state.package_storage();
    let (acceptor, addr) = crate::app::bind("127.0.0.1:0").await?;
    tokio::spawn(crate::app::serve(state, acceptor, std::future::pending()));

    let heaviest = crate::bench::heaviest_identity(&db, None)
        .await?
        .ok_or_else(|| anyhow::anyhow!("the archive is empty: run `insyn bench import` first"))?;
    let who = identity::Entity::find_by_id(heaviest)
        .one(&db)
        .await?
        .ok_or_else(|| anyhow::anyhow!("no identity {heaviest}"))?;
    let (id, token) = request_for(&db, &ctx, &who).await?;
    let mut times = vec![];
    let mut records = 0;
    for _ in 0..runs.max(1) {
        let started = Instant::now();
        let p = crate::packages::store::build_now(&db, &storage, id, PackageKind::Access).await?;
        let built = started.elapsed();
        fetch(addr, &format!("/api/v1/requests/{id}/package"), &token).await?;
        tracing::debug!(build_ms = built.as_secs_f64() * 1000.0, "package built");
        times.push(started.elapsed().as_secs_f64() * 1000.0);
        records = p.records.unwrap_or(0) as u64;
    }
    times.sort_by(f64::total_cmp);
    let median_ms = times[times.len() / 2];
    let backend = db.get_database_backend();
    let sql = match backend {
        sea_orm::DbBackend::Postgres => {
            "SELECT * FROM record WHERE author_identity_id = $1 ORDER BY id"
        }
        _ => "SELECT * FROM record WHERE author_identity_id = ? ORDER BY id",
    };
    let mut raw = vec![];
    for _ in 0..11 {
        let started = Instant::now();
        db.query_all_raw(Statement::from_sql_and_values(
            backend,
            sql,
            [heaviest.into()],
        ))
        .await?;
        raw.push(started.elapsed().as_secs_f64() * 1000.0);
    }
    raw.sort_by(f64::total_cmp);
    let raw_ms = raw[raw.len() / 2];

    // A person with `big` records: the first `big` received records are given to a new identity.
    let rss_before_mb = peak_rss_mb();
    let platform_id = format!("bench-big-{}", rand::random::<u32>());
    let at = crate::audit::now();
    let big_identity = sea_orm::ActiveModelTrait::insert(
        identity::ActiveModel {
            platform: sea_orm::Set("facebook".into()),
            platform_id: sea_orm::Set(platform_id),
            display_name: sea_orm::Set(Some("Bench Big".into())),
            profile_link: sea_orm::Set(None),
            first_seen: sea_orm::Set(at),
            last_seen: sea_orm::Set(at),
            ..Default::default()
        },
        &db,
    )
    .await?;
    let p = |n: usize| crate::db::placeholder(backend, n);
    db.execute_raw(Statement::from_sql_and_values(
        backend,
        format!(
            "UPDATE record SET author_identity_id = {} WHERE id IN \
             (SELECT id FROM record WHERE direction = 'received' ORDER BY id LIMIT {})",
            p(1),
            p(2)
        ),
        [big_identity.id.into(), (big as i64).into()],
    ))
    .await?;
    let (big_id, big_token) = request_for(&db, &ctx, &big_identity).await?;
    let started = Instant::now();
    let pk = crate::packages::store::build_now(&db, &storage, big_id, PackageKind::Access).await?;
    let big_bytes = fetch(
        addr,
        &format!("/api/v1/requests/{big_id}/package"),
        &big_token,
    )
    .await?;
    let big_ms = started.elapsed().as_secs_f64() * 1000.0;
    let peak_rss_mb = peak_rss_mb();
    drop(dir);
    Ok(Report {
        records,
        median_ms,
        raw_ms,
        big_records: pk.records.unwrap_or(0) as u64,
        big_bytes,
        big_ms,
        rss_before_mb,
        peak_rss_mb,
    })
}
