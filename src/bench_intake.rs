//! `insyn bench intake`: requests per second and latency of `POST /api/v1/requests` at N
//! concurrent keep-alive connections, beside `GET /healthz` of the same server in the same run,
//! and beside the raw limit of the rows those requests wrote: the same rows written again by raw
//! statements.
use sea_orm::{ConnectionTrait, DatabaseConnection, Statement, TransactionTrait};
use std::time::{Duration, Instant};
use tokio::io::{AsyncBufReadExt, AsyncReadExt, AsyncWriteExt, BufReader};
use tokio::net::TcpStream;

pub struct Load {
    pub requests: u64,
    pub per_sec: f64,
    pub p50_ms: f64,
    pub p99_ms: f64,
    pub failures: u64,
}

pub struct Report {
    pub intake: Load,
    pub hello: Load,
    pub raw: Raw,
    /// The raw limit of a slimmer store, not built: see [`Shape::Slim`].
    pub raw_slim: Raw,
}

/// What a raw rewrite writes again of the rows the intake wrote.
#[derive(Clone, Copy, PartialEq, Eq)]
enum Shape {
    /// All of them, as they are.
    Whole,
    /// Only what a submission would write if the store kept less: the request, its accounts, its
    /// mails as rows naming what to render when sent (their sealed secrets kept, their bodies
    /// empty), and the mail job; no history entry, diarium entry or audit entry of its own (read
    /// off the request row, or one per batch). The floor of the README's *Not built yet*, measured
    /// so that the team can weigh that change before making it.
    Slim,
}

/// The tables [`Shape::Slim`] writes, parents first.
const SLIM: [&str; 4] = ["request", "request_identity", "outbox", "job"];

/// The statement that writes again the `lo..=hi` run of `table`'s saved rows in `shape`.
fn rewrite(table: &str, shape: Shape, lo: i64, hi: i64) -> String {
    let run = format!("{} BETWEEN {lo} AND {hi}", key(table));
    if shape == Shape::Slim && table == "outbox" {
        // `subject` names the kind of mail, as a slim row would.
        return format!(
            "INSERT INTO outbox (id, recipient, subject, body_text, body_html, status, attempts, \
               next_attempt_at, created_at, secret_sealed) \
             SELECT id, recipient, 'receipt', '', '', status, attempts, next_attempt_at, \
               created_at, secret_sealed FROM bench_saved_outbox WHERE {run}"
        );
    }
    format!("INSERT INTO {table} SELECT * FROM bench_saved_{table} WHERE {run}")
}

/// The rows the intake wrote, written again by raw statements.
pub struct Raw {
    pub rows: u64,
    pub rows_per_sec: f64,
    /// The submissions those rows make up, per second at that rate.
    pub requests_per_sec: f64,
    /// Submissions' rows per transaction.
    pub batch: u64,
}

/// The tables a submission writes rows to, parents first. (It also counts on in
/// `registration_counter`, a row per series and year.) The first is the parent of those in
/// [`CHILDREN`].
const WRITTEN: [&str; 7] = [
    "request",
    "request_identity",
    "request_event",
    "registration",
    "outbox",
    "job",
    "audit_log",
];

/// Tables whose rows belong to a request by a foreign key: they go in the same transaction as their
/// request, which with two writers need not be the one their own ids would say.
const CHILDREN: [&str; 2] = ["request_identity", "request_event"];

async fn last_ids(db: &DatabaseConnection) -> anyhow::Result<Vec<i64>> {
    let mut ids = vec![];
    for t in WRITTEN {
        let row = db
            .query_one_raw(Statement::from_string(
                db.get_database_backend(),
                format!("SELECT COALESCE(MAX(id), 0) FROM {t}"),
            ))
            .await?;
        ids.push(row.map_or(Ok(0), |r| r.try_get_by_index::<i64>(0))?);
    }
    Ok(ids)
}

/// The column a table's runs of rows are cut by.
fn key(table: &str) -> &'static str {
    if CHILDREN.contains(&table) {
        "request_id"
    } else {
        "id"
    }
}

