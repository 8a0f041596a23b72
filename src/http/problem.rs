//! RFC 9457 problem details. One application error, [`AppError`], keeps its internal cause for
//! the log; the client sees only the outer error as `application/problem+json`.
use poem::{Response, http::StatusCode};
use poem_openapi::{ApiResponse, Object, payload::Json};

pub const PROBLEM_JSON: &str = "application/problem+json";

/// A field that made the request invalid, and why.
#[derive(Object, Debug, Clone, PartialEq, Eq)]
#[oai(skip_serializing_if_is_none)]
pub struct FieldError {
    /// The field's name or JSON pointer, e.g. `role` or `/identities/0/platform`.
    pub field: String,
    pub reason: String,
}

/// An RFC 9457 problem details object.
#[derive(Object, Debug, Clone)]
#[oai(skip_serializing_if_is_none)]
#[oai(example)]
pub struct Problem {
    /// A URI naming the kind of problem.
    #[oai(rename = "type")]
    pub kind: String,
    pub title: String,
    pub status: u16,
    pub detail: String,
    /// For validation problems: each field at fault.
    #[oai(skip_serializing_if_is_empty, default)]
    pub errors: Vec<FieldError>,
}

impl poem_openapi::types::Example for Problem {
    fn example() -> Self {
        Problem {
        kind: "https://insyn.example/problems/validation".into(),
        title: "The request is not valid".into(),
        status: 400,
        detail: "role: unknown value \"boss\"".into(),
        errors: vec![FieldError {
            field: "role".into(),
            reason: "unknown value \"boss\"; expected one of admin, officer, archivist, auditor, integration".into(),
        }],
    }
    }
}

impl Problem {
    pub fn new(status: StatusCode, detail: impl Into<String>) -> Self {
        let (slug, title) = match status.as_u16() {
            400 => ("bad-request", "The request is not valid"),
            401 => ("unauthorized", "A valid bearer token is required"),
            403 => ("forbidden", "Your role does not allow this"),
            404 => ("not-found", "Not found"),
            405 => ("method-not-allowed", "Method not allowed"),
            409 => ("conflict", "The request conflicts with the current state"),
            413 => ("payload-too-large", "The request body is too large"),
            415 => ("unsupported-media-type", "Unsupported media type"),
            422 => ("unprocessable", "The request cannot be processed"),
            429 => ("too-many-requests", "Too many requests"),
            503 => ("unavailable", "The service is not ready"),
            s if s >= 500 => ("internal", "Internal error"),
            _ => ("error", "The request failed"),
        };
        Problem {
            kind: format!("https://insyn.example/problems/{slug}"),
            title: title.into(),
            status: status.as_u16(),
            detail: detail.into(),
            errors: vec![],
        }
    }

    pub fn validation(errors: Vec<FieldError>) -> Self {
        let detail = errors
            .iter()
            .map(|e| format!("{}: {}", e.field, e.reason))
            .collect::<Vec<_>>()
            .join("; ");
        Problem {
            kind: "https://insyn.example/problems/validation".into(),
            errors,
            ..Problem::new(StatusCode::BAD_REQUEST, detail)
        }
    }

    pub fn into_poem_response(self) -> Response {
        let status = StatusCode::from_u16(self.status).unwrap_or(StatusCode::INTERNAL_SERVER_ERROR);
        let body = serde_json::json!({
            "type": self.kind,
            "title": self.title,
            "status": self.status,
            "detail": self.detail,
            "errors": self.errors.iter().map(|e| serde_json::json!({"field": e.field, "reason": e.reason})).collect::<Vec<_>>(),
        });
        Response::builder()
            .status(status)
            .content_type(PROBLEM_JSON)
            .body(body.to_string())
    }
}

