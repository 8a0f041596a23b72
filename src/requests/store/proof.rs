//! Proof of identity (Art. 12(6)): the mailed code, the account phrase sent from the claimed account, the
//! officer's check, and the officer's word on possible matches.
use super::*;
use std::collections::HashMap;

/// Confirms the address with the mailed code.
pub async fn verify_code(
    db: &DatabaseConnection,
    ctx: &Context,
    id: i64,
    code: &str,
    actor: &Actor,
) -> Result<Confirmed, RequestError> {
    let txn = db.begin().await?;
    let r = lock(&txn, id).await?;
    if r.email_verified_at.is_some() || status_of(&r) != Status::AwaitingVerification {
        return Err(RequestError::Illegal(format!(
            "the request is {} and needs no code",
            r.status
        )));
    }
    if r.code_attempts >= CODE_ATTEMPTS {
        return Err(RequestError::CodeExhausted);
    }
    if r.code_expires_at.is_none_or(|e| e < now()) {
        return Err(RequestError::CodeExpired);
    }
    let right = r.code_hash.as_deref().is_some_and(|stored| {
        stored == ctx.secret.code_hash(id, code) || stored == unkeyed_code_hash(id, code)
    });
    if !right {
        let attempts = r.code_attempts + 1;
        let mut a: request::ActiveModel = r.into();
        a.code_attempts = Set(attempts);
        a.update(&txn).await?;
        event(
            &txn,
            id,
            &actor.id,
            "code_wrong",
            false,
            serde_json::json!({"attempt": attempts}),
        )
        .await?;
        txn.commit().await?;
        return Err(if attempts >= CODE_ATTEMPTS {
            RequestError::CodeExhausted
        } else {
            RequestError::WrongCode(CODE_ATTEMPTS - attempts)
        });
    }
    let r = move_to(&txn, r, Action::Verify, |a| {
        a.email_verified_at = Set(Some(now()));
        a.code_hash = Set(None);
    })
    .await?;
    event(
        &txn,
        id,
        &actor.id,
        "email_verified",
        true,
        serde_json::json!({}),
    )
    .await?;
    // The link given at submission was shown to whoever submitted, and mailed to the address in
    // the receipt: a confirmed code shows the address is read, not by whom. Whoever confirmed it
    // holds the code, that is the address: they get a new link, and the first stops working.
    let (r, token) =
        renew_status_token(&txn, ctx, r, &actor.id, letters::Renewal::AddressConfirmed).await?;
    log(
        &txn,
        actor,
        "request.verify_email",
        id,
        serde_json::json!({}),
    )
    .await?;
    txn.commit().await?;
    Ok(Confirmed {
        request: r,
        status_token: token,
    })
}

/// A request whose address was just confirmed, and its new status token (shown once).
pub struct Confirmed {
    pub request: request::Model,
    pub status_token: String,
}

/// Mails a new code, at most [`CODES_PER_REQUEST`] over the request's life and one a minute.
pub async fn resend_code(
    db: &DatabaseConnection,
    ctx: &Context,
    id: i64,
    actor: &Actor,
) -> Result<request::Model, RequestError> {
    let txn = db.begin().await?;
    let r = lock(&txn, id).await?;
    if status_of(&r) != Status::AwaitingVerification || r.email_verified_at.is_some() {
        return Err(RequestError::Illegal(format!(
            "the request is {} and needs no code",
            r.status
        )));
    }
    if let Some(sent) = r.code_sent_at {
        let wait = CODE_PAUSE_SECONDS - (now() - sent).num_seconds();
        if wait > 0 {
            return Err(RequestError::CodeTooSoon(wait));
        }
    }
    if r.codes_sent >= CODES_PER_REQUEST {
        return Err(RequestError::Illegal(
            "no more codes can be sent for this request; ask the municipality for help".into(),
        ));
    }
    let code = new_code();
    let at = now();
    let mut a: request::ActiveModel = r.clone().into();
    a.code_hash = Set(Some(ctx.secret.code_hash(id, &code)));
    a.code_expires_at = Set(Some(at + chrono::Duration::minutes(CODE_MINUTES)));
    a.code_attempts = Set(0);
    a.codes_sent = Set(r.codes_sent + 1);
    a.code_sent_at = Set(Some(at));
    let r = a.update(&txn).await?;
    let mail = letters::code(language_of(&r), &r.reference, &code, CODE_MINUTES);
    crate::mail::store::queue_many(&txn, Some(&ctx.secret), &[(&address(&r)?, &mail)]).await?;
    event(
        &txn,
        id,
        &actor.id,
        "code_sent",
        true,
        serde_json::json!({}),
    )
    .await?;
    txn.commit().await?;
    Ok(r)
}

