//! `/api/v1/audit`: reading the audit log and verifying its hash chain.
use super::store::{self, Filter};
use crate::app::AppState;
use crate::auth::Role;
use crate::http::{ApiError, AppError, TokenAuth};
use chrono::{DateTime, Utc};
use poem::web::Data;
use poem_openapi::{Object, OpenApi, Tags, param::Query, payload::Json};

#[derive(Tags)]
enum ApiTags {
    /// The append-only, hash-chained audit log.
    Audit,
}

#[derive(Object, Debug)]
#[oai(skip_serializing_if_is_none)]
pub struct AuditEntry {
    pub id: i64,
    pub at: DateTime<Utc>,
    /// `token:ID` or `cli`.
    pub actor: String,
    pub role: String,
    /// e.g. `token.create`.
    pub action: String,
    /// `kind:id` of what was acted on.
    pub target: String,
    /// Action-specific details (ids and codes, never personal data).
    pub details: serde_json::Value,
    pub prev_hash: String,
    pub hash: String,
}

#[derive(Object, Debug)]
#[oai(skip_serializing_if_is_none)]
pub struct AuditPage {
    pub entries: Vec<AuditEntry>,
    /// Pass as `after` to get the next page; absent on the last page.
    pub next_after: Option<i64>,
}

#[derive(Object, Debug)]
#[oai(skip_serializing_if_is_none)]
#[oai(example)]
pub struct ChainVerdict {
    /// True when every entry links to the one before and matches its own hash.
    pub intact: bool,
    /// How many entries were checked (up to and including the first broken one).
    pub checked: u64,
    /// The id of the first entry that breaks the chain (or of the anchor, when it is what
    /// does not hold).
    pub first_broken_id: Option<i64>,
    pub reason: Option<String>,
    /// The chain's last entry as `ID:HASH`, when it is intact. Keep it outside the service (in a
    /// report, or the diarium) and pass it back as `anchor`: a later verification then finds
    /// entries removed from the end, or a chain rewritten and hashed again, which links up by
    /// itself.
    pub head: Option<String>,
}

impl poem_openapi::types::Example for ChainVerdict {
    fn example() -> Self {
        ChainVerdict {
            intact: false,
            checked: 42,
            first_broken_id: Some(42),
            reason: Some(super::rules::Break::Content.as_str().into()),
            head: None,
        }
    }
}

pub struct AuditApi;

#[OpenApi(prefix_path = "/api/v1/audit", tag = "ApiTags::Audit")]
impl AuditApi {
    /// List audit entries
    ///
    /// Roles: `admin`, `auditor`. Oldest first; filter by target, action, actor and time (`since`
    /// inclusive, `until` exclusive); page with `after` and `limit` (1–1000, default 100).
    #[oai(path = "/", method = "get", operation_id = "list_audit")]
    #[tracing::instrument(name = "list_audit", skip_all)]
    #[allow(clippy::too_many_arguments)]
    async fn list(
        &self,
        state: Data<&AppState>,
        auth: TokenAuth,
        target: Query<Option<String>>,
        /// An action, e.g. `archive.dispose`.
        action: Query<Option<String>>,
        actor: Query<Option<String>>,
        since: Query<Option<DateTime<Utc>>>,
        until: Query<Option<DateTime<Utc>>>,
        after: Query<Option<i64>>,
        #[oai(validator(minimum(value = "1"), maximum(value = "1000")))] limit: Query<Option<u64>>,
    ) -> Result<Json<AuditPage>, ApiError> {
        auth.0.require(&[Role::Admin, Role::Auditor])?;
        let limit = limit.0.unwrap_or(100);
        let rows = store::list(
            &state.db,
            &Filter {
                target: target.0,
                action: action.0,
                actor: actor.0,
                since: since.0,
                until: until.0,
                after_id: after.0,
                limit,
            },
        )
        .await
        .map_err(AppError::from)?;
        let next_after = crate::http::next_after(&rows, limit, |r| r.id);
        let entries = rows
            .into_iter()
            .map(|r| AuditEntry {
                id: r.id,
                at: r.at,
                actor: r.actor,
                role: r.role,
                action: r.action,
                target: r.target,
                details: serde_json::from_str(&r.details)
                    .unwrap_or(serde_json::Value::String(r.details)),
                prev_hash: r.prev_hash,
                hash: r.hash,
            })
            .collect();
        Ok(Json(AuditPage {
            entries,
            next_after,
        }))
    }

    /// Verify the audit chain
    ///
    /// Roles: `admin`, `auditor`. Recomputes every entry's hash and link, and names the first
    /// entry that was edited, removed or reordered behind the service's back. The chain alone
    /// cannot show that its newest entries were deleted, or that someone with the database in hand
    /// rewrote it and hashed it again: keep the `head` it answers outside the service and pass it
    /// back as `anchor` next time.
    #[oai(path = "/verify", method = "get", operation_id = "verify_audit")]
    #[tracing::instrument(name = "verify_audit", skip_all)]
    async fn verify(
        &self,
        state: Data<&AppState>,
        auth: TokenAuth,
        /// `ID:HASH` of an entry, as an earlier verification's `head` gave it: the chain must
        /// still hold that entry with that hash.
        anchor: Query<Option<String>>,
    ) -> Result<Json<ChainVerdict>, ApiError> {
        auth.0.require(&[Role::Admin, Role::Auditor])?;
        let anchor = match anchor.0.as_deref() {
            None => None,
            Some(a) => Some(parse_anchor(a).ok_or_else(|| {
                AppError::field(
                    "anchor",
                    "must be an entry's id and hash as ID:HASH (64 hex digits)",
                )
            })?),
        };
        let v = store::verify(&state.db, anchor.as_ref().map(|(id, h)| (*id, h.as_str())))
            .await
            .map_err(AppError::from)?;
        Ok(Json(ChainVerdict {
            intact: v.first_broken.is_none(),
            checked: v.checked,
            first_broken_id: v.first_broken.map(|(id, _)| id),
            reason: v.first_broken.map(|(_, b)| b.as_str().to_owned()),
            head: v.head.map(|(id, hash)| format!("{id}:{hash}")),
        }))
    }
}

/// `ID:HASH`, the hash 64 hex digits.
fn parse_anchor(a: &str) -> Option<(i64, String)> {
    let (id, hash) = a.trim().split_once(':')?;
    let id: i64 = id.parse().ok().filter(|id| *id > 0)?;
    let hash = hash.to_ascii_lowercase();
    (hash.len() == 64 && hash.bytes().all(|b| b.is_ascii_hexdigit())).then_some((id, hash))
}
