//! Bearer-token authentication. Deny by default: every operation names the roles it admits.
use super::problem::{AppError, Problem};
use crate::app::AppState;
use crate::audit::Actor;
use crate::auth::{Role, store};
use poem::{Request, http::StatusCode};
use poem_openapi::{SecurityScheme, auth::Bearer};

/// The caller behind a valid, unrevoked token.
#[derive(Debug, Clone)]
pub struct Principal {
    pub token_id: i64,
    pub role: Role,
}

impl Principal {
    /// Admits the caller only if their role is one of `roles`.
    pub fn require(&self, roles: &[Role]) -> Result<&Self, AppError> {
        if roles.contains(&self.role) {
            Ok(self)
        } else {
            Err(AppError::Forbidden)
        }
    }

    pub fn actor(&self) -> Actor {
        Actor {
            id: format!("token:{}", self.token_id),
            role: self.role.as_str().to_owned(),
        }
    }
}

/// An API token created with `insyn token create` or `POST /api/v1/tokens`, sent as
/// `Authorization: Bearer insyn_…`. Each operation's description names the roles it admits.
#[derive(SecurityScheme)]
#[oai(ty = "bearer", bearer_format = "opaque", checker = "check_token")]
pub struct TokenAuth(pub Principal);

fn unauthorized(why: &str) -> poem::Error {
    poem::Error::from_response(Problem::new(StatusCode::UNAUTHORIZED, why).into_poem_response())
}

async fn check_token(req: &Request, bearer: Bearer) -> poem::Result<Principal> {
    let state = req
        .data::<AppState>()
        .ok_or_else(|| poem::Error::from_status(StatusCode::INTERNAL_SERVER_ERROR))?;
    match store::find_by_secret(&state.db, &bearer.token).await {
        Ok(Some(t)) => match t.role.parse::<Role>() {
            Ok(role) => Ok(Principal {
                token_id: t.id,
                role,
            }),
            Err(_) => Err(unauthorized("the token has an unknown role")),
        },
        Ok(None) => Err(unauthorized("the bearer token is wrong or revoked")),
        Err(e) => {
            tracing::error!(error = %e, "token lookup failed");
            Err(poem::Error::from_response(
                Problem::new(
                    StatusCode::INTERNAL_SERVER_ERROR,
                    "an internal error occurred; it has been logged",
                )
                .into_poem_response(),
            ))
        }
    }
}

/// A citizen behind a request's status token.
#[derive(Debug, Clone, Copy)]
pub struct Citizen {
    pub request_id: i64,
}

/// The status token a citizen got for one request (`Authorization: Bearer dsr_…`), shown once
/// and mailed. It reaches that request and no other: another request's token gets 404.
#[derive(SecurityScheme)]
#[oai(
    ty = "bearer",
    bearer_format = "opaque",
    checker = "check_status_token"
)]
pub struct StatusTokenAuth(pub Citizen);

async fn check_status_token(req: &Request, bearer: Bearer) -> poem::Result<Citizen> {
    let state = req
        .data::<AppState>()
        .ok_or_else(|| poem::Error::from_status(StatusCode::INTERNAL_SERVER_ERROR))?;
    match crate::requests::store::by_status_token(&state.db, &bearer.token).await {
        Ok(Some(r)) => Ok(Citizen { request_id: r.id }),
        Ok(None) => Err(unauthorized("the status token is wrong")),
        Err(e) => {
            tracing::error!(error = %e, "status token lookup failed");
            Err(poem::Error::from_status(StatusCode::INTERNAL_SERVER_ERROR))
        }
    }
}

/// Either an API token (staff) or a request's status token (the citizen).
#[derive(SecurityScheme)]
pub enum CaseAuth {
    Staff(TokenAuth),
    Citizen(StatusTokenAuth),
}

/// Public, or an officer registering a request received by letter, phone or in person.
#[derive(SecurityScheme)]
pub enum IntakeAuth {
    Staff(TokenAuth),
    #[oai(fallback)]
    Anonymous,
}