/// The raw limit of the intake's writes: the rows it wrote (those after `before`) are taken out,
/// untimed, and written again by raw `INSERT … SELECT`s from copies, into the same tables with the
/// same indexes, in transactions of the rows of `batch` submissions each (as many as can be in
/// flight at once): no parsing, no binding of values, no round trips but one per table and
/// transaction. Timed: those transactions.
///
/// In [`Shape::Slim`] only some of the rows are written, those of [`SLIM`], and afterwards (untimed)
/// all of them are put back whole.
async fn raw_rewrite(
    db: &DatabaseConnection,
    before: &[i64],
    requests: u64,
    batch: u64,
    shape: Shape,
) -> anyhow::Result<Raw> {
    let backend = db.get_database_backend();
    let mut ranges: Vec<Vec<(i64, i64)>> = vec![];
    let transactions = requests.div_ceil(batch.max(1)).max(1) as usize;
    let mut rows = 0u64;
    for (t, after) in WRITTEN.iter().zip(before) {
        for sql in [
            format!("DROP TABLE IF EXISTS bench_saved_{t}"),
            format!("CREATE TABLE bench_saved_{t} AS SELECT * FROM {t} WHERE id > {after}"),
            format!("CREATE INDEX bench_saved_{t}_id ON bench_saved_{t} (id)"),
            format!(
                "CREATE INDEX bench_saved_{t}_key ON bench_saved_{t} ({})",
                key(t)
            ),
        ] {
            db.execute_unprepared(&sql).await?;
        }
        let ids: Vec<i64> = db
            .query_all_raw(Statement::from_string(
                backend,
                format!("SELECT id FROM bench_saved_{t} ORDER BY id"),
            ))
            .await?
            .iter()
            .map(|r| r.try_get_by_index::<i64>(0))
            .collect::<Result<_, _>>()?;
        if shape == Shape::Whole || SLIM.contains(t) {
            rows += ids.len() as u64;
        }
        if CHILDREN.contains(t) {
            // Taken by their requests' runs.
            ranges.push(ranges[0].clone());
            continue;
        }
        // The table's rows cut into as many even runs as there are transactions.
        ranges.push(
            (0..transactions)
                .map(|k| {
                    let lo = ids.len() * k / transactions;
                    let hi = ids.len() * (k + 1) / transactions;
                    if lo == hi {
                        (1, 0)
                    } else {
                        (ids[lo], ids[hi - 1])
                    }
                })
                .collect(),
        );
    }
    for (t, after) in WRITTEN.iter().zip(before).rev() {
        db.execute_unprepared(&format!("DELETE FROM {t} WHERE id > {after}"))
            .await?;
    }
    let started = Instant::now();
    for k in 0..transactions {
        let txn = db.begin().await?;
        for (t, runs) in WRITTEN.iter().zip(&ranges) {
            let (lo, hi) = runs[k];
            if lo > hi || (shape == Shape::Slim && !SLIM.contains(t)) {
                continue;
            }
            txn.execute_raw(Statement::from_string(backend, rewrite(t, shape, lo, hi)))
                .await?;
        }
        txn.commit().await?;
    }
    let elapsed = started.elapsed().as_secs_f64();
    if shape == Shape::Slim {
        for (t, after) in WRITTEN.iter().zip(before).rev() {
            db.execute_unprepared(&format!("DELETE FROM {t} WHERE id > {after}"))
                .await?;
        }
        for t in WRITTEN {
            db.execute_unprepared(&format!("INSERT INTO {t} SELECT * FROM bench_saved_{t}"))
                .await?;
        }
    }
    for t in WRITTEN {
        db.execute_unprepared(&format!("DROP TABLE bench_saved_{t}"))
            .await?;
    }
    Ok(Raw {
        rows,
        rows_per_sec: rows as f64 / elapsed,
        requests_per_sec: requests as f64 / elapsed,
        batch,
    })
}

/// Sends one HTTP/1.1 request on a kept-alive connection and reads the answer; the status.
async fn exchange(conn: &mut BufReader<TcpStream>, request: &[u8]) -> std::io::Result<u16> {
    conn.get_mut().write_all(request).await?;
    let mut line = String::new();
    conn.read_line(&mut line).await?;
    let status: u16 = line
        .split_whitespace()
        .nth(1)
        .and_then(|s| s.parse().ok())
        .unwrap_or(0);
    let mut length = 0usize;
    loop {
        line.clear();
        conn.read_line(&mut line).await?;
        let l = line.trim_end();
        if l.is_empty() {
            break;
        }
        if let Some((k, v)) = l.split_once(':')
            && k.eq_ignore_ascii_case("content-length")
        {
            length = v.trim().parse().unwrap_or(0);
        }
    }
    let mut body = vec![0u8; length];
    conn.read_exact(&mut body).await?;
    Ok(status)
}

