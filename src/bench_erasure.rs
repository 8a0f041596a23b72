//! `insyn bench erasure`: on the archive `insyn bench import` left, the erasure of heavy identities
//! (about 1,000 records each) planned and executed through the store, each beside the raw
//! anonymising UPDATE of the very same rows, measured on them just before (and undone).
//!
//! Every record of theirs is made due for disposal (a decision keeping everything for `P0D`, removed
//! afterwards), so each one is erased and each visible one unpublished: the heaviest case.
use crate::audit::Actor;
use crate::mail::rules::{Email, Language};
use crate::requests::rules::{ProofMethod, RequestType};
use crate::requests::store::{self as requests, NewIdentity, NewRequest};
use entities::{disposal_decision, identity, record};
use sea_orm::{
    ActiveModelTrait, ColumnTrait, ConnectionTrait, DatabaseConnection, EntityTrait,
    PaginatorTrait, QueryFilter, Set, Statement, TransactionTrait,
};
use std::time::Instant;

pub struct Report {
    pub identities: usize,
    /// Records of each identity, on average.
    pub records: f64,
    /// Medians over the identities, in milliseconds.
    pub plan_ms: f64,
    pub execute_ms: f64,
    pub total_ms: f64,
    pub raw_ms: f64,
    /// The raw statements of what the erasure must write: the records deleted with their versions
    /// and consent events, and a suppression hash of each.
    pub raw_erase_ms: f64,
    /// The same with the records kept as tombstones, anonymised in place.
    pub raw_tombstone_ms: f64,
    /// What a slimmer store would have to write: see [`Floor::Slim`].
    pub raw_slim_ms: f64,
}

fn median(mut v: Vec<f64>) -> f64 {
    v.sort_by(f64::total_cmp);
    v.get(v.len() / 2).copied().unwrap_or(0.0)
}

/// A raw floor beside the erasure, each in one committed transaction of raw statements.
#[derive(Clone, Copy, PartialEq, Eq)]
enum Floor {
    /// The issue's: the identity's record rows anonymised in place, and nothing else.
    Anonymised,
    /// The erasure's own writes: the records deleted with their consent events and (by the
    /// foreign key's cascade) their versions, as the erasure deletes them, and a suppression hash
    /// of each.
    Deleted,
    /// The same with tombstones: the records anonymised in place instead, their versions and
    /// consent events still deleted (the versions hold the content, so even a tombstone cannot
    /// keep them) and the hashes still written.
    Tombstones,
    /// What an erasure would write if the store kept less, not built: the record rows anonymised
    /// in place (as if `record_version` held only the versions a record superseded, and the
    /// consent entries were read off the records), with what the issue asks of every erasure
    /// whatever the store: a suppression hash of each record and an unpublish task of each visible
    /// one. The floor of the README's *Not built yet*, measured so that the team can weigh that
    /// change before making it.
    Slim,
}

/// The anonymising UPDATE's assignments, for [`Floor::Anonymised`] and [`Floor::Tombstones`].
const ANONYMISED: &str =
    "text = NULL, reaction_type = NULL, attachments = '[]', author_identity_id = NULL";

