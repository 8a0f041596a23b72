//! Builds the state, the router and the OpenAPI service; serves with graceful shutdown.
use crate::config::Settings;
use crate::http::{body_limit, health::HealthApi, problem, request_id};
use crate::{audit, auth};
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
}

pub type Apis = (HealthApi, auth::api::TokensApi, audit::api::AuditApi);

pub fn api_service() -> OpenApiService<Apis, ()> {
    OpenApiService::new(
        (HealthApi, auth::api::TokensApi, audit::api::AuditApi),
        "insyn",
        env!("CARGO_PKG_VERSION"),
    )
    .description(
        "GDPR data-subject requests over a public body's archived social-media records. \
         Every operation's description names the roles its bearer token must have.",
    )
}

/// The OpenAPI document exactly as `openapi/openapi.json` holds it.
pub fn openapi_json() -> String {
    let mut s = api_service().spec();
    s.push('\n');
    s
}

pub fn router(state: AppState) -> impl poem::Endpoint + 'static {
    let service = api_service();
    let docs = service.swagger_ui();
    let spec = service.spec_endpoint();
    let limit = state.settings.max_body_bytes;
    Route::new()
        .nest("/", service)
        .nest("/docs", docs)
        .at("/openapi.json", spec)
        .around(move |ep, req| body_limit::enforce(ep, req, limit))
        .data(state)
        .catch_all_error(problem::catch_all)
        .around(request_id::middleware)
}

/// Connects, migrates and returns the state the router needs.
pub async fn prepare(settings: Settings) -> anyhow::Result<AppState> {
    let db = crate::db::connect(&settings.database_url).await?;
    crate::db::migrate(&db).await?;
    Ok(AppState {
        db,
        settings: Arc::new(settings),
    })
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

pub async fn serve(
    state: AppState,
    acceptor: TcpAcceptor,
    shutdown: impl std::future::Future<Output = ()> + Send,
) -> std::io::Result<()> {
    Server::new_with_acceptor(acceptor)
        .run_with_graceful_shutdown(
            router(state),
            shutdown,
            Some(std::time::Duration::from_secs(10)),
        )
        .await
}