/// The application's one error type.
#[derive(Debug, thiserror::Error)]
pub enum AppError {
    #[error("validation failed")]
    Validation(Vec<FieldError>),
    #[error("unauthorized: {0}")]
    Unauthorized(&'static str),
    #[error("forbidden")]
    Forbidden,
    #[error("{0} not found")]
    NotFound(String),
    #[error("conflict: {0}")]
    Conflict(String),
    #[error("internal error")]
    Internal(#[source] anyhow::Error),
}

impl AppError {
    pub fn field(field: &str, reason: impl Into<String>) -> Self {
        AppError::Validation(vec![FieldError {
            field: field.into(),
            reason: reason.into(),
        }])
    }
}

impl From<sea_orm::DbErr> for AppError {
    fn from(e: sea_orm::DbErr) -> Self {
        AppError::Internal(e.into())
    }
}

impl<E: std::error::Error + Send + Sync + 'static> From<sea_orm::TransactionError<E>> for AppError
where
    AppError: From<E>,
{
    fn from(e: sea_orm::TransactionError<E>) -> Self {
        match e {
            sea_orm::TransactionError::Connection(db) => db.into(),
            sea_orm::TransactionError::Transaction(inner) => inner.into(),
        }
    }
}

/// What every operation may answer besides success; documented in the OpenAPI document.
#[derive(ApiResponse, Debug)]
#[oai(bad_request_handler = "bad_request")]
pub enum ApiError {
    /// The request is malformed or a field is invalid.
    #[oai(status = 400, content_type = "application/problem+json")]
    BadRequest(Json<Problem>),
    /// The bearer token is missing, wrong or revoked.
    #[oai(status = 401, content_type = "application/problem+json")]
    Unauthorized(Json<Problem>),
    /// The token's role is not admitted to this operation.
    #[oai(status = 403, content_type = "application/problem+json")]
    Forbidden(Json<Problem>),
    /// The resource does not exist (or is not yours to see).
    #[oai(status = 404, content_type = "application/problem+json")]
    NotFound(Json<Problem>),
    /// The action conflicts with the resource's state.
    #[oai(status = 409, content_type = "application/problem+json")]
    Conflict(Json<Problem>),
    /// The request body is larger than the configured limit.
    #[oai(status = 413, content_type = "application/problem+json")]
    PayloadTooLarge(Json<Problem>),
    /// The request body is not of a media type the operation takes (see its `Content-Type`).
    #[oai(status = 415, content_type = "application/problem+json")]
    UnsupportedMediaType(Json<Problem>),
    /// An internal error; its cause is in the log under the request id.
    #[oai(status = 500, content_type = "application/problem+json")]
    Internal(Json<Problem>),
}

fn bad_request(err: poem::Error) -> ApiError {
    let status = err.status();
    let problem = problem_from_poem_error(&err);
    match status.as_u16() {
        401 => ApiError::Unauthorized(Json(problem)),
        413 => ApiError::PayloadTooLarge(Json(problem)),
        415 => ApiError::UnsupportedMediaType(Json(problem)),
        _ => ApiError::BadRequest(Json(problem)),
    }
}

/// Turns poem's parse errors (bad JSON, wrong types, unknown enum values, bad params) into a
/// problem that names the field where poem-openapi tells us which one it was.
pub fn problem_from_poem_error(err: &poem::Error) -> Problem {
    let status = err.status();
    let message = err.to_string();
    if status == StatusCode::BAD_REQUEST {
        let field = field_of(&message).unwrap_or_else(|| "body".into());
        let mut p = Problem::validation(vec![FieldError {
            field,
            reason: message.clone(),
        }]);
        p.detail = message;
        p
    } else {
        Problem::new(status, message)
    }
}

/// poem-openapi reports object fields as `(field `name`)` and parameters as `parameter `name``.
fn field_of(message: &str) -> Option<String> {
    for marker in ["(field `", "parameter `"] {
        if let Some(start) = message.rfind(marker) {
            let rest = &message[start + marker.len()..];
            if let Some(end) = rest.find('`') {
                return Some(rest[..end].to_owned());
            }
        }
    }
    None
}

impl From<AppError> for ApiError {
    fn from(e: AppError) -> Self {
        match e {
            AppError::Validation(errors) => ApiError::BadRequest(Json(Problem::validation(errors))),
            AppError::Unauthorized(why) => {
                ApiError::Unauthorized(Json(Problem::new(StatusCode::UNAUTHORIZED, why)))
            }
            AppError::Forbidden => ApiError::Forbidden(Json(Problem::new(
                StatusCode::FORBIDDEN,
                "this operation does not admit your token's role",
            ))),
            AppError::NotFound(what) => ApiError::NotFound(Json(Problem::new(
                StatusCode::NOT_FOUND,
                format!("{what} not found"),
            ))),
            AppError::Conflict(why) => {
                ApiError::Conflict(Json(Problem::new(StatusCode::CONFLICT, why)))
            }
            AppError::Internal(cause) => {
                // The cause names tables and constraints; it stays in the log. Its `Display`, not
                // its `Debug`: PostgreSQL's error detail ("Key (platform, platform_id)=(facebook,
                // 501) already exists", "Failing row contains …") is personal data and is only in
                // the `Debug` form.
                tracing::error!(error = format!("{cause:#}"), "internal error");
                ApiError::Internal(Json(Problem::new(
                    StatusCode::INTERNAL_SERVER_ERROR,
                    "an internal error occurred; it has been logged",
                )))
            }
        }
    }
}

/// The last line of defence for every route: any error that reaches here leaves as problem+json.
pub async fn catch_all(err: poem::Error) -> Response {
    if err.is::<poem::error::NotFoundError>() {
        return Problem::new(StatusCode::NOT_FOUND, "no such route").into_poem_response();
    }
    let problem = problem_from_poem_error(&err);
    // Keep the operation id so metrics and logs name the route template, even for errors.
    let operation = err.data::<poem_openapi::OperationId>().copied();
    let mut resp = err.into_response();
    let already = resp
        .headers()
        .get(poem::http::header::CONTENT_TYPE)
        .and_then(|v| v.to_str().ok())
        .is_some_and(|v| v.starts_with(PROBLEM_JSON));
    if !already {
        resp = problem.into_poem_response();
    }
    if let Some(op) = operation {
        resp.set_data(op);
    }
    resp
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn finds_the_field_in_poem_messages() {
        assert_eq!(
            field_of(
                "parse request payload error: failed to parse \"CreateToken\": (field `role`) unknown"
            ),
            Some("role".into())
        );
        assert_eq!(field_of("nothing here"), None);
    }
}