/// Times `floor` on the identity's rows, then puts all of it back. A hash is a random-looking
/// 64-digit hex string, as the erasure's HMACs are. What no floor includes: the plan and its items,
/// the reply, the history and the audit entry; nor, but [`Floor::Slim`], the unpublish tasks.
async fn raw_floor(db: &DatabaseConnection, identity_id: i64, floor: Floor) -> anyhow::Result<f64> {
    use sha2::Digest;
    let backend = db.get_database_backend();
    let id = identity_id;
    let saved = [
        "bench_saved_record",
        "bench_saved_version",
        "bench_saved_consent",
        "bench_saved_child",
    ];
    for t in saved {
        db.execute_unprepared(&format!("DROP TABLE IF EXISTS {t}"))
            .await?;
    }
    for sql in [
        format!(
            "CREATE TABLE bench_saved_record AS SELECT * FROM record WHERE author_identity_id = {id}"
        ),
        "CREATE TABLE bench_saved_version AS SELECT * FROM record_version \
         WHERE record_id IN (SELECT id FROM bench_saved_record)"
            .to_owned(),
        "CREATE TABLE bench_saved_consent AS SELECT * FROM consent_event \
         WHERE record_id IN (SELECT id FROM bench_saved_record)"
            .to_owned(),
        // Replies by others lose their link to an erased parent (the foreign key sets it NULL).
        "CREATE TABLE bench_saved_child AS SELECT id, parent_id FROM record \
         WHERE parent_id IN (SELECT id FROM bench_saved_record)"
            .to_owned(),
    ] {
        db.execute_unprepared(&sql).await?;
    }
    let ids: Vec<i64> = db
        .query_all_raw(Statement::from_string(
            backend,
            "SELECT id FROM bench_saved_record",
        ))
        .await?
        .iter()
        .map(|row| row.try_get_by_index::<i64>(0))
        .collect::<Result<_, _>>()?;
    let hashes: Vec<String> = if floor == Floor::Anonymised {
        vec![]
    } else {
        ids.iter()
            .map(|i| hex::encode(sha2::Sha256::digest(format!("bench-raw-erase-{i}"))))
            .collect()
    };
    let at = crate::audit::now();
    let insert = |chunk: &[String]| {
        let mut values: Vec<sea_orm::Value> = vec![];
        let mut rows = vec![];
        for h in chunk {
            let mut row = vec![];
            for v in [
                sea_orm::Value::from("record"),
                sea_orm::Value::from(h.clone()),
                sea_orm::Value::from(at),
            ] {
                values.push(v);
                row.push(crate::db::placeholder(backend, values.len()));
            }
            rows.push(format!("({})", row.join(", ")));
        }
        Statement::from_sql_and_values(
            backend,
            format!(
                "INSERT INTO suppression (kind, key_hash, created_at) VALUES {}",
                rows.join(", ")
            ),
            values,
        )
    };

    let started = Instant::now();
    let txn = db.begin().await?;
    let consents =
        "DELETE FROM consent_event WHERE record_id IN (SELECT id FROM bench_saved_record)"
            .to_owned();
    let statements = match floor {
        Floor::Anonymised => vec![format!(
            "UPDATE record SET {ANONYMISED} WHERE author_identity_id = {id}"
        )],
        // The versions go by the foreign key's cascade.
        Floor::Deleted => vec![
            consents,
            "DELETE FROM record WHERE id IN (SELECT id FROM bench_saved_record)".to_owned(),
        ],
        Floor::Slim => vec![
            format!("UPDATE record SET {ANONYMISED} WHERE author_identity_id = {id}"),
            "INSERT INTO unpublish_task \
               (record_id, channel_id, identity_id, reason, action, link, status, created_at) \
             SELECT id, channel_id, author_identity_id, 'erasure', 'remove', \
               'https://www.facebook.com/' || platform_id, 'open', CURRENT_TIMESTAMP \
             FROM bench_saved_record WHERE visibility = 'visible'"
                .to_owned(),
        ],
        Floor::Tombstones => vec![
            consents,
            "DELETE FROM record_version WHERE record_id IN (SELECT id FROM bench_saved_record)"
                .to_owned(),
            format!(
                "UPDATE record SET {ANONYMISED} WHERE id IN (SELECT id FROM bench_saved_record)"
            ),
        ],
    };
    for sql in statements {
        txn.execute_raw(Statement::from_string(backend, sql))
            .await?;
    }
    for chunk in hashes.chunks(500) {
        txn.execute_raw(insert(chunk)).await?;
    }
    txn.commit().await?;
    let ms = started.elapsed().as_secs_f64() * 1000.0;

    for chunk in hashes.chunks(500) {
        let list = chunk
            .iter()
            .map(|h| format!("'{h}'"))
            .collect::<Vec<_>>()
            .join(", ");
        db.execute_unprepared(&format!(
            "DELETE FROM suppression WHERE key_hash IN ({list})"
        ))
        .await?;
    }
    db.execute_unprepared(
        "DELETE FROM unpublish_task WHERE reason = 'erasure' AND status = 'open' \
         AND record_id IN (SELECT id FROM bench_saved_record)",
    )
    .await?;
    for sql in [
        // What the floor kept goes too, so that everything comes back whole: the consent events
        // (which a record's DELETE would only unlink) and the anonymised rows (whose DELETE
        // takes their versions by the cascade).
        "DELETE FROM consent_event WHERE id IN (SELECT id FROM bench_saved_consent)",
        "DELETE FROM record WHERE id IN (SELECT id FROM bench_saved_record)",
        "INSERT INTO record SELECT * FROM bench_saved_record",
        "INSERT INTO record_version SELECT * FROM bench_saved_version",
        "INSERT INTO consent_event SELECT * FROM bench_saved_consent",
        "UPDATE record SET parent_id = \
           (SELECT c.parent_id FROM bench_saved_child c WHERE c.id = record.id) \
         WHERE id IN (SELECT id FROM bench_saved_child)",
    ] {
        db.execute_unprepared(sql).await?;
    }
    for t in saved {
        db.execute_unprepared(&format!("DROP TABLE {t}")).await?;
    }
    Ok(ms)
}

