//! `/api/v1/channels`: the municipality's accounts whose content is archived.
use super::rules::Platform;
use super::store::{self, ChannelError, NewChannel};
use crate::app::AppState;
use crate::auth::Role;
use crate::http::{ApiError, AppError, FieldError, JsonBody, TokenAuth};
use chrono::{DateTime, Utc};
use poem::web::Data;
use poem_openapi::{
    ApiRequest, ApiResponse, Enum, Object, OpenApi, Tags,
    param::{Path, Query},
    payload::{Json, PlainText},
};

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
#[oai(skip_serializing_if_is_none)]
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
#[oai(skip_serializing_if_is_none)]
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

/// A platform payload: one JSON document, or NDJSON with one payload per line.
#[derive(ApiRequest)]
pub enum ImportBody {
    /// A Graph API object or paged list (`data` + `paging`), or a webhook delivery.
    #[oai(content_type = "application/json")]
    Json(Json<serde_json::Value>),
    /// One payload of any of those shapes per line.
    #[oai(content_type = "application/x-ndjson")]
    Ndjson(PlainText<String>),
}

#[derive(Object, Debug)]
#[oai(skip_serializing_if_is_none)]
pub struct SkippedItem {
    /// Where in the payload (`line N` for NDJSON, then a JSON pointer).
    pub pointer: String,
    pub reason: String,
}

#[derive(Object, Debug)]
#[oai(skip_serializing_if_is_none)]
pub struct ImportResult {
    pub created: u64,
    pub new_versions: u64,
    pub unchanged: u64,
    /// Items left out because an erasure suppressed them: they stay erased.
    pub suppressed: u64,
    pub skipped: Vec<SkippedItem>,
    /// Items archived under another channel than the one posted to: a webhook delivery's entry
    /// named that channel's account (Meta batches several Pages' events into one delivery). The
    /// counts above include them.
    pub routed: Vec<RoutedItems>,
}

#[derive(Object, Debug)]
pub struct RoutedItems {
    /// The channel whose account the entries named.
    pub channel: i64,
    /// How many items were archived under it.
    pub items: u64,
}

#[derive(Object, Debug)]
#[oai(skip_serializing_if_is_none)]
pub struct IdentityView {
    pub id: i64,
    pub platform: String,
    pub platform_id: String,
    pub display_name: Option<String>,
    pub profile_link: Option<String>,
    pub first_seen: DateTime<Utc>,
    pub last_seen: DateTime<Utc>,
}

#[derive(Object, Debug)]
#[oai(skip_serializing_if_is_none)]
pub struct AttachmentView {
    #[oai(rename = "type")]
    pub kind: String,
    pub url: Option<String>,
    pub mime: Option<String>,
    pub size: Option<i64>,
}

#[derive(Object, Debug)]
#[oai(skip_serializing_if_is_none)]
pub struct RecordView {
    pub id: i64,
    pub channel_id: i64,
    /// `post`, `comment`, `reply`, `reaction` or `message`.
    pub kind: String,
    pub platform_id: String,
    pub parent_platform_id: Option<String>,
    pub parent_id: Option<i64>,
    pub author_identity_id: Option<i64>,
    /// The person a message of the municipality's was sent to.
    pub recipient_identity_id: Option<i64>,
    /// `received` (inkommen) or `drawn_up` (upprättad).
    pub direction: String,
    /// When the platform says it happened.
    pub platform_time: Option<DateTime<Utc>>,
    /// When it reached the archive.
    pub archived_at: DateTime<Utc>,
    pub text: Option<String>,
    pub reaction_type: Option<String>,
    pub attachments: Vec<AttachmentView>,
    /// `visible`, `hidden`, `removed` or `deleted_by_author`.
    pub visibility: String,
    pub registration_number: Option<String>,
    /// Moderated as classified information: shown to officers only.
    pub classified: bool,
    /// The request whose restriction of processing (Art. 18) covers the record: shown to officers only.
    pub restricted_by: Option<i64>,
    pub version_count: i32,
    /// SHA-256 of the current version's canonical content.
    pub current_hash: String,
}

#[derive(Object, Debug)]
#[oai(skip_serializing_if_is_none)]
pub struct VersionView {
    pub seq: i32,
    /// `created`, `edited`, `hidden`, `unhidden`, `removed` or `deleted`.
    pub change: String,
    pub seen_at: DateTime<Utc>,
    /// The canonical content this version's hash covers.
    pub content: serde_json::Value,
    pub hash: String,
}

#[derive(Object, Debug)]
#[oai(skip_serializing_if_is_none)]
pub struct RecordDetail {
    #[oai(flatten)]
    pub record: RecordView,
    pub versions: Vec<VersionView>,
    pub retention: RetentionView,
    /// Corrections (Art. 16) noted beside the record, which itself never changes.
    pub notes: Vec<NoteView>,
}

