//! Intake: a new request registered, referenced and mailed; duplicates linked; accounts matched.
use super::*;

pub struct NewIdentity {
    pub platform: String,
    pub value: String,
}

pub struct NewRequest {
    pub request_type: RequestType,
    pub email: Email,
    pub language: Language,
    pub identities: Vec<NewIdentity>,
    pub message: Option<String>,
    /// Set by an officer registering a request received by letter, phone or in person.
    pub received_at: Option<DateTime<Utc>>,
}

pub struct Submitted {
    pub request: request::Model,
    /// Shown once; absent when the submission was a duplicate of an open request.
    pub status_token: Option<String>,
    pub duplicate: bool,
}

fn identity_keys(ids: &[(String, String)]) -> Vec<(String, String)> {
    let mut keys: Vec<(String, String)> = ids
        .iter()
        .map(|(p, v)| (p.clone(), account_key(v)))
        .collect();
    keys.sort();
    keys.dedup();
    keys
}

/// Takes in a request: registered, a reference and a due date, its identities matched against
/// the archive, the receipt and the code mailed. A duplicate of an open request is linked to it.
pub async fn submit(
    db: &DatabaseConnection,
    ctx: &Context,
    new: NewRequest,
    actor: &Actor,
) -> Result<Submitted, RequestError> {
    let txn = db.begin().await?;
    let at = now();
    let email = new.email.as_str().to_lowercase();
    let wanted = identity_keys(
        &new.identities
            .iter()
            .map(|i| (i.platform.clone(), i.value.clone()))
            .collect::<Vec<_>>(),
    );
    let open: Vec<request::Model> = request::Entity::find()
        .filter(request::Column::Email.eq(email.clone()))
        .filter(request::Column::RequestType.eq(new.request_type.as_str()))
        .filter(
            request::Column::Status.is_in(
                [
                    Status::AwaitingVerification,
                    Status::Verified,
                    Status::InProgress,
                    Status::AwaitingApproval,
                ]
                .map(Status::as_str),
            ),
        )
        .all(&txn)
        .await?;
    for existing in open {
        let ids: Vec<(String, String)> = request_identity::Entity::find()
            .filter(request_identity::Column::RequestId.eq(existing.id))
            .all(&txn)
            .await?
            .into_iter()
            .map(|i| (i.platform, i.value))
            .collect();
        if identity_keys(&ids) == wanted {
            event(
                &txn,
                existing.id,
                &actor.id,
                "duplicate_received",
                true,
                serde_json::json!({}),
            )
            .await?;
            send(
                &txn,
                &existing,
                &letters::duplicate(
                    language_of(&existing),
                    &existing.reference,
                    &existing.status,
                ),
            )
            .await?;
            log(
                &txn,
                actor,
                "request.duplicate",
                existing.id,
                serde_json::json!({}),
            )
            .await?;
            txn.commit().await?;
            return Ok(Submitted {
                request: existing,
                status_token: None,
                duplicate: true,
            });
        }
    }

    let received = new.received_at.unwrap_or(at);
    let year = ctx.today(at).year();
    let token = new_status_token();
    let code = new_code();
    let due = due_date(ctx.today(received), 1);
    let token_hash = hash_secret(&token);
    let mut created = request::ActiveModel {
        // Replaced below by the reference, which is made of the id.
        reference: Set(format!("pending-{}", &token_hash[..24])),
        request_type: Set(new.request_type.as_str().to_owned()),
        status: Set(Status::AwaitingVerification.as_str().to_owned()),
        email: Set(email),
        language: Set(match new.language {
            Language::Sv => "sv",
            Language::En => "en",
        }
        .to_owned()),
        message: Set(new.message),
        received_at: Set(received),
        due_at: Set(due),
        extended_due_at: Set(None),
        extension_months: Set(0),
        extension_reason: Set(None),
        status_token_hash: Set(token_hash),
        registration_number: Set(None),
        assignee: Set(None),
        duplicate_of: Set(None),
        created_by: Set(actor.id.clone()),
        created_at: Set(at),
        updated_at: Set(at),
        closed_at: Set(None),
        refusal_reason: Set(None),
        email_verified_at: Set(None),
        code_hash: Set(None),
        code_expires_at: Set(Some(at + chrono::Duration::minutes(CODE_MINUTES))),
        code_attempts: Set(0),
        codes_sent: Set(1),
        code_sent_at: Set(Some(at)),
        account_phrase: Set(new_phrase()),
        ..Default::default()
    }
    .insert(&txn)
    .await?;
    let mut a: request::ActiveModel = created.into();
    let id = *a.id.as_ref();
    a.reference = Set(reference(year, id));
    a.code_hash = Set(Some(code_hash(id, &code)));
    created = a.update(&txn).await?;

    for i in &new.identities {
        let row = request_identity::ActiveModel {
            request_id: Set(created.id),
            platform: Set(i.platform.clone()),
            value: Set(i.value.trim().to_owned()),
            identity_id: Set(None),
            verified_by: Set(None),
            verified_at: Set(None),
            ..Default::default()
        }
        .insert(&txn)
        .await?;
        match_identity(&txn, &row).await?;
    }
    event(
        &txn,
        created.id,
        &actor.id,
        "received",
        true,
        serde_json::json!({"due_at": due}),
    )
    .await?;
    let link = ctx.status_link(created.id, &token);
    let case = Case {
        lang: language_of(&created),
        reference: &created.reference,
        request_type: &created.request_type,
        due,
        status_link: &link,
    };
    send(&txn, &created, &letters::receipt(&case)).await?;
    send(
        &txn,
        &created,
        &letters::code(case.lang, &created.reference, &code, CODE_MINUTES),
    )
    .await?;
    // The registration's counter and the audit chain serialise every writer: they come last, so
    // that the locks are held for as little as possible before the commit.
    let registration = crate::registry::register(
        &txn,
        &ctx.numbering,
        crate::registry::NewRegistration {
            reason: crate::registry::rules::RegistrationReason::Request,
            record_id: None,
            request_id: Some(created.id),
            title: format!(
                "Begäran enligt dataskyddsförordningen ({}), {}",
                new.request_type.as_str(),
                created.reference
            ),
        },
        actor,
    )
    .await?;
    let mut a: request::ActiveModel = created.into();
    a.registration_number = Set(Some(registration.number));
    created = a.update(&txn).await?;
    log(
        &txn,
        actor,
        "request.submit",
        created.id,
        serde_json::json!({"type": created.request_type, "reference": created.reference,
            "received_at": created.received_at, "due_at": due}),
    )
    .await?;
    txn.commit().await?;
    Ok(Submitted {
        request: created,
        status_token: Some(token),
        duplicate: false,
    })
}

