use crate::both_backends;
use crate::helpers::{Backend, spawn_app};
use insyn::jobs::{Runner, rules, store};
use std::collections::HashMap;
use std::sync::{Arc, Mutex};
use std::time::Duration;

both_backends!(
    two_runners_do_each_of_200_jobs_exactly_once,
    |b: Backend| async move {
        let app = spawn_app(b).await;
        for n in 0..200 {
            store::enqueue(&app.db, "test.count", &serde_json::json!({ "n": n }))
                .await
                .unwrap();
        }
        let seen: Arc<Mutex<HashMap<i64, u32>>> = Arc::default();
        let runner = |seen: Arc<Mutex<HashMap<i64, u32>>>, db| {
            Runner::new(db).handle("test.count", move |p| {
                let seen = seen.clone();
                async move {
                    tokio::task::yield_now().await;
                    *seen
                        .lock()
                        .unwrap()
                        .entry(p["n"].as_i64().unwrap())
                        .or_default() += 1;
                    Ok(())
                }
            })
        };
        // Two instances: each its own connection pool to the one database.
        let a = runner(
            seen.clone(),
            insyn::db::connect(&app.database_url).await.unwrap(),
        );
        let b2 = runner(
            seen.clone(),
            insyn::db::connect(&app.database_url).await.unwrap(),
        );
        let drain = |r: Runner| {
            tokio::spawn(async move {
                let mut total = 0;
                for _ in 0..500 {
                    match r.run_once().await.unwrap() {
                        0 => break,
                        n => total += n,
                    }
                }
                total
            })
        };
        let (ta, tb) = (drain(a), drain(b2));
        let (na, nb) = (ta.await.unwrap(), tb.await.unwrap());
        assert_eq!(na + nb, 200);
        let counts = seen.lock().unwrap().clone();
        assert_eq!(counts.len(), 200);
        assert!(counts.values().all(|&c| c == 1), "a job ran twice");
        use sea_orm::{ColumnTrait, EntityTrait, PaginatorTrait, QueryFilter};
        let done = entities::job::Entity::find()
            .filter(entities::job::Column::Status.eq(rules::DONE))
            .count(&app.db)
            .await
            .unwrap();
        assert_eq!(done, 200);
    }
);

both_backends!(
    a_failed_job_backs_off_and_a_crashed_claim_is_picked_up,
    |b: Backend| async move {
        let app = spawn_app(b).await;
        let job = store::enqueue(&app.db, "test.flaky", &serde_json::json!({}))
            .await
            .unwrap();
        let failing = Runner::new(app.db.clone())
            .handle("test.flaky", |_| async { Err("smtp down".to_owned()) });
        assert_eq!(failing.run_once().await.unwrap(), 1);
        use sea_orm::EntityTrait;
        let after = entities::job::Entity::find_by_id(job.id)
            .one(&app.db)
            .await
            .unwrap()
            .unwrap();
        assert_eq!(after.status, rules::QUEUED);
        assert_eq!(after.attempts, 1);
        assert_eq!(after.last_error.as_deref(), Some("smtp down"));
        assert!(
            after.run_at > insyn::audit::now(),
            "the retry waits for its backoff"
        );
        // Not due yet: nobody claims it.
        assert_eq!(failing.run_once().await.unwrap(), 0);

        // A worker claims a job and dies: once its lease has run out, another worker takes it.
        let job2 = store::enqueue(&app.db, "test.other", &serde_json::json!({}))
            .await
            .unwrap();
        let claimed = store::claim(&app.db, "dead-worker", &["test.other"], 10, Duration::ZERO)
            .await
            .unwrap();
        assert_eq!(claimed.len(), 1);
        tokio::time::sleep(Duration::from_millis(5)).await;
        let again = store::claim(
            &app.db,
            "live-worker",
            &["test.other"],
            10,
            Duration::from_secs(60),
        )
        .await
        .unwrap();
        assert_eq!(
            again.iter().map(|j| j.id).collect::<Vec<_>>(),
            vec![job2.id]
        );
        assert_eq!(again[0].attempts, 2);
        // The dead worker's late completion does not count; the live one's does.
        store::complete(&app.db, job2.id, "dead-worker")
            .await
            .unwrap();
        let row = entities::job::Entity::find_by_id(job2.id)
            .one(&app.db)
            .await
            .unwrap()
            .unwrap();
        assert_eq!(row.status, rules::RUNNING);
        store::complete(&app.db, job2.id, "live-worker")
            .await
            .unwrap();
        let row = entities::job::Entity::find_by_id(job2.id)
            .one(&app.db)
            .await
            .unwrap()
            .unwrap();
        assert_eq!(row.status, rules::DONE);
    }
);