#[derive(Object, Debug)]
#[oai(skip_serializing_if_is_none)]
pub struct NoteView {
    pub note: String,
    /// The rectification request it came from.
    pub request_id: Option<i64>,
    pub created_at: DateTime<Utc>,
}

/// How long the record is kept, and under which disposal decision.
#[derive(Object, Debug)]
#[oai(skip_serializing_if_is_none)]
pub struct RetentionView {
    /// False when no disposal decision covers the record: it is kept (no disposal without one).
    pub covered: bool,
    pub decision_id: Option<i64>,
    /// The governing decision's reference, e.g. `KS 2024-0456`.
    pub decision_reference: Option<String>,
    /// The first day it may be disposed of; absent when kept for ever, not covered, or
    /// registered.
    pub disposable_from: Option<chrono::NaiveDate>,
    /// True when the record is registered: a disposal run never takes a registered document,
    /// whatever the decision says; it leaves the archive only through the registry.
    pub registered: bool,
    /// True when the governing decision keeps it for ever.
    pub permanent: bool,
    /// Legal holds in force over it: nothing is disposed of or erased while one holds.
    pub held_by: Vec<i64>,
}

impl From<crate::retention::store::RecordRetention> for RetentionView {
    fn from(r: crate::retention::store::RecordRetention) -> Self {
        use crate::retention::rules::Retention;
        let (covered, decision_id, decision_reference, disposable_from, permanent) =
            match r.retention {
                Retention::NoDecision => (false, None, None, None, false),
                Retention::Permanent {
                    decision_id,
                    reference,
                } => (true, Some(decision_id), Some(reference), None, true),
                Retention::DisposableFrom {
                    decision_id,
                    reference,
                    date,
                } => (true, Some(decision_id), Some(reference), Some(date), false),
            };
        RetentionView {
            covered,
            decision_id,
            decision_reference,
            disposable_from: disposable_from.filter(|_| !r.registered),
            registered: r.registered,
            permanent,
            held_by: r.held_by,
        }
    }
}

#[derive(Object, Debug)]
#[oai(skip_serializing_if_is_none)]
pub struct RecordPage {
    pub records: Vec<RecordView>,
    /// Pass as `after` for the next page; absent on the last page.
    pub next_after: Option<i64>,
}

#[derive(Object, Debug)]
#[oai(skip_serializing_if_is_none)]
pub struct VersionCheck {
    pub seq: i32,
    pub matches: bool,
}

#[derive(Object, Debug)]
#[oai(skip_serializing_if_is_none)]
pub struct FixityVerdict {
    pub record_id: i64,
    /// True when every version's content matches its hash and the record points at its last version.
    pub intact: bool,
    pub versions: Vec<VersionCheck>,
}

impl From<entities::record::Model> for RecordView {
    fn from(r: entities::record::Model) -> Self {
        let attachments: Vec<super::rules::Attachment> =
            serde_json::from_str(&r.attachments).unwrap_or_default();
        RecordView {
            id: r.id,
            channel_id: r.channel_id,
            kind: r.kind,
            platform_id: r.platform_id,
            parent_platform_id: r.parent_platform_id,
            parent_id: r.parent_id,
            author_identity_id: r.author_identity_id,
            recipient_identity_id: r.recipient_identity_id,
            direction: r.direction,
            platform_time: r.platform_time,
            archived_at: r.archived_at,
            text: r.text,
            reaction_type: r.reaction_type,
            attachments: attachments
                .into_iter()
                .map(|a| AttachmentView {
                    kind: a.kind,
                    url: a.url,
                    mime: a.mime,
                    size: a.size,
                })
                .collect(),
            visibility: r.visibility,
            registration_number: r.registration_number,
            classified: r.classified,
            restricted_by: r.restricted_by,
            version_count: r.version_count,
            current_hash: r.current_hash,
        }
    }
}

#[derive(Enum, Debug, Clone, Copy, PartialEq, Eq)]
#[oai(rename_all = "snake_case")]
pub enum KindName {
    Post,
    Comment,
    Reply,
    Reaction,
    Message,
}

impl KindName {
    pub fn as_str(self) -> &'static str {
        match self {
            KindName::Post => "post",
            KindName::Comment => "comment",
            KindName::Reply => "reply",
            KindName::Reaction => "reaction",
            KindName::Message => "message",
        }
    }
}

/// Classified records (moderated as `classified_information`) and records under restriction
/// (Art. 18) are shown to officers only.
fn sees_classified(who: &crate::http::auth::Principal) -> bool {
    matches!(who.role, Role::Admin | Role::Officer)
}

/// Whether `who` may see the record `r`.
fn shown_to(r: &entities::record::Model, who: &crate::http::auth::Principal) -> bool {
    !(r.classified || r.restricted_by.is_some()) || sees_classified(who)
}

