//! `/api/v1/mail/test`: proves the mail path end to end.
use super::rules::{Email, Language, test_message};
use crate::app::AppState;
use crate::audit::{self, NewEntry};
use crate::auth::Role;
use crate::http::{ApiError, AppError, JsonBody, TokenAuth};
use poem::web::Data;
use poem_openapi::{ApiResponse, Enum, Object, OpenApi, Tags, payload::Json};
use sea_orm::TransactionTrait;

#[derive(Tags)]
enum ApiTags {
    /// Outgoing mail.
    Mail,
}

#[derive(Enum, Debug, Clone, Copy, PartialEq, Eq)]
#[oai(rename_all = "lowercase")]
pub enum LanguageCode {
    Sv,
    En,
}

impl From<LanguageCode> for Language {
    fn from(l: LanguageCode) -> Self {
        match l {
            LanguageCode::Sv => Language::Sv,
            LanguageCode::En => Language::En,
        }
    }
}

#[derive(Object, Debug)]
#[oai(skip_serializing_if_is_none)]
#[oai(example)]
pub struct TestMail {
    /// Where to send the test message.
    pub to: String,
    /// `sv` (default) or `en`.
    pub language: Option<LanguageCode>,
}

impl poem_openapi::types::Example for TestMail {
    fn example() -> Self {
        TestMail {
            to: "dataskydd@kommun.example".into(),
            language: Some(LanguageCode::Sv),
        }
    }
}

#[derive(Object, Debug)]
#[oai(skip_serializing_if_is_none)]
pub struct Queued {
    /// The outbox entry; the mail is sent by a background job, retried until the server takes it.
    pub outbox_id: i64,
}

#[derive(ApiResponse)]
enum QueueResponse {
    /// The mail is in the outbox and survives a restart.
    #[oai(status = 202)]
    Accepted(Json<Queued>),
}

pub struct MailApi;

#[OpenApi(prefix_path = "/api/v1/mail", tag = "ApiTags::Mail")]
impl MailApi {
    /// Queue a test mail
    ///
    /// Roles: `admin`. Queues a short test message through the outbox, as every other mail goes.
    #[oai(path = "/test", method = "post", operation_id = "queue_test_mail")]
    #[tracing::instrument(name = "queue_test_mail", skip_all)]
    async fn test(
        &self,
        state: Data<&AppState>,
        auth: TokenAuth,
        body: JsonBody<TestMail>,
    ) -> Result<QueueResponse, ApiError> {
        let who = auth.0.require(&[Role::Admin])?.actor();
        let to = Email::parse(&body.to).map_err(|why| AppError::field("to", why))?;
        let mail = test_message(body.language.map(Into::into).unwrap_or_default());
        let txn = state.db.begin().await.map_err(AppError::from)?;
        let id = super::store::queue(&txn, &to, &mail)
            .await
            .map_err(AppError::from)?;
        audit::append(
            &txn,
            &who,
            NewEntry {
                action: "mail.test",
                target: format!("outbox:{id}"),
                details: serde_json::json!({}),
            },
        )
        .await
        .map_err(AppError::from)?;
        txn.commit().await.map_err(AppError::from)?;
        Ok(QueueResponse::Accepted(Json(Queued { outbox_id: id })))
    }
}
