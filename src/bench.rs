//! `insyn bench import`: generates a realistic archive as NDJSON, imports it through the real parser
//! and store, and in the same run measures a raw multi-row INSERT of the same rows into a table with
//! the same indexes — the physical limit the import is reported against.
use crate::archive::{import, store};
use crate::audit::Actor;
use sea_orm::{ConnectionTrait, DatabaseConnection, Statement, TransactionTrait};
use std::time::Instant;

pub struct Report {
    pub records: u64,
    pub import_per_sec: f64,
    pub raw_per_sec: f64,
    pub identity_query_ms: f64,
    pub raw_identity_query_ms: f64,
}

/// NDJSON lines of Graph API posts with nested comments, replies and reactions, and messages.
/// Ten heavy identities own about a tenth of the records between them.
pub fn generate(records: u64, page_id: &str) -> Vec<String> {
    let identities = (records / 10).max(20);
    let mut lines = Vec::new();
    let mut made = 0u64;
    let mut n = 0u64;
    let person = |n: u64| {
        let id = if n.is_multiple_of(10) {
            n / 10 % 10
        } else {
            n % identities
        };
        serde_json::json!({"id": format!("9{id:09}"), "name": format!("Person {id}")})
    };
    while made < records {
        let post = format!("{page_id}_{n}");
        let mut comments = vec![];
        for c in 0..20u64 {
            let cid = format!("{n}_{c}");
            let replies: Vec<_> = (0..2u64)
                .map(|r| {
                    serde_json::json!({"id": format!("{n}_{c}_{r}"), "from": person(n * 100 + c * 3 + r + 1),
                    "message": "Tack för svaret!", "created_time": 1_700_000_000 + n as i64})
                })
                .collect();
            let reactions: Vec<_> = (0..2u64)
                .map(|r| serde_json::json!({"id": person(n * 100 + c * 5 + r + 7)["id"], "type": "LIKE"}))
                .collect();
            comments.push(serde_json::json!({"id": cid, "from": person(n * 100 + c), "message": "Hej kommunen, när öppnar badet?",
                "created_time": 1_700_000_000 + n as i64, "comments": {"data": replies}, "reactions": {"data": reactions}}));
        }
        lines.push(
            serde_json::json!({"id": post, "from": {"id": page_id, "name": "Kommunen"}, "message": "Nyheter från kommunen",
            "type": "status", "created_time": 1_700_000_000 + n as i64, "comments": {"data": comments}})
            .to_string(),
        );
        made += 1 + 20 * 5;
        n += 1;
    }
    lines
}

async fn raw_insert(
    db: &DatabaseConnection,
    records: &[(String, String, String)],
) -> Result<f64, sea_orm::DbErr> {
    let backend = db.get_database_backend();
    db.execute_unprepared("DROP TABLE IF EXISTS bench_raw")
        .await?;
    db.execute_unprepared(
        "CREATE TABLE bench_raw (id INTEGER PRIMARY KEY, channel_id BIGINT NOT NULL, platform_id TEXT NOT NULL, \
         author TEXT, text TEXT, hash TEXT NOT NULL)",
    )
    .await?;
    db.execute_unprepared(
        "CREATE UNIQUE INDEX bench_raw_uq ON bench_raw (channel_id, platform_id)",
    )
    .await?;
    db.execute_unprepared("CREATE INDEX bench_raw_author ON bench_raw (author)")
        .await?;
    let started = Instant::now();
    let txn = db.begin().await?;
    for (i, chunk) in records.chunks(200).enumerate() {
        let mut sql = String::from(
            "INSERT INTO bench_raw (id, channel_id, platform_id, author, text, hash) VALUES ",
        );
        let mut values: Vec<sea_orm::Value> = vec![];
        for (j, (pid, author, text)) in chunk.iter().enumerate() {
            let base = values.len();
            if j > 0 {
                sql.push(',');
            }
            match backend {
                sea_orm::DbBackend::Postgres => sql.push_str(&format!(
                    "(${}, 1, ${}, ${}, ${}, ${})",
                    base + 1,
                    base + 2,
                    base + 3,
                    base + 4,
                    base + 5
                )),
                _ => sql.push_str("(?, 1, ?, ?, ?, ?)"),
            }
            values.push(((i * 200 + j) as i64 + 1).into());
            values.push(pid.clone().into());
            values.push(author.clone().into());
            values.push(text.clone().into());
            values.push(crate::archive::rules::fixity_of(text).into());
        }
        txn.execute_raw(Statement::from_sql_and_values(backend, sql, values))
            .await?;
    }
    txn.commit().await?;
    Ok(records.len() as f64 / started.elapsed().as_secs_f64())
}