/// The record `id` as `who` may see it, for another capability's reads about a record: the
/// archive holds it (a tombstone is not held) and, when it is classified or restricted, `who` is
/// an officer. Otherwise a 404, as `GET /records/{id}` answers.
pub async fn visible_record(
    db: &sea_orm::DatabaseConnection,
    id: i64,
    who: &crate::http::auth::Principal,
) -> Result<entities::record::Model, AppError> {
    use sea_orm::{ColumnTrait, QueryFilter};
    store::held_records()
        .filter(entities::record::Column::Id.eq(id))
        .one(db)
        .await?
        .filter(|r| shown_to(r, who))
        .ok_or_else(|| AppError::NotFound(format!("record {id}")))
}

const READERS: &[Role] = &[Role::Admin, Role::Archivist, Role::Officer, Role::Auditor];

pub struct RecordsApi;

#[OpenApi(prefix_path = "/api/v1", tag = "ApiTags::Archive")]
impl RecordsApi {
    /// Import platform payloads
    ///
    /// Roles: `admin`, `archivist`, `integration`. Reads Graph API objects and lists, Page,
    /// Instagram and Messenger webhook deliveries, or NDJSON of any of these. Idempotent: the same
    /// payload twice creates nothing new. One transaction per request: a payload that is not archive
    /// content is rejected whole, naming the line and JSON pointer, and nothing is written. A
    /// webhook entry that names the account of another channel on the same platform is archived
    /// under that channel (`routed`); one naming an account no channel has, under `channel`.
    #[oai(path = "/imports", method = "post", operation_id = "import_payload")]
    #[tracing::instrument(name = "import_payload", skip_all, fields(channel = channel.0))]
    async fn import(
        &self,
        state: Data<&AppState>,
        auth: TokenAuth,
        /// The channel whose payloads these are.
        channel: Query<i64>,
        body: ImportBody,
    ) -> Result<Json<ImportResult>, ApiError> {
        let who = auth
            .0
            .require(&[Role::Admin, Role::Archivist, Role::Integration])?
            .actor();
        let documents: Vec<(String, serde_json::Value)> = match body {
            ImportBody::Json(Json(v)) => vec![(String::new(), v)],
            ImportBody::Ndjson(PlainText(text)) => {
                super::import::ndjson(&text).map_err(|r| AppError::field(&r.pointer, r.reason))?
            }
        };
        let parsed = super::import::parse_all(documents.iter().map(|(p, d)| (p.as_str(), d)))
            .map_err(|r| AppError::field(&r.pointer, r.reason))?;
        let (observations, skipped) = (parsed.observations, parsed.skipped);
        let counts = match store::import(
            &state.db,
            channel.0,
            observations,
            skipped,
            &who,
            &state.settings.policy_version,
            &state.secret.suppression(),
            &state.request_context(),
        )
        .await
        {
            Ok(c) => c,
            Err(store::ImportError::NoChannel(id)) => {
                return Err(AppError::field("channel", format!("there is no channel {id}")).into());
            }
            Err(store::ImportError::Db(e)) => return Err(AppError::from(e).into()),
        };
        Ok(Json(ImportResult {
            created: counts.created,
            new_versions: counts.new_versions,
            unchanged: counts.unchanged,
            suppressed: counts.suppressed,
            skipped: counts
                .skipped
                .into_iter()
                .map(|s| SkippedItem {
                    pointer: s.pointer,
                    reason: s.reason,
                })
                .collect(),
            routed: counts
                .routed
                .into_iter()
                .map(|(channel, items)| RoutedItems { channel, items })
                .collect(),
        }))
    }

    /// Find identities
    ///
    /// Roles: `admin`, `archivist`, `officer`, `auditor`. `q` matches the platform id or profile
    /// link exactly, or part of the display name.
    #[oai(path = "/identities", method = "get", operation_id = "list_identities")]
    #[tracing::instrument(name = "list_identities", skip_all)]
    async fn identities(
        &self,
        state: Data<&AppState>,
        auth: TokenAuth,
        platform: Query<Option<PlatformName>>,
        q: Query<Option<String>>,
    ) -> Result<Json<Vec<IdentityView>>, ApiError> {
        auth.0.require(READERS)?;
        let platform = platform.0.map(|p| Platform::from(p).as_str());
        let rows = store::list_identities(&state.db, platform, q.0.as_deref(), 100)
            .await
            .map_err(AppError::from)?;
        Ok(Json(
            rows.into_iter()
                .map(|i| IdentityView {
                    id: i.id,
                    platform: i.platform,
                    platform_id: i.platform_id,
                    display_name: i.display_name,
                    profile_link: i.profile_link,
                    first_seen: i.first_seen,
                    last_seen: i.last_seen,
                })
                .collect(),
        ))
    }