/// Links a named account to the identity it names, by platform id or profile link; identities
/// whose display name only resembles it become possible matches for the officer to decide.
async fn match_identity(
    txn: &DatabaseTransaction,
    row: &request_identity::Model,
) -> Result<(), DbErr> {
    let key = account_key(&row.value);
    if key.is_empty() {
        return Ok(());
    }
    let candidates = identity::Entity::find()
        .filter(identity::Column::Platform.eq(row.platform.clone()))
        .filter(
            identity::Column::PlatformId
                .eq(key.clone())
                .or(identity::Column::ProfileLink.like(format!("%/{key}")))
                .or(identity::Column::ProfileLink.like(format!("%/{key}/")))
                .or(identity::Column::ProfileLink.like(format!("%id={key}"))),
        )
        .limit(2)
        .all(txn)
        .await?;
    if let [found] = candidates.as_slice() {
        let mut a: request_identity::ActiveModel = row.clone().into();
        a.identity_id = Set(Some(found.id));
        a.update(txn).await?;
        return Ok(());
    }
    // A name, not an account: never included without the officer's say.
    let value = row.value.trim();
    if value.chars().count() < 3 {
        return Ok(());
    }
    let similar = identity::Entity::find()
        .filter(identity::Column::Platform.eq(row.platform.clone()))
        .filter(identity::Column::DisplayName.like(format!("%{value}%")))
        .limit(20)
        .all(txn)
        .await?;
    for i in similar {
        request_match::ActiveModel {
            request_id: Set(row.request_id),
            request_identity_id: Set(row.id),
            identity_id: Set(i.id),
            state: Set("possible".into()),
            decided_by: Set(None),
            decided_at: Set(None),
            ..Default::default()
        }
        .insert(txn)
        .await?;
    }
    Ok(())
}
