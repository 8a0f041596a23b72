//! Background jobs: a table of work, claimed safely by any number of `insyn serve` instances
//! (`FOR UPDATE SKIP LOCKED` on PostgreSQL; SQLite's single writer on the embedded default), retried
//! with backoff, and picked up again after a crash once the claimant's lease runs out.
pub mod rules;
pub mod store;

use std::collections::HashMap;
use std::future::Future;
use std::pin::Pin;
use std::sync::Arc;
use std::time::Duration;

use sea_orm::DatabaseConnection;

pub type HandlerFuture = Pin<Box<dyn Future<Output = Result<(), String>> + Send>>;
type Handler = Arc<dyn Fn(serde_json::Value) -> HandlerFuture + Send + Sync>;
/// When a recurring kind's next run is due, from now.
pub type NextRun = Arc<dyn Fn() -> chrono::DateTime<chrono::Utc> + Send + Sync>;

/// Runs jobs of the kinds it has handlers for.
#[derive(Clone)]
pub struct Runner {
    db: DatabaseConnection,
    worker: String,
    handlers: HashMap<&'static str, Handler>,
    /// Kinds that must always have a run waiting, and when the next one is due.
    recurring: Vec<(&'static str, NextRun)>,
    /// Kinds that are never given up on: their work must not be lost to an outage, however long.
    persistent: Vec<&'static str>,
    /// Set when the service stops: the batch in hand ends after the job that is running.
    stopping: Arc<std::sync::atomic::AtomicBool>,
    batch: u64,
    lease: Duration,
}

/// How often the runner makes sure every recurring kind has a run waiting.
const RECURRING_CHECK: Duration = Duration::from_secs(60);

impl Runner {
    pub fn new(db: DatabaseConnection) -> Self {
        Runner {
            db,
            worker: format!("worker-{}", hex::encode(rand::random::<[u8; 6]>())),
            handlers: HashMap::new(),
            recurring: vec![],
            persistent: vec![],
            stopping: Arc::default(),
            batch: 10,
            lease: Duration::from_secs(300),
        }
    }