both_backends!(
    a_recurring_job_that_failed_for_good_is_queued_again,
    |b: Backend| async move {
        use sea_orm::{ActiveModelTrait, ColumnTrait, EntityTrait, QueryFilter, QueryOrder, Set};
        let app = spawn_app(b).await;
        let runner = Runner::new(app.db.clone())
            .handle("test.daily", |_| async { Err("database away".to_owned()) })
            .recurring("test.daily", insyn::audit::now);
        runner.ensure_recurring().await.unwrap();
        let of_kind = || {
            entities::job::Entity::find()
                .filter(entities::job::Column::Kind.eq("test.daily"))
                .order_by_asc(entities::job::Column::Id)
                .all(&app.db)
        };
        let jobs = of_kind().await.unwrap();
        assert_eq!(jobs.len(), 1, "one run is queued");
        // Its last attempt fails: it fails for good.
        let mut last: entities::job::ActiveModel = jobs[0].clone().into();
        last.attempts = Set(rules::MAX_ATTEMPTS - 1);
        last.update(&app.db).await.unwrap();
        assert_eq!(runner.run_once().await.unwrap(), 1);
        let jobs = of_kind().await.unwrap();
        assert_eq!(jobs[0].status, rules::FAILED);
        // The chain goes on: a new run is queued, once, however often the runner checks.
        runner.ensure_recurring().await.unwrap();
        runner.ensure_recurring().await.unwrap();
        let jobs = of_kind().await.unwrap();
        assert_eq!(jobs.len(), 2);
        assert_eq!(jobs[1].status, rules::QUEUED);
    }
);

both_backends!(
    a_long_job_keeps_its_lease_while_it_runs,
    |b: Backend| async move {
        let app = spawn_app(b).await;
        store::enqueue(&app.db, "test.long", &serde_json::json!({}))
            .await
            .unwrap();
        let runs = Arc::new(Mutex::new(0));
        let counted = runs.clone();
        let slow = Runner::new(app.db.clone())
            .lease(Duration::from_millis(300))
            .handle("test.long", move |_| {
                let counted = counted.clone();
                async move {
                    *counted.lock().unwrap() += 1;
                    tokio::time::sleep(Duration::from_millis(1200)).await;
                    Ok(())
                }
            });
        let running = tokio::spawn(async move { slow.run_once().await.unwrap() });
        // Well past the first lease, another worker finds nothing to take over.
        for _ in 0..4 {
            tokio::time::sleep(Duration::from_millis(250)).await;
            let taken = store::claim(
                &app.db,
                "other-worker",
                &["test.long"],
                10,
                Duration::from_secs(60),
            )
            .await
            .unwrap();
            assert!(taken.is_empty(), "a running job was taken for a dead one's");
        }
        assert_eq!(running.await.unwrap(), 1);
        assert_eq!(*runs.lock().unwrap(), 1);
    }
);

/// Makes the job due now, as if its backoff had passed, with `attempts` behind it.
async fn due_now(db: &sea_orm::DatabaseConnection, id: i64, attempts: i32) {
    use sea_orm::{ActiveModelTrait, EntityTrait, IntoActiveModel, Set};
    let mut j = entities::job::Entity::find_by_id(id)
        .one(db)
        .await
        .unwrap()
        .unwrap()
        .into_active_model();
    j.attempts = Set(attempts);
    j.run_at = Set(insyn::audit::now() - chrono::Duration::seconds(1));
    j.update(db).await.unwrap();
}

async fn job_row(db: &sea_orm::DatabaseConnection, id: i64) -> entities::job::Model {
    use sea_orm::EntityTrait;
    entities::job::Entity::find_by_id(id)
        .one(db)
        .await
        .unwrap()
        .unwrap()
}

