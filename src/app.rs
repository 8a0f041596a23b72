//! Builds the state, the router and the OpenAPI service; serves with graceful shutdown.
use crate::config::Settings;
use crate::http::{body_limit, health::HealthApi, problem, request_id};
use crate::{archive, audit, auth, consent, erasure, mail, registry, requests, retention};
use poem::{
    EndpointExt, Route, Server,
    listener::{Acceptor, Listener, TcpAcceptor, TcpListener},
};
use poem_openapi::OpenApiService;
use sea_orm::DatabaseConnection;
use std::sync::Arc;

#[derive(Clone)]
pub struct AppState {
    pub db: DatabaseConnection,
    pub settings: Arc<Settings>,
    pub metrics: Arc<crate::http::metrics::Metrics>,
    /// The budget of the public endpoints, per client.
    pub limiter: Arc<crate::http::rate_limit::RateLimiter>,
    /// The officers' sign-in has a budget of its own: a flood of submissions from one address
    /// must not lock the officers out, nor guesses at tokens spend the citizens' budget.
    pub login_limiter: Arc<crate::http::rate_limit::RateLimiter>,
    /// The proxies whose `X-Forwarded-For` names the client.
    pub trusted_proxies: Arc<Vec<std::net::IpAddr>>,
    /// The erasure policy: public-document kinds, grounds, the reply's words.
    pub erasure_policy: Arc<crate::erasure::Policy>,
    /// The server's secret: the key of the suppression list, the codes' hashes and mail's secrets.
    pub secret: crate::secret::ServerSecret,
    /// Submitted requests, taken in by batches.
    pub intakes: requests::Intakes,
}

impl AppState {
    /// The client a call counts against in a rate limit.
    pub fn client(&self, req: &poem::Request) -> Option<std::net::IpAddr> {
        crate::http::rate_limit::client_of_request(req, &self.trusted_proxies)
    }

    /// Where packages are kept, and for how long.
    pub fn package_storage(&self) -> crate::packages::Storage {
        crate::packages::Storage {
            dir: std::path::Path::new(&self.settings.data_dir).join("packages"),
            days: self.settings.package_days,
            public_url: self.settings.public_url.clone(),
            time_zone: self.time_zone(),
        }
    }

    /// The municipality's time zone, whose days every date limit counts.
    pub fn time_zone(&self) -> chrono_tz::Tz {
        self.settings.zone()
    }

    /// The diarium's series and number pattern.
    pub fn numbering(&self) -> crate::registry::Numbering {
        numbering(&self.settings)
    }

    /// What erasure needs of the settings.
    pub fn erasure_context(&self) -> crate::erasure::Context {
        crate::erasure::Context {
            policy: self.erasure_policy.clone(),
            key: self.secret.suppression(),
            requests: self.request_context(),
            packages: self.package_storage(),
        }
    }

    /// What requests need of the settings.
    pub fn request_context(&self) -> crate::requests::store::Context {
        request_context(&self.settings, &self.secret)
    }
}

pub type Apis = (
    HealthApi,
    auth::api::TokensApi,
    audit::api::AuditApi,
    mail::api::MailApi,
    archive::api::ArchiveApi,
    archive::api::RecordsApi,
    consent::api::ConsentApi,
    registry::api::RegistryApi,
    retention::api::RetentionApi,
    requests::api::RequestsApi,
    erasure::api::ErasureApi,
);

pub fn api_service() -> OpenApiService<Apis, ()> {
    OpenApiService::new(
        (
            HealthApi,
            auth::api::TokensApi,
            audit::api::AuditApi,
            mail::api::MailApi,
            archive::api::ArchiveApi,
            archive::api::RecordsApi,
            consent::api::ConsentApi,
            registry::api::RegistryApi,
            retention::api::RetentionApi,
            requests::api::RequestsApi,
            erasure::api::ErasureApi,
        ),
        "insyn",
        env!("CARGO_PKG_VERSION"),
    )
    // Relative: the document is served by the instance it describes, wherever that is.
    .server("/")
    .license(
        poem_openapi::LicenseObject::new("EUPL-1.2")
            .url("https://interoperable-europe.ec.europa.eu/collection/eupl/eupl-text-eupl-12"),
    )
    .description(
        "GDPR data-subject requests over a public body's archived social-media records. \
         Every operation's description names the roles its bearer token must have.",
    )
}