    pub fn handle<F, Fut>(mut self, kind: &'static str, f: F) -> Self
    where
        F: Fn(serde_json::Value) -> Fut + Send + Sync + 'static,
        Fut: Future<Output = Result<(), String>> + Send + 'static,
    {
        self.handlers
            .insert(kind, Arc::new(move |p| Box::pin(f(p))));
        self
    }

    /// How long a claimed job is the worker's before another may take it for a dead one's; renewed
    /// while the job runs.
    pub fn lease(mut self, lease: Duration) -> Self {
        self.lease = lease;
        self
    }

    /// A kind that runs again and again (the disposal run, the purge, the digest): once a run is
    /// done the runner queues the next at `next()`, and it queues one whenever none is waiting, so
    /// a run that failed for good (the database was away for longer than the retries) does not end
    /// the chain. The runner, not the handler, queues it, and only once the run is recorded as
    /// done: a run taken over after a crash cannot leave two chains.
    pub fn recurring(
        mut self,
        kind: &'static str,
        next: impl Fn() -> chrono::DateTime<chrono::Utc> + Send + Sync + 'static,
    ) -> Self {
        self.recurring.push((kind, Arc::new(next)));
        self
    }

    /// A kind whose jobs are retried for as long as they fail (backoff capped at an hour), never
    /// marked failed: mail waiting for an SMTP server that is away for a day is sent when it is
    /// back. A job of the kind marked failed before (by an earlier version) is queued again.
    pub fn persistent(mut self, kind: &'static str) -> Self {
        self.persistent.push(kind);
        self
    }

    /// Queues a run of each recurring kind that has none waiting, and again each persistent
    /// kind's job that was given up on.
    pub async fn ensure_recurring(&self) -> Result<(), sea_orm::DbErr> {
        for (kind, next) in &self.recurring {
            store::ensure_scheduled(&self.db, kind, next()).await?;
        }
        store::revive(&self.db, &self.persistent).await?;
        Ok(())
    }

    /// Claims and runs one batch; returns how many jobs it ran.
    pub async fn run_once(&self) -> Result<usize, sea_orm::DbErr> {
        let kinds: Vec<&str> = self.handlers.keys().copied().collect();
        let jobs = store::claim(&self.db, &self.worker, &kinds, self.batch, self.lease).await?;
        let n = jobs.len();
        for (k, job) in jobs.iter().enumerate() {
            // Stopping: the jobs not started go back to the queue now, rather than wait for their
            // lease to run out before another instance (or the next start) may take them.
            if self.stopping.load(std::sync::atomic::Ordering::SeqCst) {
                let left: Vec<i64> = jobs[k..].iter().map(|j| j.id).collect();
                store::release(&self.db, &left, &self.worker).await?;
                return Ok(k);
            }
            // The batch was claimed under one lease: each job's own starts when it does, and a
            // job whose lease ran out while the ones before it ran belongs to whoever took it.
            if !store::extend_lease(&self.db, job.id, &self.worker, self.lease).await? {
                continue;
            }
            let handler = &self.handlers[job.kind.as_str()];
            let persistent = self.persistent.contains(&job.kind.as_str());
            let last_attempt = !persistent && job.attempts >= rules::MAX_ATTEMPTS;
            let mut payload = serde_json::from_str(&job.payload).unwrap_or(serde_json::Value::Null);
            // A handler may want to know whether a failure now is the last one (it then says so
            // where people look, not only in the job table).
            if let Some(p) = payload.as_object_mut() {
                p.insert("attempt".into(), job.attempts.into());
                p.insert("last_attempt".into(), last_attempt.into());
            }
            // While it runs, the lease is renewed, so a long job is not taken for a dead one.
            let heartbeat = async {
                loop {
                    tokio::time::sleep(self.lease / 3).await;
                    if let Err(e) =
                        store::extend_lease(&self.db, job.id, &self.worker, self.lease).await
                    {
                        tracing::warn!(job_id = job.id, error = %e, "could not renew a job's lease");
                    }
                }
            };
            // On a task of its own, so that a handler that panics fails its job (and is tried
            // again, and given up on) instead of taking the runner, and every job after it, down.
            let running = tokio::spawn(handler(payload));
            let outcome = tokio::select! {
                joined = running => joined.unwrap_or_else(|e| {
                    Err(if e.is_panic() { "the job panicked" } else { "the job was cancelled" }.into())
                }),
                never = heartbeat => never,
            };
            match outcome {
                Ok(()) => {
                    store::complete(&self.db, job.id, &self.worker).await?;
                    if let Some((kind, next)) =
                        self.recurring.iter().find(|(k, _)| *k == job.kind.as_str())
                    {
                        // Should this fail, the next check of the recurring kinds queues it.
                        if let Err(e) = store::ensure_scheduled(&self.db, kind, next()).await {
                            tracing::warn!(kind, error = %e, "could not queue a recurring job's next run");
                        }
                    }
                }
                Err(e) => {
                    tracing::warn!(job_id = job.id, kind = %job.kind, attempts = job.attempts, "job failed");
                    store::fail(&self.db, job, &self.worker, &e, last_attempt).await?;
                }
            }
        }
        Ok(n)
    }

    /// Runs until `shutdown` resolves, polling when there is nothing to do. When it resolves
    /// during a batch, the job running is finished and the batch's others go back to the queue.
    pub async fn run(self, shutdown: impl Future<Output = ()>) {
        tokio::pin!(shutdown);
        let mut checked: Option<std::time::Instant> = None;
        let mut stopped = false;
        while !stopped {
            if checked.is_none_or(|at| at.elapsed() >= RECURRING_CHECK) {
                if let Err(e) = self.ensure_recurring().await {
                    tracing::warn!(error = %e, "could not check the recurring jobs; retrying later");
                }
                checked = Some(std::time::Instant::now());
            }
            let batch = self.run_once();
            tokio::pin!(batch);
            let r = tokio::select! {
                r = &mut batch => r,
                _ = &mut shutdown => {
                    stopped = true;
                    self.stopping.store(true, std::sync::atomic::Ordering::SeqCst);
                    batch.await
                }
            };
            let idle = match r {
                Ok(0) => true,
                Ok(_) => false,
                Err(e) => {
                    tracing::error!(error = %e, "job runner could not reach the database");
                    true
                }
            };
            if stopped {
                break;
            }
            let pause = if idle {
                Duration::from_millis(500)
            } else {
                Duration::ZERO
            };
            tokio::select! {
                biased;
                _ = &mut shutdown => stopped = true,
                _ = tokio::time::sleep(pause) => {}
            }
        }
    }
}