pub async fn run(db: &DatabaseConnection, records: u64) -> anyhow::Result<Report> {
    let page = "100200300";
    let channel = store::create_channel(
        db,
        store::NewChannel {
            platform: crate::archive::rules::Platform::Facebook,
            account_id: format!("{page}-{}", rand::random::<u32>()),
            name: "bench".into(),
            department: None,
        },
        &Actor::cli(),
    )
    .await?;
    let lines = generate(records, page);
    // Import: parse + identities + versions + hashes, 20 NDJSON lines (about 2,000 records) per transaction.
    let started = Instant::now();
    let mut imported = 0u64;
    let mut raw_rows = vec![];
    for batch in lines.chunks(20) {
        let docs: Vec<(String, serde_json::Value)> = batch
            .iter()
            .map(|l| Ok((String::new(), serde_json::from_str(l)?)))
            .collect::<Result<_, serde_json::Error>>()?;
        let parsed = import::parse_all(docs.iter().map(|(p, d)| (p.as_str(), d)))?;
        for o in &parsed.observations {
            raw_rows.push((
                o.platform_id.clone(),
                o.author
                    .as_ref()
                    .map(|a| a.platform_id.clone())
                    .unwrap_or_default(),
                o.text.clone().unwrap_or_default(),
            ));
        }
        let counts = store::import(
            db,
            channel.id,
            parsed.observations,
            parsed.skipped,
            &Actor::cli(),
        )
        .await?;
        imported += counts.created;
    }
    let import_per_sec = imported as f64 / started.elapsed().as_secs_f64();
    let raw_per_sec = raw_insert(db, &raw_rows).await?;

    // "All records of one identity" for a heavy identity.
    let heavy =
        crate::archive::store::list_identities(db, Some("facebook"), Some("9000000001"), 1).await?;
    let id = heavy.first().map(|i| i.id).unwrap_or(0);
    let started = Instant::now();
    let mut found = 0;
    for _ in 0..20 {
        found = store::list_records(
            db,
            &store::RecordFilter {
                identity: Some(id),
                limit: 1000,
                ..Default::default()
            },
        )
        .await?
        .len();
    }
    let identity_query_ms = started.elapsed().as_secs_f64() * 1000.0 / 20.0;
    let backend = db.get_database_backend();
    let started = Instant::now();
    for _ in 0..20 {
        let sql = match backend {
            sea_orm::DbBackend::Postgres => "SELECT * FROM bench_raw WHERE author = $1 LIMIT 1000",
            _ => "SELECT * FROM bench_raw WHERE author = ? LIMIT 1000",
        };
        db.query_all_raw(Statement::from_sql_and_values(
            backend,
            sql,
            ["9000000001".into()],
        ))
        .await?;
    }
    let raw_identity_query_ms = started.elapsed().as_secs_f64() * 1000.0 / 20.0;
    tracing::info!(found, "heavy identity's records");
    db.execute_unprepared("DROP TABLE IF EXISTS bench_raw")
        .await?;
    Ok(Report {
        records: imported,
        import_per_sec,
        raw_per_sec,
        identity_query_ms,
        raw_identity_query_ms,
    })
}