/// The OpenAPI document exactly as `openapi/openapi.json` holds it.
pub fn openapi_json() -> String {
    let mut doc: serde_json::Value =
        serde_json::from_str(&api_service().spec()).unwrap_or_default();
    // poem-openapi cannot attach examples to a free-form request body: the import's are added here.
    if let Some(content) = doc.pointer_mut("/paths/~1api~1v1~1imports/post/requestBody/content") {
        let webhook = serde_json::json!({"object": "page", "entry": [{"id": "1234567890321", "time": 1732450000,
            "changes": [{"field": "feed", "value": {"item": "comment", "verb": "add", "comment_id": "1_10",
                "post_id": "1234567890321_1", "parent_id": "1234567890321_1", "message": "När öppnar badet?",
                "created_time": 1732450000, "from": {"id": "501", "name": "Anna Andersson"}}}]}]});
        content["application/json"]["example"] = webhook.clone();
        content["application/x-ndjson"]["example"] = serde_json::Value::String(format!(
            "{}\n{}\n",
            webhook,
            serde_json::json!({"id": "1_11", "from": {"id": "502", "name": "Bo Berg"}, "message": "Håller med",
                "created_time": "2026-11-24T10:00:00+0000", "parent": {"id": "1_10"}})
        ));
    }
    let enums: std::collections::HashSet<String> = doc
        .pointer("/components/schemas")
        .and_then(serde_json::Value::as_object)
        .map(|schemas| {
            schemas
                .iter()
                .filter(|(_, s)| s.get("enum").is_some())
                .map(|(name, _)| format!("#/components/schemas/{name}"))
                .collect()
        })
        .unwrap_or_default();
    tidy(&mut doc, &enums);
    let mut s = serde_json::to_string_pretty(&doc).unwrap_or_default();
    s.push('\n');
    s
}

/// What poem-openapi writes in its own dialect, put the way other tools read it: dates as `date`
/// (not `naive-date`), and a field of an enum type as a plain `$ref` (poem-openapi wraps it in
/// `allOf` to carry the field's description, which client generators reject; the enum's own
/// description stays).
fn tidy(v: &mut serde_json::Value, enums: &std::collections::HashSet<String>) {
    use serde_json::Value;
    match v {
        Value::Object(map) => {
            if map.get("format").and_then(Value::as_str) == Some("naive-date") {
                map.insert("format".into(), Value::String("date".into()));
            }
            // `allOf: [{$ref: Enum}, {description}]` (and nothing else besides a description).
            let single_enum_ref = map
                .get("allOf")
                .and_then(Value::as_array)
                .filter(|all| {
                    all.iter().skip(1).all(|extra| {
                        extra
                            .as_object()
                            .is_some_and(|o| o.keys().all(|k| k == "description"))
                    })
                })
                .and_then(|all| all.first())
                .and_then(|first| first.get("$ref"))
                .and_then(Value::as_str)
                .filter(|r| enums.contains(*r))
                .map(str::to_owned);
            if let Some(r) = single_enum_ref {
                // The field's own description stays beside the reference, for readers; tools
                // follow the reference.
                let description = map.get("description").cloned();
                map.clear();
                map.insert("$ref".into(), Value::String(r));
                if let Some(d) = description {
                    map.insert("description".into(), d);
                }
                return;
            }
            for child in map.values_mut() {
                tidy(child, enums);
            }
        }
        Value::Array(items) => {
            for child in items {
                tidy(child, enums);
            }
        }
        _ => {}
    }
}

