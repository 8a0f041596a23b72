//! Liveness and readiness probes.
use crate::app::AppState;
use crate::http::Problem;
use poem::web::Data;
use poem_openapi::{ApiResponse, Object, OpenApi, Tags, payload::Json};

#[derive(Tags)]
enum ApiTags {
    /// Probes for the operator and the load balancer.
    Health,
}

#[derive(Object, Debug)]
#[oai(skip_serializing_if_is_none)]
pub struct Status {
    /// `ok`
    pub status: String,
}

#[derive(ApiResponse)]
enum ReadyResponse {
    /// The database answers and every migration is applied.
    #[oai(status = 200)]
    Ready(Json<Status>),
    /// The database is unreachable or migrations are pending.
    #[oai(status = 503, content_type = "application/problem+json")]
    NotReady(Json<Problem>),
}

pub struct HealthApi;

#[OpenApi(tag = "ApiTags::Health")]
impl HealthApi {
    /// Is the process up?
    ///
    /// No login. Answers 200 while the process serves HTTP.
    #[oai(path = "/healthz", method = "get", operation_id = "healthz")]
    async fn healthz(&self) -> Json<Status> {
        Json(Status {
            status: "ok".into(),
        })
    }

    /// Is the service ready?
    ///
    /// No login. Answers 200 when the database is reachable and migrated, else 503.
    #[oai(path = "/readyz", method = "get", operation_id = "readyz")]
    async fn readyz(&self, state: Data<&AppState>) -> ReadyResponse {
        let why = match crate::db::is_migrated(&state.db).await {
            Ok(true) => {
                return ReadyResponse::Ready(Json(Status {
                    status: "ok".into(),
                }));
            }
            Ok(false) => "migrations are pending",
            Err(e) => {
                tracing::warn!(error = %e, "readiness check failed");
                "the database is not reachable"
            }
        };
        ReadyResponse::NotReady(Json(Problem::new(
            poem::http::StatusCode::SERVICE_UNAVAILABLE,
            why,
        )))
    }
}
