//! Enqueueing, claiming and finishing jobs.
use super::rules::{self, DONE, FAILED, QUEUED, RUNNING};
use crate::audit::now;
use entities::job;
use sea_orm::{
    ColumnTrait, ConnectionTrait, DatabaseConnection, DbBackend, DbErr, EntityTrait, QueryFilter,
    Set, Statement, TransactionTrait, Value,
};
use std::time::Duration;

/// Enqueues a job in the caller's transaction, so that it exists exactly when the action does.
pub async fn enqueue<C: ConnectionTrait>(
    conn: &C,
    kind: &str,
    payload: &serde_json::Value,
) -> Result<job::Model, DbErr> {
    enqueue_at(conn, kind, payload, now()).await
}

/// Enqueues a job to run no earlier than `run_at`.
pub async fn enqueue_at<C: ConnectionTrait>(
    conn: &C,
    kind: &str,
    payload: &serde_json::Value,
    run_at: chrono::DateTime<chrono::Utc>,
) -> Result<job::Model, DbErr> {
    job::Entity::insert(new_job(kind, payload, run_at))
        .exec_with_returning(conn)
        .await
}

fn new_job(
    kind: &str,
    payload: &serde_json::Value,
    run_at: chrono::DateTime<chrono::Utc>,
) -> job::ActiveModel {
    job::ActiveModel {
        kind: Set(kind.to_owned()),
        payload: Set(payload.to_string()),
        status: Set(QUEUED.to_owned()),
        attempts: Set(0),
        run_at: Set(run_at),
        locked_by: Set(None),
        locked_until: Set(None),
        last_error: Set(None),
        created_at: Set(now()),
        finished_at: Set(None),
        ..Default::default()
    }
}

/// Makes sure one job of a recurring `kind` is waiting: enqueues it at `run_at` unless one is
/// queued or running already. Several instances starting at once may each enqueue one; the job
/// itself must be harmless to run twice.
pub async fn ensure_scheduled(
    db: &DatabaseConnection,
    kind: &str,
    run_at: chrono::DateTime<chrono::Utc>,
) -> Result<(), DbErr> {
    let txn = db.begin().await?;
    // Instances starting together must not each queue one: they take turns per kind.
    if txn.get_database_backend() == DbBackend::Postgres {
        txn.execute_raw(Statement::from_sql_and_values(
            DbBackend::Postgres,
            "SELECT pg_advisory_xact_lock($1, hashtext($2))",
            [RECURRING_LOCKS.into(), kind.into()],
        ))
        .await?;
    }
    let waiting = job::Entity::find()
        .filter(job::Column::Kind.eq(kind))
        .filter(job::Column::Status.is_in([QUEUED, RUNNING]))
        .one(&txn)
        .await?;
    if waiting.is_none() {
        enqueue_at(&txn, kind, &serde_json::json!({}), run_at).await?;
    }
    txn.commit().await
}

/// The class of PostgreSQL advisory locks that serialise the scheduling of a recurring kind.
const RECURRING_LOCKS: i32 = 7307;

/// Claims up to `limit` due jobs of `kinds` for `worker`: queued ones whose time has come, and
/// running ones whose claimant's lease ran out (it crashed). One statement, so no job is claimed twice.
pub async fn claim(
    db: &DatabaseConnection,
    worker: &str,
    kinds: &[&str],
    limit: u64,
    lease: Duration,
) -> Result<Vec<job::Model>, DbErr> {
    if kinds.is_empty() {
        return Ok(vec![]);
    }
    let backend = db.get_database_backend();
    let at = now();
    let until = at + chrono::Duration::from_std(lease).unwrap_or(chrono::Duration::minutes(5));
    let p = |i: usize| crate::db::placeholder(backend, i);
    // Placeholders are numbered in the order the values are pushed below.
    let mut values: Vec<Value> = vec![worker.into(), until.into(), RUNNING.into()];
    let kinds_sql: Vec<String> = kinds
        .iter()
        .map(|k| {
            values.push((*k).into());
            p(values.len())
        })
        .collect();
    values.push(QUEUED.into());
    let queued = p(values.len());
    values.push(at.into());
    let due = p(values.len());
    values.push(RUNNING.into());
    let running = p(values.len());
    values.push(at.into());
    let expired = p(values.len());
    values.push((limit as i64).into());
    let lim = p(values.len());
    let lock = if backend == DbBackend::Postgres {
        " FOR UPDATE SKIP LOCKED"
    } else {
        ""
    };
    let sql = format!(
        "UPDATE job SET locked_by = {}, locked_until = {}, status = {}, attempts = attempts + 1 \
         WHERE id IN (SELECT id FROM job WHERE kind IN ({}) \
           AND ((status = {queued} AND run_at <= {due}) OR (status = {running} AND locked_until < {expired})) \
           ORDER BY run_at, id LIMIT {lim}{lock}) \
         RETURNING *",
        p(1),
        p(2),
        p(3),
        kinds_sql.join(", "),
    );
    let stmt = Statement::from_sql_and_values(backend, sql, values);
    let mut jobs = job::Entity::find().from_raw_sql(stmt).all(db).await?;
    jobs.sort_by_key(|j| j.id);
    Ok(jobs)
}