    /// List records
    ///
    /// Roles: `admin`, `archivist`, `officer`, `auditor`. Filter by author (`identity`), by the
    /// person a message was sent to (`recipient`), channel, parent record, kind and platform time
    /// (`since` inclusive, `until` exclusive); page with `after` and `limit` (1–1000).
    #[oai(path = "/records", method = "get", operation_id = "list_records")]
    #[tracing::instrument(name = "list_records", skip_all)]
    #[allow(clippy::too_many_arguments)]
    async fn records(
        &self,
        state: Data<&AppState>,
        auth: TokenAuth,
        identity: Query<Option<i64>>,
        recipient: Query<Option<i64>>,
        channel: Query<Option<i64>>,
        parent: Query<Option<i64>>,
        kind: Query<Option<KindName>>,
        since: Query<Option<DateTime<Utc>>>,
        until: Query<Option<DateTime<Utc>>>,
        after: Query<Option<i64>>,
        #[oai(validator(minimum(value = "1"), maximum(value = "1000")))] limit: Query<Option<u64>>,
    ) -> Result<Json<RecordPage>, ApiError> {
        let who = auth.0.require(READERS)?;
        let limit = limit.0.unwrap_or(100);
        let kind = kind.0.map(|k| k.as_str().to_owned());
        let rows = store::list_records(
            &state.db,
            &store::RecordFilter {
                identity: identity.0,
                recipient: recipient.0,
                channel: channel.0,
                parent: parent.0,
                kind,
                since: since.0,
                until: until.0,
                after_id: after.0,
                limit,
                include_withheld: sees_classified(who),
            },
        )
        .await
        .map_err(AppError::from)?;
        let next_after = crate::http::next_after(&rows, limit, |r| r.id);
        Ok(Json(RecordPage {
            records: rows.into_iter().map(Into::into).collect(),
            next_after,
        }))
    }

    /// Get a record with every version
    ///
    /// Roles: `admin`, `archivist`, `officer`, `auditor`.
    #[oai(path = "/records/:id", method = "get", operation_id = "get_record")]
    #[tracing::instrument(name = "get_record", skip_all, fields(id = id.0))]
    async fn record(
        &self,
        state: Data<&AppState>,
        auth: TokenAuth,
        id: Path<i64>,
    ) -> Result<Json<RecordDetail>, ApiError> {
        let who = auth.0.require(READERS)?;
        let (r, versions) = store::find_record(&state.db, id.0)
            .await
            .map_err(AppError::from)?
            .filter(|(r, _)| shown_to(r, who))
            .ok_or_else(|| AppError::NotFound(format!("record {}", id.0)))?;
        let tz = state.time_zone();
        let retention = crate::retention::store::retention_of_record(
            &state.db,
            &r,
            crate::retention::api::today(tz),
            tz,
        )
        .await
        .map_err(AppError::from)?;
        let notes = store::notes_of(&state.db, r.id)
            .await
            .map_err(AppError::from)?
            .into_iter()
            .map(|n| NoteView {
                note: n.note,
                request_id: n.request_id,
                created_at: n.created_at,
            })
            .collect();
        Ok(Json(RecordDetail {
            notes,
            retention: RetentionView::from(retention),
            record: r.into(),
            versions: versions
                .into_iter()
                .map(|v| VersionView {
                    seq: v.seq,
                    change: v.change,
                    seen_at: v.seen_at,
                    content: serde_json::from_str(&v.content)
                        .unwrap_or(serde_json::Value::String(v.content)),
                    hash: v.hash,
                })
                .collect(),
        }))
    }

    /// Verify a record's fixity
    ///
    /// Roles: `admin`, `archivist`, `officer`, `auditor`. Recomputes the SHA-256 of every version's
    /// stored canonical content and compares it with the stored hash.
    #[oai(
        path = "/records/:id/verify",
        method = "get",
        operation_id = "verify_record"
    )]
    #[tracing::instrument(name = "verify_record", skip_all, fields(id = id.0))]
    async fn verify(
        &self,
        state: Data<&AppState>,
        auth: TokenAuth,
        id: Path<i64>,
    ) -> Result<Json<FixityVerdict>, ApiError> {
        let who = auth.0.require(READERS)?;
        visible_record(&state.db, id.0, who).await?;
        let v = store::verify_record(&state.db, id.0)
            .await
            .map_err(AppError::from)?
            .ok_or_else(|| AppError::NotFound(format!("record {}", id.0)))?;
        Ok(Json(FixityVerdict {
            record_id: id.0,
            intact: v.intact(),
            versions: v
                .versions
                .into_iter()
                .map(|(seq, matches)| VersionCheck { seq, matches })
                .collect(),
        }))
    }
}