both_backends!(
    a_persistent_kind_is_never_given_up_on,
    |b: Backend| async move {
        let app = spawn_app(b).await;
        let lost = store::enqueue(&app.db, "test.once", &serde_json::json!({}))
            .await
            .unwrap();
        let kept = store::enqueue(&app.db, "test.mail", &serde_json::json!({}))
            .await
            .unwrap();
        let last: Arc<Mutex<Vec<bool>>> = Arc::default();
        let seen = last.clone();
        let runner = Runner::new(app.db.clone())
            .handle("test.once", |_| async { Err("down".to_owned()) })
            .handle("test.mail", move |p| {
                seen.lock()
                    .unwrap()
                    .push(p["last_attempt"].as_bool().unwrap());
                async { Err("smtp down".to_owned()) }
            })
            .persistent("test.mail");
        // Both at their last attempt: the ordinary kind is given up on, the persistent one not.
        due_now(&app.db, lost.id, rules::MAX_ATTEMPTS - 1).await;
        due_now(&app.db, kept.id, rules::MAX_ATTEMPTS - 1).await;
        assert_eq!(runner.run_once().await.unwrap(), 2);
        assert_eq!(job_row(&app.db, lost.id).await.status, rules::FAILED);
        let row = job_row(&app.db, kept.id).await;
        assert_eq!(row.status, rules::QUEUED);
        assert_eq!(row.attempts, rules::MAX_ATTEMPTS);
        assert_eq!(*last.lock().unwrap(), [false]);
        // Far past the last attempt it is still tried, an hour apart at most.
        due_now(&app.db, kept.id, 40).await;
        assert_eq!(runner.run_once().await.unwrap(), 1);
        let row = job_row(&app.db, kept.id).await;
        assert_eq!(row.status, rules::QUEUED);
        assert!(row.run_at <= insyn::audit::now() + chrono::Duration::hours(1));

        // One given up on before (by an earlier version) is queued again by the runner's check.
        let old = store::enqueue(&app.db, "test.mail", &serde_json::json!({}))
            .await
            .unwrap();
        due_now(&app.db, old.id, rules::MAX_ATTEMPTS - 1).await;
        Runner::new(app.db.clone())
            .handle("test.mail", |_| async { Err("smtp down".to_owned()) })
            .run_once()
            .await
            .unwrap();
        assert_eq!(job_row(&app.db, old.id).await.status, rules::FAILED);
        runner.ensure_recurring().await.unwrap();
        let row = job_row(&app.db, old.id).await;
        assert_eq!((row.status.as_str(), row.attempts), (rules::QUEUED, 0));
        assert_eq!(job_row(&app.db, lost.id).await.status, rules::FAILED);
    }
);

both_backends!(a_job_that_panics_fails_alone, |b: Backend| async move {
    let app = spawn_app(b).await;
    let bad = store::enqueue(&app.db, "test.panics", &serde_json::json!({}))
        .await
        .unwrap();
    let good = store::enqueue(&app.db, "test.fine", &serde_json::json!({}))
        .await
        .unwrap();
    let runner = Runner::new(app.db.clone())
        .handle("test.panics", |p| async move {
            // A handler's bug: an index out of range.
            let parts: Vec<&str> = p["missing"].as_str().unwrap_or("").split(',').collect();
            Err(parts[3].to_owned())
        })
        .handle("test.fine", |_| async { Ok(()) });
    // The panic fails its job (to be tried again) and the runner goes on to the next.
    assert_eq!(runner.run_once().await.unwrap(), 2);
    let row = job_row(&app.db, bad.id).await;
    assert_eq!(row.status, rules::QUEUED);
    assert_eq!(row.last_error.as_deref(), Some("the job panicked"));
    assert_eq!(job_row(&app.db, good.id).await.status, rules::DONE);
});

both_backends!(
    stopping_finishes_the_job_running_and_puts_the_rest_of_the_batch_back,
    |b: Backend| async move {
        let app = spawn_app(b).await;
        let mut ids = vec![];
        for _ in 0..3 {
            ids.push(
                store::enqueue(&app.db, "test.slow", &serde_json::json!({}))
                    .await
                    .unwrap()
                    .id,
            );
        }
        let runner = Runner::new(app.db.clone()).handle("test.slow", |_| async {
            tokio::time::sleep(Duration::from_millis(300)).await;
            Ok(())
        });
        // The service stops while the first of the batch runs.
        let started = std::time::Instant::now();
        runner
            .run(tokio::time::sleep(Duration::from_millis(100)))
            .await;
        assert!(
            started.elapsed() < Duration::from_millis(800),
            "it ran the whole batch"
        );
        let rows = [
            job_row(&app.db, ids[0]).await,
            job_row(&app.db, ids[1]).await,
            job_row(&app.db, ids[2]).await,
        ];
        assert_eq!(rows[0].status, rules::DONE);
        for r in &rows[1..] {
            assert_eq!((r.status.as_str(), r.attempts), (rules::QUEUED, 0), "{r:?}");
            assert!(r.locked_by.is_none());
        }
    }
);