async fn load(
    addr: std::net::SocketAddr,
    connections: u64,
    total: u64,
    expect: u16,
    make: impl Fn(u64) -> Vec<u8> + Send + Sync + Clone + 'static,
) -> anyhow::Result<Load> {
    let started = Instant::now();
    let mut tasks = vec![];
    for c in 0..connections {
        let make = make.clone();
        tasks.push(tokio::spawn(async move {
            let mut conn = BufReader::new(TcpStream::connect(addr).await?);
            let mut times = vec![];
            let mut failures = 0u64;
            let mut i = c;
            while i < total {
                let req = make(i);
                let t = Instant::now();
                let status = exchange(&mut conn, &req).await?;
                times.push(t.elapsed());
                if status != expect {
                    failures += 1;
                }
                i += connections;
            }
            anyhow::Ok((times, failures))
        }));
    }
    let mut times: Vec<Duration> = vec![];
    let mut failures = 0;
    for t in tasks {
        let (ts, f) = t.await??;
        times.extend(ts);
        failures += f;
    }
    let elapsed = started.elapsed().as_secs_f64();
    times.sort_unstable();
    let pct = |p: f64| {
        times
            .get(((times.len() as f64 * p) as usize).min(times.len().saturating_sub(1)))
            .map_or(0.0, |d| d.as_secs_f64() * 1000.0)
    };
    Ok(Load {
        requests: times.len() as u64,
        per_sec: times.len() as f64 / elapsed,
        p50_ms: pct(0.50),
        p99_ms: pct(0.99),
        failures,
    })
}

/// Serves the real app on a free port over `settings` and loads it.
pub async fn run(
    mut settings: crate::config::Settings,
    requests: u64,
    connections: u64,
) -> anyhow::Result<Report> {
    // The budget guards the public against one address; the benchmark is one address.
    settings.public_rate_limit = u32::MAX;
    settings.smtp_url = None;
    let state = crate::app::prepare(settings).await?;
    let db = state.db.clone();
    let (acceptor, addr) = crate::app::bind("127.0.0.1:0").await?;
    tokio::spawn(crate::app::serve(state, acceptor, std::future::pending()));
    let host = addr.to_string();
    let hello = {
        let host = host.clone();
        move |_| format!("GET /healthz HTTP/1.1\r\nHost: {host}\r\n\r\n").into_bytes()
    };
    // Warm both paths, then measure.
    load(addr, connections, connections * 4, 200, hello.clone()).await?;
    let hello = load(addr, connections, requests, 200, hello).await?;
    let run_id: u32 = rand::random();
    let intake = move |i: u64| {
        let body = serde_json::json!({
            "type": "access",
            "email": format!("bench{run_id}-{i}@example.se"),
            "identities": [{"platform": "facebook", "value": format!("{i}")}],
        })
        .to_string();
        format!(
            "POST /api/v1/requests HTTP/1.1\r\nHost: {host}\r\nContent-Type: application/json\r\nContent-Length: {}\r\n\r\n{body}",
            body.len()
        )
        .into_bytes()
    };
    // The warm-up's submissions are not the measured ones: the raw limit rewrites only these.
    load(addr, connections, connections * 4, 202, {
        let intake = intake.clone();
        move |i| intake(requests + i)
    })
    .await?;
    let before = last_ids(&db).await?;
    let intake = load(addr, connections, requests, 202, intake).await?;
    // The mail jobs the submissions queued stay queued: no mail is configured.
    let raw = raw_rewrite(&db, &before, intake.requests, connections, Shape::Whole).await?;
    let raw_slim = raw_rewrite(&db, &before, intake.requests, connections, Shape::Slim).await?;
    Ok(Report {
        intake,
        hello,
        raw,
        raw_slim,
    })
}