/// Extends `worker`'s lease on a running job to `lease` from now; false when the worker no longer
/// holds it (its lease ran out and another worker took the job).
pub async fn extend_lease(
    db: &DatabaseConnection,
    id: i64,
    worker: &str,
    lease: Duration,
) -> Result<bool, DbErr> {
    let until = now() + chrono::Duration::from_std(lease).unwrap_or(chrono::Duration::minutes(5));
    let r = job::Entity::update_many()
        .col_expr(job::Column::LockedUntil, Some(until).into())
        .filter(job::Column::Id.eq(id))
        .filter(job::Column::LockedBy.eq(worker))
        .filter(job::Column::Status.eq(RUNNING))
        .exec(db)
        .await?;
    Ok(r.rows_affected == 1)
}

/// Marks a job done, if `worker` still holds it.
pub async fn complete(db: &DatabaseConnection, id: i64, worker: &str) -> Result<(), DbErr> {
    job::Entity::update_many()
        .col_expr(job::Column::Status, DONE.into())
        .col_expr(job::Column::FinishedAt, Some(now()).into())
        .col_expr(
            job::Column::LockedUntil,
            Option::<chrono::DateTime<chrono::Utc>>::None.into(),
        )
        .filter(job::Column::Id.eq(id))
        .filter(job::Column::LockedBy.eq(worker))
        .exec(db)
        .await?;
    Ok(())
}

/// Puts a failed job back in the queue with backoff, or marks it failed when that was its last
/// attempt (`give_up`).
pub async fn fail(
    db: &DatabaseConnection,
    job: &job::Model,
    worker: &str,
    error: &str,
    give_up: bool,
) -> Result<(), DbErr> {
    let delay = chrono::Duration::from_std(rules::backoff(job.attempts))
        .unwrap_or(chrono::Duration::hours(1));
    let error: String = error.chars().take(2000).collect();
    job::Entity::update_many()
        .col_expr(
            job::Column::Status,
            if give_up { FAILED } else { QUEUED }.into(),
        )
        .col_expr(job::Column::RunAt, (now() + delay).into())
        .col_expr(job::Column::LastError, Some(error).into())
        .col_expr(
            job::Column::LockedUntil,
            Option::<chrono::DateTime<chrono::Utc>>::None.into(),
        )
        .filter(job::Column::Id.eq(job.id))
        .filter(job::Column::LockedBy.eq(worker))
        .exec(db)
        .await?;
    Ok(())
}

/// Queues again, from now and with a fresh count of attempts, the failed jobs of `kinds`.
pub async fn revive(db: &DatabaseConnection, kinds: &[&str]) -> Result<u64, DbErr> {
    if kinds.is_empty() {
        return Ok(0);
    }
    let r = job::Entity::update_many()
        .col_expr(job::Column::Status, QUEUED.into())
        .col_expr(job::Column::Attempts, 0.into())
        .col_expr(job::Column::RunAt, now().into())
        .filter(job::Column::Status.eq(FAILED))
        .filter(job::Column::Kind.is_in(kinds.to_vec()))
        .exec(db)
        .await?;
    if r.rows_affected > 0 {
        tracing::info!(
            jobs = r.rows_affected,
            "failed jobs of kinds never given up on queued again"
        );
    }
    Ok(r.rows_affected)
}

/// Puts jobs `worker` claimed and did not start back in the queue, as if never claimed.
pub async fn release(db: &DatabaseConnection, ids: &[i64], worker: &str) -> Result<(), DbErr> {
    if ids.is_empty() {
        return Ok(());
    }
    job::Entity::update_many()
        .col_expr(job::Column::Status, QUEUED.into())
        .col_expr(
            job::Column::Attempts,
            sea_orm::sea_query::ExprTrait::sub(
                sea_orm::sea_query::Expr::col(job::Column::Attempts),
                1,
            ),
        )
        .col_expr(job::Column::LockedBy, Option::<String>::None.into())
        .col_expr(
            job::Column::LockedUntil,
            Option::<chrono::DateTime<chrono::Utc>>::None.into(),
        )
        .filter(job::Column::Id.is_in(ids.to_vec()))
        .filter(job::Column::LockedBy.eq(worker))
        .filter(job::Column::Status.eq(RUNNING))
        .exec(db)
        .await?;
    Ok(())
}