pub fn router(state: AppState) -> impl poem::Endpoint + 'static {
    let service = api_service();
    let docs = service.swagger_ui();
    let spec = openapi_json();
    let methods = Arc::new(crate::http::allow::Methods::from_openapi(&spec));
    let limit = state.settings.max_body_bytes;
    let metrics = state.metrics.clone();
    let exposed = state.metrics.clone();
    // The API owns `/api/…` and the probes; the pages own the rest.
    let api = Arc::new(poem::IntoEndpoint::into_endpoint(service));
    crate::pages::mount(Route::new())
        .nest_no_strip("/api", api.clone())
        .at("/healthz", api.clone())
        .at("/readyz", api)
        .nest("/docs", docs)
        .at(
            "/openapi.json",
            poem::get(poem::endpoint::make_sync(move |_| {
                poem::IntoResponse::with_content_type(spec.clone(), "application/json")
            })),
        )
        .at(
            "/metrics",
            poem::get(poem::endpoint::make_sync(move |_| {
                poem::IntoResponse::with_content_type(exposed.render(), "text/plain; version=0.0.4")
            })),
        )
        .around(crate::http::nul::reject)
        .around(move |ep, req| body_limit::enforce(ep, req, limit))
        .around(move |ep, req| crate::http::allow::middleware(ep, req, methods.clone()))
        .data(state)
        .with(poem::middleware::CatchPanic::new().with_handler(|_| {
            // The panic's message may hold request data; it went to the log through the panic hook.
            problem::Problem::new(
                poem::http::StatusCode::INTERNAL_SERVER_ERROR,
                "an internal error occurred; it has been logged",
            )
            .into_poem_response()
        }))
        .catch_all_error(problem::catch_all)
        .around(move |ep, req| request_id::middleware(ep, req, metrics.clone()))
}

fn numbering(settings: &Settings) -> crate::registry::Numbering {
    crate::registry::Numbering {
        series: settings.registration_series.clone(),
        pattern: settings.registration_pattern.clone(),
        time_zone: settings.zone(),
    }
}

/// What the request flow needs of the settings and the server's secret.
pub fn request_context(
    settings: &Settings,
    secret: &crate::secret::ServerSecret,
) -> crate::requests::store::Context {
    crate::requests::store::Context {
        secret: secret.clone(),
        public_url: settings.public_url.clone(),
        numbering: numbering(settings),
        time_zone: settings.zone(),
    }
}

/// Connects, migrates, schedules the recurring jobs and returns the state the router needs.
pub async fn prepare(settings: Settings) -> anyhow::Result<AppState> {
    let db =
        crate::db::connect_with(&settings.database_url, crate::db::Checkpoints::Background).await?;
    crate::db::migrate(&db).await?;
    let limiter = || {
        Arc::new(crate::http::rate_limit::RateLimiter::new(
            settings.public_rate_limit,
            std::time::Duration::from_secs(settings.public_rate_window_secs),
        ))
    };
    let (limiter, login_limiter) = (limiter(), limiter());
    let trusted_proxies = Arc::new(settings.proxies().map_err(anyhow::Error::msg)?);
    let erasure_policy = crate::erasure::load_policy(&settings).map_err(anyhow::Error::msg)?;
    let secret = crate::secret::ServerSecret::load(&settings, &db).await?;
    let metrics: Arc<crate::http::metrics::Metrics> = Arc::default();
    let intakes = requests::Intakes::start(
        db.clone(),
        request_context(&settings, &secret),
        metrics.clone(),
    );
    let state = AppState {
        intakes,
        db,
        settings: Arc::new(settings),
        metrics,
        limiter,
        login_limiter,
        trusted_proxies,
        erasure_policy: Arc::new(erasure_policy),
        secret,
    };
    // The recurring jobs wait in the job table from the first start on.
    for (kind, next) in recurring_jobs(&state) {
        crate::jobs::store::ensure_scheduled(&state.db, kind, next()).await?;
    }
    Ok(state)
}

/// The jobs that run again and again, each with when its next run is due.
fn recurring_jobs(state: &AppState) -> Vec<(&'static str, crate::jobs::NextRun)> {
    let ctx = state.request_context();
    vec![
        (retention::JOB_KIND, Arc::new(retention::next_run)),
        (crate::packages::PURGE_JOB, Arc::new(retention::next_run)),
        (
            requests::DIGEST_JOB,
            Arc::new(move || requests::next_digest(&ctx)),
        ),
    ]
}