pub async fn run(settings: crate::config::Settings, n: u64) -> anyhow::Result<Report> {
    let dir = crate::bench::Scratch::new()?;
    let state = crate::app::prepare(dir.settings(settings)).await?;
    let db = state.db.clone();
    let ctx = state.erasure_context();
    let actor = Actor::cli();
    let heavy = crate::bench::heaviest_identities(&db, None, n).await?;
    anyhow::ensure!(
        !heavy.is_empty(),
        "the archive is empty: run `insyn bench import` first"
    );
    let decision = disposal_decision::ActiveModel {
        reference: Set("BENCH P0D".into()),
        title: Set("bench: everything may go".into()),
        decided_on: Set(chrono::Utc::now().date_naive()),
        rules: Set(r#"[{"keep": "P0D"}]"#.into()),
        created_at: Set(crate::audit::now()),
        created_by: Set("bench".into()),
        ..Default::default()
    }
    .insert(&db)
    .await?;

    let (mut plans, mut executions, mut totals, mut counts) = (vec![], vec![], vec![], vec![]);
    let (mut raws, mut raw_erases, mut raw_tombstones, mut raw_slims) =
        (vec![], vec![], vec![], vec![]);
    let today = ctx.requests.today(chrono::Utc::now());
    for identity_id in heavy {
        let who = identity::Entity::find_by_id(identity_id)
            .one(&db)
            .await?
            .ok_or_else(|| anyhow::anyhow!("no identity {identity_id}"))?;
        let records = record::Entity::find()
            .filter(record::Column::AuthorIdentityId.eq(identity_id))
            .count(&db)
            .await?;
        // Once untimed first, so that none of the raw figures pays for bringing the identity's
        // pages into memory (on PostgreSQL the first of them otherwise did).
        raw_floor(&db, identity_id, Floor::Anonymised).await?;
        raws.push(raw_floor(&db, identity_id, Floor::Anonymised).await?);
        raw_erases.push(raw_floor(&db, identity_id, Floor::Deleted).await?);
        raw_tombstones.push(raw_floor(&db, identity_id, Floor::Tombstones).await?);
        raw_slims.push(raw_floor(&db, identity_id, Floor::Slim).await?);

        let submitted = requests::submit(
            &db,
            &ctx.requests,
            NewRequest {
                request_type: RequestType::Erasure,
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
        requests::verify_identity(
            &db,
            &ctx.requests,
            id,
            ProofMethod::Other,
            None,
            None,
            &actor,
        )
        .await?;
        requests::assign(&db, id, "bench".into(), &actor).await?;

        let started = Instant::now();
        crate::erasure::store::plan(&db, &ctx, id, today, &actor).await?;
        let planned = started.elapsed().as_secs_f64() * 1000.0;
        let done = crate::erasure::store::approve(&db, &ctx, id, today, &actor).await?;
        let total = started.elapsed().as_secs_f64() * 1000.0;
        anyhow::ensure!(
            !done.recomputed,
            "nothing changed between plan and approval"
        );
        plans.push(planned);
        executions.push(total - planned);
        totals.push(total);
        counts.push(records as f64);
    }
    disposal_decision::Entity::delete_by_id(decision.id)
        .exec(&db)
        .await?;
    drop(dir);
    Ok(Report {
        identities: counts.len(),
        records: counts.iter().sum::<f64>() / counts.len() as f64,
        plan_ms: median(plans),
        execute_ms: median(executions),
        total_ms: median(totals),
        raw_ms: median(raws),
        raw_erase_ms: median(raw_erases),
        raw_tombstone_ms: median(raw_tombstones),
        raw_slim_ms: median(raw_slims),
    })
}
