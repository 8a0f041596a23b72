//! `/api/v1/tokens`: issuing and revoking API tokens over HTTP (admin only).
use super::rules::{Role, TokenName};
use super::store;
use crate::app::AppState;
use crate::http::{ApiError, AppError, JsonBody, TokenAuth};
use chrono::{DateTime, Utc};
use poem::web::Data;
use poem_openapi::{ApiResponse, Enum, Object, OpenApi, Tags, param::Path, payload::Json};

#[derive(Tags)]
enum ApiTags {
    /// API tokens and their roles.
    Tokens,
}

/// A role, which decides the operations a token may call.
#[derive(Enum, Debug, Clone, Copy, PartialEq, Eq)]
#[oai(rename_all = "snake_case")]
pub enum RoleName {
    Admin,
    Officer,
    Archivist,
    Auditor,
    Integration,
}

impl From<RoleName> for Role {
    fn from(r: RoleName) -> Self {
        match r {
            RoleName::Admin => Role::Admin,
            RoleName::Officer => Role::Officer,
            RoleName::Archivist => Role::Archivist,
            RoleName::Auditor => Role::Auditor,
            RoleName::Integration => Role::Integration,
        }
    }
}

#[derive(Object, Debug)]
#[oai(skip_serializing_if_is_none)]
#[oai(example)]
pub struct CreateToken {
    /// What the token is for, e.g. `registrar integration`.
    pub name: String,
    pub role: RoleName,
}

impl poem_openapi::types::Example for CreateToken {
    fn example() -> Self {
        CreateToken {
            name: "registrar integration".into(),
            role: RoleName::Integration,
        }
    }
}

/// A token as listed: never its secret.
#[derive(Object, Debug)]
#[oai(skip_serializing_if_is_none)]
pub struct TokenView {
    pub id: i64,
    pub name: String,
    pub role: String,
    pub created_at: DateTime<Utc>,
    pub revoked_at: Option<DateTime<Utc>>,
}

impl From<entities::api_token::Model> for TokenView {
    fn from(m: entities::api_token::Model) -> Self {
        TokenView {
            id: m.id,
            name: m.name,
            role: m.role,
            created_at: m.created_at,
            revoked_at: m.revoked_at,
        }
    }
}

/// A new token, with its secret shown this once.
#[derive(Object, Debug)]
#[oai(skip_serializing_if_is_none)]
pub struct CreatedToken {
    #[oai(flatten)]
    pub token: TokenView,
    /// The bearer secret. It is stored hashed and cannot be shown again.
    pub secret: String,
}

#[derive(ApiResponse)]
enum CreateResponse {
    /// The token was created; keep the secret now.
    #[oai(status = 201)]
    Created(Json<CreatedToken>),
}

pub struct TokensApi;

#[OpenApi(prefix_path = "/api/v1/tokens", tag = "ApiTags::Tokens")]
impl TokensApi {
    /// Create an API token
    ///
    /// Roles: `admin`. The secret is in the answer once and never again.
    #[oai(path = "/", method = "post", operation_id = "create_token")]
    #[tracing::instrument(name = "create_token", skip_all)]
    async fn create(
        &self,
        state: Data<&AppState>,
        auth: TokenAuth,
        body: JsonBody<CreateToken>,
    ) -> Result<CreateResponse, ApiError> {
        let who = auth.0.require(&[Role::Admin])?.actor();
        let name = TokenName::parse(&body.name).map_err(|why| AppError::field("name", why))?;
        let created = store::create(&state.db, &name, body.role.into(), &who)
            .await
            .map_err(AppError::from)?;
        Ok(CreateResponse::Created(Json(CreatedToken {
            token: created.token.into(),
            secret: created.secret,
        })))
    }

    /// List API tokens
    ///
    /// Roles: `admin`. Secrets are never listed.
    #[oai(path = "/", method = "get", operation_id = "list_tokens")]
    #[tracing::instrument(name = "list_tokens", skip_all)]
    async fn list(
        &self,
        state: Data<&AppState>,
        auth: TokenAuth,
    ) -> Result<Json<Vec<TokenView>>, ApiError> {
        auth.0.require(&[Role::Admin])?;
        let tokens = store::list(&state.db).await.map_err(AppError::from)?;
        Ok(Json(tokens.into_iter().map(Into::into).collect()))
    }

    /// Revoke an API token
    ///
    /// Roles: `admin`. A revoked token gets 401 from then on; revoking twice is harmless.
    #[oai(path = "/:id/revoke", method = "post", operation_id = "revoke_token")]
    #[tracing::instrument(name = "revoke_token", skip_all, fields(id = id.0))]
    async fn revoke(
        &self,
        state: Data<&AppState>,
        auth: TokenAuth,
        id: Path<i64>,
    ) -> Result<Json<TokenView>, ApiError> {
        let who = auth.0.require(&[Role::Admin])?.actor();
        match store::revoke(&state.db, id.0, &who)
            .await
            .map_err(AppError::from)?
        {
            Some(t) => Ok(Json(t.into())),
            None => Err(AppError::NotFound(format!("token {}", id.0)).into()),
        }
    }
}