/// Binds the configured address (port 0 picks a free one) and returns the acceptor and its address.
pub async fn bind(listen: &str) -> std::io::Result<(TcpAcceptor, std::net::SocketAddr)> {
    let acceptor = TcpListener::bind(listen.to_owned()).into_acceptor().await?;
    let addr = acceptor
        .local_addr()
        .first()
        .and_then(|a| a.as_socket_addr().copied())
        .ok_or_else(|| std::io::Error::other("listener has no socket address"))?;
    Ok((acceptor, addr))
}

/// The background job runner with a handler for each kind of job this instance can do.
/// Without SMTP configured no `mail.send` handler is registered: mail waits in the outbox.
pub fn runner(state: &AppState) -> anyhow::Result<crate::jobs::Runner> {
    let mut runner = crate::jobs::Runner::new(state.db.clone());
    match &state.settings.smtp_url {
        Some(url) => {
            let sender =
                mail::sender::Sender::new(url, &state.settings.mail_from, state.secret.clone())?;
            let db = state.db.clone();
            runner = runner
                .handle(mail::store::JOB_KIND, move |payload| {
                    let (sender, db) = (sender.clone(), db.clone());
                    async move {
                        let ids =
                            mail::store::named(&payload).ok_or("payload names no outbox rows")?;
                        sender.send_all(&db, &ids).await
                    }
                })
                .persistent(mail::store::JOB_KIND);
        }
        None => {
            tracing::warn!("INSYN_SMTP_URL is not set: mail is kept in the outbox and not sent")
        }
    }
    let (db, storage) = (state.db.clone(), state.package_storage());
    runner = runner.handle(crate::packages::BUILD_JOB, move |payload| {
        let (db, storage) = (db.clone(), storage.clone());
        async move {
            let id = payload["package_id"]
                .as_i64()
                .ok_or("payload has no package_id")?;
            match crate::packages::store::build_queued(&db, &storage, id).await {
                Ok(()) => Ok(()),
                Err(e) => {
                    let why = e.to_string();
                    let last = payload["last_attempt"].as_bool().unwrap_or(false);
                    let _ = crate::packages::store::record_failure(&db, id, &why, last).await;
                    Err(why)
                }
            }
        }
    });
    let (db, storage) = (state.db.clone(), state.package_storage());
    runner = runner.handle(crate::packages::PURGE_JOB, move |_| {
        let (db, storage) = (db.clone(), storage.clone());
        async move {
            crate::packages::store::purge(&db, &storage)
                .await
                .map(|_| ())
                .map_err(|e| e.to_string())
        }
    });
    let (db, ctx) = (state.db.clone(), state.request_context());
    let officers: Vec<mail::rules::Email> = state
        .settings
        .officer_emails
        .iter()
        .filter_map(|e| mail::rules::Email::parse(e).ok())
        .collect();
    runner = runner.handle(requests::DIGEST_JOB, move |_| {
        let (db, ctx, officers) = (db.clone(), ctx.clone(), officers.clone());
        async move {
            requests::run_digest(&db, &ctx, &officers)
                .await
                .map_err(|e| e.to_string())
        }
    });
    let db = state.db.clone();
    let tz = state.time_zone();
    runner = runner.handle(retention::JOB_KIND, move |_| {
        let db = db.clone();
        async move {
            retention::run_daily(&db, tz)
                .await
                .map_err(|e| e.to_string())
        }
    });
    for (kind, next) in recurring_jobs(state) {
        runner = runner.recurring(kind, move || next());
    }
    Ok(runner)
}

/// Serves HTTP and runs background jobs until `shutdown` resolves.
pub async fn serve(
    state: AppState,
    acceptor: TcpAcceptor,
    shutdown: impl std::future::Future<Output = ()> + Send,
) -> anyhow::Result<()> {
    let (stop_tx, mut stop_rx) = tokio::sync::watch::channel(false);
    let jobs = tokio::spawn(runner(&state)?.run(async move {
        let _ = stop_rx.changed().await;
    }));
    let served = Server::new_with_acceptor(acceptor)
        .run_with_graceful_shutdown(
            router(state),
            shutdown,
            Some(std::time::Duration::from_secs(10)),
        )
        .await;
    let _ = stop_tx.send(true);
    let _ = jobs.await;
    served.map_err(Into::into)
}