/// An officer's proof of identity given outside the system: the named accounts in `accounts`, or
/// every named account, count as verified, and an unverified request moves on. Answers the request
/// and, when the status token was replaced, the new one (which is mailed; never shown over HTTP).
pub async fn verify_identity(
    db: &DatabaseConnection,
    ctx: &Context,
    id: i64,
    method: ProofMethod,
    note: Option<String>,
    accounts: Option<Vec<i64>>,
    actor: &Actor,
) -> Result<(request::Model, Option<String>), RequestError> {
    let txn = db.begin().await?;
    let mut r = lock(&txn, id).await?;
    if !status_of(&r).is_open() {
        return Err(RequestError::Illegal(format!(
            "the request is {}",
            r.status
        )));
    }
    let by = format!("officer:{}", method.as_str());
    let named = request_identity::Entity::find()
        .filter(request_identity::Column::RequestId.eq(id))
        .all(&txn)
        .await?;
    if let Some(accounts) = &accounts
        && let Some((n, other)) = accounts
            .iter()
            .enumerate()
            .find(|(_, a)| !named.iter().any(|i| i.id == **a))
    {
        return Err(RequestError::Invalid {
            field: format!("accounts/{n}"),
            reason: format!("{other} is not an account this request names"),
        });
    }
    let covered = |i: &request_identity::Model| accounts.as_ref().is_none_or(|a| a.contains(&i.id));
    let mut newly = 0;
    for i in named
        .into_iter()
        .filter(|i| i.verified_at.is_none() && covered(i))
    {
        let mut a: request_identity::ActiveModel = i.into();
        a.verified_by = Set(Some(by.clone()));
        a.verified_at = Set(Some(now()));
        a.update(&txn).await?;
        newly += 1;
    }
    if status_of(&r) == Status::AwaitingVerification {
        r = move_to(&txn, r, Action::Verify, |_| {}).await?;
    }
    event(
        &txn,
        id,
        &actor.id,
        "identity_verified",
        true,
        serde_json::json!({"method": method.as_str(), "note": note, "accounts": accounts}),
    )
    .await?;
    let mut replaced = None;
    if newly > 0
        && let Some((changed, token)) = replace_status_token(&txn, ctx, id, &actor.id).await?
    {
        r = changed;
        replaced = Some(token);
    }
    log(
        &txn,
        actor,
        "request.verify_identity",
        id,
        serde_json::json!({"method": method.as_str(), "accounts": accounts}),
    )
    .await?;
    txn.commit().await?;
    Ok((r, replaced))
}

/// The proof of who the person is (an officer's, or a message from their account) is theirs, but
/// the status token is whoever submitted's: someone who filed the request in the person's name
/// would otherwise follow the case, and download its package, on the person's proof. Until the
/// address is confirmed by its code (which replaces the token itself, for whoever holds the
/// address), the first proof replaces the token with one mailed to the address alone; later
/// proofs leave the mailed one be. Answers the request and the new token when it was replaced.
async fn replace_status_token<C: ConnectionTrait>(
    txn: &C,
    ctx: &Context,
    id: i64,
    actor: &str,
) -> Result<Option<(request::Model, String)>, DbErr> {
    // Read under the row's lock: a code confirmed, or another proof, at the same moment is seen.
    // (A SQLite transaction that writes holds the database's one write lock already.)
    let mut q = request::Entity::find_by_id(id);
    if txn.get_database_backend() == sea_orm::DbBackend::Postgres {
        q = q.lock_exclusive();
    }
    let Some(r) = q.one(txn).await? else {
        return Ok(None);
    };
    let replaced_before = request_event::Entity::find()
        .filter(request_event::Column::RequestId.eq(id))
        .filter(request_event::Column::Kind.eq(LINK_REPLACED))
        .one(txn)
        .await?
        .is_some();
    if r.email_verified_at.is_some() || replaced_before {
        return Ok(None);
    }
    let (r, token) =
        renew_status_token(txn, ctx, r, actor, letters::Renewal::PersonConfirmed).await?;
    Ok(Some((r, token)))
}

/// Gives the request a new status token, mails its link to the address alone, and says so in
/// the history: the token it had stops working.
async fn renew_status_token<C: ConnectionTrait>(
    txn: &C,
    ctx: &Context,
    r: request::Model,
    actor: &str,
    why: letters::Renewal,
) -> Result<(request::Model, String), DbErr> {
    let token = new_status_token();
    let mut a: request::ActiveModel = r.into();
    a.status_token_hash = Set(hash_secret(&token));
    let r = a.update(txn).await?;
    let page = ctx.status_page(r.id);
    let mail = letters::new_link(
        &Case {
            lang: language_of(&r),
            reference: &r.reference,
            request_type: &r.request_type,
            due: r.extended_due_at.unwrap_or(r.due_at),
            status_page: &page,
            token: &token,
        },
        why,
    );
    crate::mail::store::queue_many(txn, Some(&ctx.secret), &[(&address(&r)?, &mail)]).await?;
    event(txn, r.id, actor, LINK_REPLACED, true, serde_json::json!({})).await?;
    Ok((r, token))
}

