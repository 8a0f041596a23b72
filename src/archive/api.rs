//! `/api/v1/channels`: the municipality's accounts whose content is archived.
use super::rules::Platform;
use super::store::{self, ChannelError, NewChannel};
use crate::app::AppState;
use crate::auth::Role;
use crate::http::{ApiError, AppError, FieldError, JsonBody, TokenAuth};
use chrono::{DateTime, Utc};
use poem::web::Data;
use poem_openapi::{ApiResponse, Enum, Object, OpenApi, Tags, payload::Json};

#[derive(Tags)]
enum ApiTags {
    /// The archive: channels, identities, records and their versions.
    Archive,
}

/// The platform a channel lives on.
#[derive(Enum, Debug, Clone, Copy, PartialEq, Eq)]
#[oai(rename_all = "lowercase")]
pub enum PlatformName {
    Facebook,
    Instagram,
    Messenger,
    X,
    Linkedin,
    Youtube,
    Other,
}

impl From<PlatformName> for Platform {
    fn from(p: PlatformName) -> Self {
        match p {
            PlatformName::Facebook => Platform::Facebook,
            PlatformName::Instagram => Platform::Instagram,
            PlatformName::Messenger => Platform::Messenger,
            PlatformName::X => Platform::X,
            PlatformName::Linkedin => Platform::Linkedin,
            PlatformName::Youtube => Platform::Youtube,
            PlatformName::Other => Platform::Other,
        }
    }
}

#[derive(Object, Debug)]
#[oai(example)]
pub struct CreateChannel {
    pub platform: PlatformName,
    /// The platform's id of the account (a Facebook Page id, an Instagram business account id).
    /// Records by this account are marked `drawn_up`.
    pub account_id: String,
    pub name: String,
    /// The department that runs the account.
    pub department: Option<String>,
}

impl poem_openapi::types::Example for CreateChannel {
    fn example() -> Self {
        CreateChannel {
            platform: PlatformName::Facebook,
            account_id: "1234567890321".into(),
            name: "Linköpings kommun".into(),
            department: Some("Kommunikationsavdelningen".into()),
        }
    }
}

#[derive(Object, Debug)]
pub struct ChannelView {
    pub id: i64,
    pub platform: String,
    pub account_id: String,
    pub name: String,
    pub department: Option<String>,
    pub created_at: DateTime<Utc>,
}

impl From<entities::channel::Model> for ChannelView {
    fn from(m: entities::channel::Model) -> Self {
        ChannelView {
            id: m.id,
            platform: m.platform,
            account_id: m.account_id,
            name: m.name,
            department: m.department,
            created_at: m.created_at,
        }
    }
}

#[derive(ApiResponse)]
enum CreateResponse {
    /// The channel was created.
    #[oai(status = 201)]
    Created(Json<ChannelView>),
}

fn text_field(errors: &mut Vec<FieldError>, field: &str, value: &str, max: usize) -> String {
    let v = value.trim();
    if v.is_empty() {
        errors.push(FieldError {
            field: field.into(),
            reason: "must not be empty".into(),
        });
    } else if v.chars().count() > max {
        errors.push(FieldError {
            field: field.into(),
            reason: format!("must be at most {max} characters"),
        });
    } else if v.chars().any(char::is_control) {
        errors.push(FieldError {
            field: field.into(),
            reason: "must not contain control characters".into(),
        });
    }
    v.to_owned()
}

pub struct ArchiveApi;

#[OpenApi(prefix_path = "/api/v1", tag = "ApiTags::Archive")]
impl ArchiveApi {
    /// Register a channel
    ///
    /// Roles: `admin`, `archivist`. One channel per platform and account id.
    #[oai(path = "/channels", method = "post", operation_id = "create_channel")]
    #[tracing::instrument(name = "create_channel", skip_all)]
    async fn create_channel(
        &self,
        state: Data<&AppState>,
        auth: TokenAuth,
        body: JsonBody<CreateChannel>,
    ) -> Result<CreateResponse, ApiError> {
        let who = auth.0.require(&[Role::Admin, Role::Archivist])?.actor();
        let mut errors = vec![];
        let account_id = text_field(&mut errors, "account_id", &body.account_id, 100);
        let name = text_field(&mut errors, "name", &body.name, 200);
        let department = body
            .department
            .as_deref()
            .map(|d| text_field(&mut errors, "department", d, 200));
        if !errors.is_empty() {
            return Err(AppError::Validation(errors).into());
        }
        let new = NewChannel {
            platform: body.platform.into(),
            account_id,
            name,
            department,
        };
        match store::create_channel(&state.db, new, &who).await {
            Ok(c) => Ok(CreateResponse::Created(Json(c.into()))),
            Err(ChannelError::Exists(p)) => Err(AppError::Conflict(format!(
                "a {p} channel with this account id exists already"
            ))
            .into()),
            Err(ChannelError::Db(e)) => Err(AppError::from(e).into()),
        }
    }

    /// List channels
    ///
    /// Roles: `admin`, `archivist`, `officer`, `auditor`.
    #[oai(path = "/channels", method = "get", operation_id = "list_channels")]
    #[tracing::instrument(name = "list_channels", skip_all)]
    async fn list_channels(
        &self,
        state: Data<&AppState>,
        auth: TokenAuth,
    ) -> Result<Json<Vec<ChannelView>>, ApiError> {
        auth.0
            .require(&[Role::Admin, Role::Archivist, Role::Officer, Role::Auditor])?;
        let channels = store::list_channels(&state.db)
            .await
            .map_err(AppError::from)?;
        Ok(Json(channels.into_iter().map(Into::into).collect()))
    }
}
