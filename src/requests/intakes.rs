//! Intake in batches. Submissions that arrive while a batch is being written wait for the next
//! one (which waits a moment for more while they keep coming: see [`gather`]), and each batch is
//! one transaction ([`store::submit_many`]): its statements, the
//! registration counter and the audit chain are paid for once per batch, not once per request.
//! A submission is answered only when its batch has committed, so an accepted request is a
//! stored one, as before.
use super::store::{self, Context, Intake, NewRequest, RequestError, Submitted};
use crate::audit::Actor;
use crate::http::metrics::Metrics;
use sea_orm::{DatabaseConnection, DbBackend, DbErr};
use std::hash::{Hash, Hasher};
use std::sync::Arc;
use tokio::sync::{mpsc, oneshot};

/// The most submissions one transaction takes in.
const BATCH: usize = 64;

/// The lines of submissions waiting to be taken in, one per writer.
#[derive(Clone)]
pub struct Intakes {
    lines: Vec<mpsc::Sender<Waiting>>,
}

struct Waiting {
    intake: Intake,
    answer: oneshot::Sender<Result<Submitted, RequestError>>,
}

impl Intakes {
    /// Starts the tasks that take submissions in, on the current runtime: one on SQLite, which
    /// has one writer; on PostgreSQL two, so that one batch's statements travel while the other
    /// waits for the registration counter or the audit chain (four measured slower than two).
    pub fn start(db: DatabaseConnection, ctx: Context, metrics: Arc<Metrics>) -> Self {
        let writers = match db.get_database_backend() {
            DbBackend::Postgres => 2,
            _ => 1,
        };
        let lines = (0..writers)
            .map(|_| {
                let (line, waiting) = mpsc::channel(BATCH * 16);
                tokio::spawn(take_in(db.clone(), ctx.clone(), metrics.clone(), waiting));
                line
            })
            .collect();
        Intakes { lines }
    }

    /// Takes in a request as [`store::submit`] does, in the next batch.
    pub async fn submit(&self, new: NewRequest, actor: &Actor) -> Result<Submitted, RequestError> {
        // Submissions from one address go to one writer, in order: two batches written at once
        // could otherwise each miss the other's copy of a duplicate.
        let mut hasher = std::hash::DefaultHasher::new();
        new.email.as_str().to_ascii_lowercase().hash(&mut hasher);
        let line = &self.lines[hasher.finish() as usize % self.lines.len()];
        let (answer, answered) = oneshot::channel();
        let intake = Intake {
            new,
            actor: actor.clone(),
        };
        line.send(Waiting { intake, answer })
            .await
            .map_err(|_| stopped())?;
        answered.await.map_err(|_| stopped())?
    }
}

fn stopped() -> RequestError {
    DbErr::Custom("the intake stopped before answering".into()).into()
}

async fn take_in(
    db: DatabaseConnection,
    ctx: Context,
    metrics: Arc<Metrics>,
    mut line: mpsc::Receiver<Waiting>,
) {
    let mut batch = Vec::with_capacity(BATCH);
    while line.recv_many(&mut batch, BATCH).await > 0 {
        gather(&mut line, &mut batch).await;
        let waiting = std::mem::replace(&mut batch, Vec::with_capacity(BATCH));
        let size = waiting.len();
        // A batch that panics answers nobody (each caller hears that the intake stopped), but
        // the next batch is taken in all the same.
        let written = write(db.clone(), ctx.clone(), metrics.clone(), waiting);
        if let Err(e) = tokio::spawn(written).await {
            tracing::error!(error = %e, size, "an intake batch panicked");
        }
    }
}

/// Waits a little for more submissions while they keep coming. A batch of 7 submissions took
/// 11 ms to write and one of 57 took 18 ms (its statements, not its rows, take the time), so a
/// batch taken too soon is paid for by everyone behind it.
async fn gather(line: &mut mpsc::Receiver<Waiting>, batch: &mut Vec<Waiting>) {
    let until = tokio::time::Instant::now() + MAX_LINGER;
    while batch.len() < BATCH {
        let more = tokio::time::timeout_at(
            until.min(tokio::time::Instant::now() + QUIET),
            line.recv_many(batch, BATCH - batch.len()),
        );
        match more.await {
            Ok(n) if n > 0 => continue,
            _ => break,
        }
    }
}

/// How long the line must stay quiet for a batch to be taken in short of [`BATCH`] ...
const QUIET: std::time::Duration = std::time::Duration::from_millis(1);
/// ... and the longest a submission waits for others to come.
const MAX_LINGER: std::time::Duration = std::time::Duration::from_millis(4);

async fn write(db: DatabaseConnection, ctx: Context, metrics: Arc<Metrics>, waiting: Vec<Waiting>) {
    let (intakes, answers): (Vec<Intake>, Vec<_>) =
        waiting.into_iter().map(|w| (w.intake, w.answer)).unzip();
    let started = std::time::Instant::now();
    match store::submit_many(&db, &ctx, &intakes).await {
        Ok(submitted) => {
            metrics.observe_intake(intakes.len(), false);
            tracing::debug!(
                size = intakes.len(),
                ms = started.elapsed().as_secs_f64() * 1e3,
                "intake batch"
            );
            for (answer, s) in answers.into_iter().zip(submitted) {
                // The caller may have gone; the request stands all the same.
                let _ = answer.send(Ok(s));
            }
        }
        Err(e) if intakes.len() == 1 => {
            metrics.observe_intake(1, true);
            if let Some(answer) = answers.into_iter().next() {
                let _ = answer.send(Err(e));
            }
        }
        Err(e) => {
            // One submission must not fail the others: each is tried again on its own.
            metrics.observe_intake(intakes.len(), true);
            tracing::warn!(error = %e, size = intakes.len(), "an intake batch failed; taking its requests in one by one");
            for (answer, intake) in answers.into_iter().zip(&intakes) {
                let one = store::submit_many(&db, &ctx, std::slice::from_ref(intake))
                    .await
                    .and_then(|mut s| s.pop().ok_or_else(stopped));
                metrics.observe_intake(1, one.is_err());
                let _ = answer.send(one);
            }
        }
    }
}