/// The history's entry for a status token replaced by [`replace_status_token`].
const LINK_REPLACED: &str = "status_link_replaced";

/// Called by the import for what it archived: a message or comment carrying an open request's
/// phrase, from the account the request names, proves control of that account.
pub async fn prove_by_message<C: ConnectionTrait>(
    txn: &C,
    ctx: &Context,
    platform: &str,
    texts: &[(i64, &str, &str)],
) -> Result<u64, DbErr> {
    let phrases: Vec<(usize, String)> = texts
        .iter()
        .enumerate()
        .flat_map(|(k, (_, _, text))| phrases_in(text).into_iter().map(move |p| (k, p)))
        .collect();
    if phrases.is_empty() {
        return Ok(0);
    }
    // Looked up by phrase (an index serves it), the status checked here: a request that is
    // closed proves nothing.
    let waiting: HashMap<String, request::Model> = request::Entity::find()
        .filter(request::Column::AccountPhrase.is_in(phrases.iter().map(|(_, p)| p.clone())))
        .all(txn)
        .await?
        .into_iter()
        .filter(|r| {
            matches!(
                status_of(r),
                Status::AwaitingVerification | Status::Verified | Status::InProgress
            )
        })
        .map(|r| (r.account_phrase.clone(), r))
        .collect();
    let mut proved = 0;
    let mut proved_here: std::collections::HashSet<i64> = std::collections::HashSet::new();
    for (k, phrase) in &phrases {
        let Some(r) = waiting.get(phrase) else {
            continue;
        };
        let (record_id, author_platform_id, _) = texts[*k];
        // Only an account named on the platform the message came from: the same string is
        // another person's id on another platform.
        let named = request_identity::Entity::find()
            .filter(request_identity::Column::RequestId.eq(r.id))
            .filter(request_identity::Column::Platform.eq(platform))
            .filter(request_identity::Column::VerifiedAt.is_null())
            .all(txn)
            .await?;
        let author = identity::Entity::find()
            .filter(identity::Column::Platform.eq(platform))
            .filter(identity::Column::PlatformId.eq(author_platform_id))
            .one(txn)
            .await?;
        for ri in named {
            let same = ri.identity_id.is_some() && ri.identity_id == author.as_ref().map(|a| a.id)
                || account_key(&ri.value) == account_key(author_platform_id);
            if !same {
                continue;
            }
            let mut a: request_identity::ActiveModel = ri.into();
            a.identity_id = Set(author.as_ref().map(|a| a.id));
            a.verified_by = Set(Some(format!("platform_message:record:{record_id}")));
            a.verified_at = Set(Some(now()));
            let ri = a.update(txn).await?;
            event(
                txn,
                r.id,
                "import",
                "account_verified",
                true,
                serde_json::json!({"request_identity": ri.id, "record": record_id}),
            )
            .await?;
            proved += 1;
            if proved_here.insert(r.id) {
                replace_status_token(txn, ctx, r.id, "import").await?;
            }
        }
    }
    Ok(proved)
}

/// The officer confirms or rejects a possible match by display name.
pub async fn decide_match(
    db: &DatabaseConnection,
    id: i64,
    match_id: i64,
    confirm: bool,
    actor: &Actor,
) -> Result<request_match::Model, RequestError> {
    let txn = db.begin().await?;
    lock(&txn, id).await?;
    let m = request_match::Entity::find_by_id(match_id)
        .filter(request_match::Column::RequestId.eq(id))
        .one(&txn)
        .await?
        .ok_or(RequestError::NoMatch(id, match_id))?;
    if m.state != "possible" {
        return Err(RequestError::Illegal(format!(
            "the match is {} already",
            m.state
        )));
    }
    let state = if confirm { "confirmed" } else { "rejected" };
    let mut a: request_match::ActiveModel = m.into();
    a.state = Set(state.into());
    a.decided_by = Set(Some(actor.id.clone()));
    a.decided_at = Set(Some(now()));
    let m = a.update(&txn).await?;
    event(
        &txn,
        id,
        &actor.id,
        &format!("match_{state}"),
        false,
        serde_json::json!({"identity": m.identity_id}),
    )
    .await?;
    log(
        &txn,
        actor,
        "request.match",
        id,
        serde_json::json!({"match": m.id, "state": state}),
    )
    .await?;
    txn.commit().await?;
    Ok(m)
}
