//! Intake: a new request registered, referenced and mailed; duplicates linked; accounts matched.
use super::*;
use sea_orm::sea_query::CaseStatement;
use sea_orm::{DbBackend, SqliteTransactionMode, Statement, TransactionOptions, TryIntoModel};
use std::collections::HashMap;

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

/// One submission waiting to be taken in: what is asked, and who asks.
pub struct Intake {
    pub new: NewRequest,
    pub actor: Actor,
}

/// Takes in a request: registered, a reference and a due date, its identities matched against
/// the archive, the receipt and the code mailed. A duplicate of an open request is linked to it.
pub async fn submit(
    db: &DatabaseConnection,
    ctx: &Context,
    new: NewRequest,
    actor: &Actor,
) -> Result<Submitted, RequestError> {
    let intake = Intake {
        new,
        actor: actor.clone(),
    };
    submit_many(db, ctx, &[intake])
        .await?
        .pop()
        .ok_or_else(|| DbErr::Custom("an intake was not answered".into()).into())
}

/// What makes two submissions the same: the address, the type and the accounts' keys.
type Sameness<'a> = (&'a str, &'a str, &'a [(String, String)]);

/// What becomes of one intake of a batch.
enum Fate {
    /// A new request: its place among the batch's new ones.
    New(usize),
    /// The same as an open request (its place among them), which it is added to.
    Duplicate(usize),
    /// The same as an earlier new request of the same batch.
    DuplicateOfNew(usize),
}

/// A request that a repeat showed was received earlier: its receipt and the due dates that
/// follow from it.
struct Moved {
    received_at: DateTime<Utc>,
    due: NaiveDate,
    extended_due: Option<NaiveDate>,
}

/// The secrets of a new request, made before its row exists.
struct Fresh {
    intake: usize,
    token: String,
    code: String,
    due: NaiveDate,
}

/// Takes in several requests as [`submit`] takes in one, in one transaction whose statements
/// each serve the whole batch; the answers come in the order of the intakes. An intake that
/// repeats an open request, or an earlier intake of the batch, is added to it.
pub async fn submit_many(
    db: &DatabaseConnection,
    ctx: &Context,
    batch: &[Intake],
) -> Result<Vec<Submitted>, RequestError> {
    // On SQLite the write lock is taken at once, so that what is read below is not overtaken by
    // another process's writes before this transaction writes (see `lock_addresses`).
    let txn = db
        .begin_with_options(TransactionOptions {
            sqlite_transaction_mode: Some(SqliteTransactionMode::Immediate),
            ..Default::default()
        })
        .await?;
    let at = now();
    let emails: Vec<String> = batch
        .iter()
        .map(|i| i.new.email.as_str().to_ascii_lowercase())
        .collect();
    let wanted: Vec<Vec<(String, String)>> = batch
        .iter()
        .map(|i| {
            identity_keys(
                &i.new
                    .identities
                    .iter()
                    .map(|x| (x.platform.clone(), x.value.clone()))
                    .collect::<Vec<_>>(),
            )
        })
        .collect();
    lock_addresses(&txn, &emails).await?;
    let open = open_requests(&txn, &emails).await?;
    let mut fates = Vec::with_capacity(batch.len());
    let mut fresh: Vec<Fresh> = vec![];
    {
        let mut firsts: HashMap<Sameness, usize> = HashMap::new();
        for (k, intake) in batch.iter().enumerate() {
            let kind = intake.new.request_type.as_str();
            let same = (emails[k].as_str(), kind, wanted[k].as_slice());
            if let Some(o) = open.iter().position(|(r, keys)| {
                (r.email.as_str(), r.request_type.as_str(), keys.as_slice()) == same
            }) {
                fates.push(Fate::Duplicate(o));
            } else if let Some(&n) = firsts.get(&same) {
                fates.push(Fate::DuplicateOfNew(n));
            } else {
                firsts.insert(same, fresh.len());
                fates.push(Fate::New(fresh.len()));
                let received = intake.new.received_at.unwrap_or(at);
                fresh.push(Fresh {
                    intake: k,
                    token: new_status_token(),
                    code: new_code(),
                    due: due_date(ctx.today(received), 1),
                });
            }
        }
    }

    let mut created = create(&txn, ctx, batch, &emails, &fresh, at).await?;
    identities(&txn, batch, &fresh, &created).await?;

    let mut events = vec![];
    let mut mails = vec![];
    let mut entries = vec![];
    let mut moved: HashMap<i64, Moved> = HashMap::new();
    for (fate, intake) in fates.iter().zip(batch) {
        let actor = &intake.actor;
        let r = match fate {
            Fate::New(n) => {
                let (r, f) = (&created[*n], &fresh[*n]);
                events.push(history(
                    r.id,
                    actor,
                    "received",
                    serde_json::json!({"due_at": f.due}),
                ));
                let page = ctx.status_page(r.id);
                let case = Case {
                    lang: language_of(r),
                    reference: &r.reference,
                    request_type: &r.request_type,
                    due: f.due,
                    status_page: &page,
                    token: &f.token,
                };
                mails.push((address(r)?, letters::receipt(&case)));
                mails.push((
                    address(r)?,
                    letters::code(case.lang, &r.reference, &f.code, CODE_MINUTES),
                ));
                entries.push((
                    actor.clone(),
                    entry(
                        "request.submit",
                        r.id,
                        serde_json::json!({"type": r.request_type, "reference": r.reference,
                            "received_at": r.received_at, "due_at": f.due}),
                    ),
                ));
                continue;
            }
            Fate::Duplicate(o) => &open[*o].0,
            Fate::DuplicateOfNew(n) => &created[*n],
        };
        // What the repeat brings is kept with the case: its message, and the day it was received
        // when that is earlier (a letter registered after the same request came online): the
        // clock runs from the first receipt.
        let mut details = serde_json::Map::new();
        if let Some(m) = &intake.new.message {
            details.insert("message".into(), m.clone().into());
        }
        if let Some(at) = intake.new.received_at {
            details.insert("received_at".into(), serde_json::json!(at));
            let current = moved.get(&r.id).map_or(r.received_at, |m| m.received_at);
            if at < current {
                let day = ctx.today(at);
                let due = due_date(day, 1);
                let extended_due = (r.extension_months > 0)
                    .then(|| due_date(day, 1 + r.extension_months.unsigned_abs()));
                details.insert("due_at".into(), serde_json::json!(due));
                moved.insert(
                    r.id,
                    Moved {
                        received_at: at,
                        due,
                        extended_due,
                    },
                );
            }
        }
        events.push(history(
            r.id,
            actor,
            "duplicate_received",
            serde_json::Value::Object(details),
        ));
        let due_now = moved
            .get(&r.id)
            .map_or(r.extended_due_at.unwrap_or(r.due_at), |m| {
                m.extended_due.unwrap_or(m.due)
            });
        mails.push((
            address(r)?,
            letters::duplicate(language_of(r), &r.reference, &r.status, due_now),
        ));
        entries.push((
            actor.clone(),
            entry("request.duplicate", r.id, serde_json::json!({})),
        ));
    }
    crate::db::insert_rows(&txn, events).await?;
    for (id, m) in &moved {
        request::Entity::update_many()
            .col_expr(request::Column::ReceivedAt, m.received_at.into())
            .col_expr(request::Column::DueAt, m.due.into())
            .col_expr(request::Column::ExtendedDueAt, m.extended_due.into())
            .filter(request::Column::Id.eq(*id))
            .exec(&txn)
            .await?;
    }
    let moved_to = |mut r: request::Model| {
        if let Some(m) = moved.get(&r.id) {
            r.received_at = m.received_at;
            r.due_at = m.due;
            r.extended_due_at = m.extended_due;
        }
        r
    };
    let mails: Vec<_> = mails.iter().map(|(to, m)| (to, m)).collect();
    crate::mail::store::queue_many(&txn, Some(&ctx.secret), &mails).await?;
    register(&txn, ctx, batch, &fresh, &mut created).await?;
    // The audit chain serialises every writer: it comes last, just before the commit.
    audit::append_many(&txn, entries).await?;
    txn.commit().await?;

    let mut tokens: Vec<Option<String>> = fresh.into_iter().map(|f| Some(f.token)).collect();
    Ok(fates
        .into_iter()
        .map(|fate| match fate {
            Fate::New(n) => Submitted {
                request: moved_to(created[n].clone()),
                status_token: tokens[n].take(),
                duplicate: false,
            },
            Fate::Duplicate(o) => Submitted {
                request: moved_to(open[o].0.clone()),
                status_token: None,
                duplicate: true,
            },
            Fate::DuplicateOfNew(n) => Submitted {
                request: moved_to(created[n].clone()),
                status_token: None,
                duplicate: true,
            },
        })
        .collect())
}

/// Another instance may be taking in the same address at this moment. On PostgreSQL the batches
/// queue on a lock per address, so that the later one reads the earlier one's request as open; the
/// locks are taken in one order everywhere, so two batches cannot wait on each other. SQLite needs
/// none: the batch's transaction holds the database's one write lock from its start.
async fn lock_addresses(txn: &DatabaseTransaction, emails: &[String]) -> Result<(), DbErr> {
    if txn.get_database_backend() != DbBackend::Postgres || emails.is_empty() {
        return Ok(());
    }
    let mut distinct: Vec<&String> = emails.iter().collect();
    distinct.sort_unstable();
    distinct.dedup();
    let mut sql = Sql::new(DbBackend::Postgres);
    let rows: Vec<String> = distinct
        .into_iter()
        .map(|e| format!("({})", sql.bind(e.clone())))
        .collect();
    // Two-key locks live apart from the audit chain's one-key lock; the first key keeps them
    // apart from any other two-key lock.
    let statement = format!(
        "SELECT pg_advisory_xact_lock({ADDRESS_LOCKS}, hashtext(v.email)) \
         FROM (VALUES {}) AS v(email) ORDER BY hashtext(v.email)",
        rows.join(", ")
    );
    txn.execute_raw(sql.statement(statement)).await?;
    Ok(())
}

/// The class of PostgreSQL advisory locks taken per address at intake.
const ADDRESS_LOCKS: i32 = 7306;

/// The open requests from any of `emails`, each with its accounts' keys.
async fn open_requests(
    txn: &DatabaseTransaction,
    emails: &[String],
) -> Result<Vec<(request::Model, Vec<(String, String)>)>, DbErr> {
    // Filtered by status here, not in the statement: SQLite, given both, may take the index by
    // status and read every open request (8 ms for 10,000 unverified ones) where the index by
    // address reads only these addresses' requests.
    let open: Vec<request::Model> = request::Entity::find()
        .filter(request::Column::Email.is_in(emails.iter().cloned()))
        .order_by_asc(request::Column::Id)
        .all(txn)
        .await?
        .into_iter()
        .filter(|r| status_of(r).is_open())
        .collect();
    if open.is_empty() {
        return Ok(vec![]);
    }
    let mut accounts: HashMap<i64, Vec<(String, String)>> = HashMap::new();
    for i in request_identity::Entity::find()
        .filter(request_identity::Column::RequestId.is_in(open.iter().map(|r| r.id)))
        .all(txn)
        .await?
    {
        accounts
            .entry(i.request_id)
            .or_default()
            .push((i.platform, i.value));
    }
    Ok(open
        .into_iter()
        .map(|r| {
            let keys = identity_keys(accounts.get(&r.id).map_or(&[][..], Vec::as_slice));
            (r, keys)
        })
        .collect())
}

/// Writes the new requests, each with its reference and code (its registration number is written
/// by [`register`]); the rows in the order of `fresh`.
async fn create(
    txn: &DatabaseTransaction,
    ctx: &Context,
    batch: &[Intake],
    emails: &[String],
    fresh: &[Fresh],
    at: DateTime<Utc>,
) -> Result<Vec<request::Model>, DbErr> {
    if fresh.is_empty() {
        return Ok(vec![]);
    }
    let year = ctx.today(at).year();
    let ids = crate::db::allocate_ids(txn, "request", fresh.len()).await?;
    let rows: Vec<request::ActiveModel> = fresh
        .iter()
        .zip(ids)
        .map(|(f, id)| {
            let (new, actor) = (&batch[f.intake].new, &batch[f.intake].actor);
            request::ActiveModel {
                id: Set(id),
                reference: Set(reference(year, id)),
                request_type: Set(new.request_type.as_str().to_owned()),
                status: Set(Status::AwaitingVerification.as_str().to_owned()),
                email: Set(emails[f.intake].clone()),
                language: Set(match new.language {
                    Language::Sv => "sv",
                    Language::En => "en",
                }
                .to_owned()),
                message: Set(new.message.clone()),
                received_at: Set(new.received_at.unwrap_or(at)),
                due_at: Set(f.due),
                extended_due_at: Set(None),
                extension_months: Set(0),
                extension_reason: Set(None),
                status_token_hash: Set(hash_secret(&f.token)),
                // Written by `register`, which comes last.
                registration_number: Set(None),
                assignee: Set(None),
                duplicate_of: Set(None),
                created_by: Set(actor.id.clone()),
                created_at: Set(at),
                updated_at: Set(at),
                closed_at: Set(None),
                refusal_reason: Set(None),
                email_verified_at: Set(None),
                code_hash: Set(Some(ctx.secret.code_hash(id, &f.code))),
                code_expires_at: Set(Some(at + chrono::Duration::minutes(CODE_MINUTES))),
                code_attempts: Set(0),
                codes_sent: Set(1),
                code_sent_at: Set(Some(at)),
                account_phrase: Set(new_phrase()),
            }
        })
        .collect();
    let created = rows
        .iter()
        .map(|r| r.clone().try_into_model())
        .collect::<Result<Vec<_>, _>>()?;
    // The ids were allocated above, so nothing need come back.
    crate::db::insert_rows(txn, rows).await?;
    Ok(created)
}

/// Registers the new requests and writes their registration numbers.
/// The registration counter serialises every writer, so this comes last but for the audit
/// entries: the row stays locked for as little as possible before the commit.
async fn register(
    txn: &DatabaseTransaction,
    ctx: &Context,
    batch: &[Intake],
    fresh: &[Fresh],
    created: &mut [request::Model],
) -> Result<(), DbErr> {
    if created.is_empty() {
        return Ok(());
    }
    let registrations = crate::registry::register_many(
        txn,
        &ctx.numbering,
        created
            .iter()
            .zip(fresh)
            .map(|(r, f)| {
                let registration = crate::registry::NewRegistration {
                    reason: crate::registry::rules::RegistrationReason::Request,
                    record_id: None,
                    request_id: Some(r.id),
                    title: format!(
                        "Begäran enligt dataskyddsförordningen ({}), {}",
                        r.request_type, r.reference
                    ),
                };
                (registration, &batch[f.intake].actor)
            })
            .collect(),
    )
    .await?;
    let mut numbers = CaseStatement::new();
    for (r, number) in created.iter_mut().zip(registrations) {
        r.registration_number = Some(number);
        numbers = numbers.case(request::Column::Id.eq(r.id), r.registration_number.clone());
    }
    request::Entity::update_many()
        .col_expr(request::Column::RegistrationNumber, numbers.into())
        .filter(request::Column::Id.is_in(created.iter().map(|r| r.id)))
        .exec(txn)
        .await?;
    Ok(())
}

/// Writes the accounts the new requests name, each linked to the identity it names, and the
/// identities whose display name only resembles it as possible matches.
async fn identities(
    txn: &DatabaseTransaction,
    batch: &[Intake],
    fresh: &[Fresh],
    created: &[request::Model],
) -> Result<(), DbErr> {
    let named: Vec<(i64, &NewIdentity)> = created
        .iter()
        .zip(fresh)
        .flat_map(|(r, f)| batch[f.intake].new.identities.iter().map(|i| (r.id, i)))
        .collect();
    if named.is_empty() {
        return Ok(());
    }
    let found = match_accounts(txn, &named).await?;
    let rows =
        named
            .iter()
            .zip(&found)
            .map(|((request_id, i), found)| request_identity::ActiveModel {
                request_id: Set(*request_id),
                platform: Set(i.platform.clone()),
                value: Set(i.value.trim().to_owned()),
                identity_id: Set(found.identity),
                verified_by: Set(None),
                verified_at: Set(None),
                ..Default::default()
            });
    if found.iter().all(|f| f.possible.is_empty()) {
        crate::db::insert_rows(txn, rows.collect()).await?;
        return Ok(());
    }
    // Rows naming the same account of the same request are alike: any of their ids will do.
    let mut ids: HashMap<(i64, String, String), Vec<i64>> = HashMap::new();
    for row in request_identity::Entity::insert_many(rows)
        .exec_with_returning(txn)
        .await?
    {
        ids.entry((row.request_id, row.platform, row.value))
            .or_default()
            .push(row.id);
    }
    let mut matches = vec![];
    for ((request_id, i), found) in named.iter().zip(found) {
        let key = (*request_id, i.platform.clone(), i.value.trim().to_owned());
        let Some(row_id) = ids.get_mut(&key).and_then(Vec::pop) else {
            return Err(DbErr::Custom("a named account was not written".into()));
        };
        matches.extend(
            found
                .possible
                .into_iter()
                .map(|identity_id| request_match::ActiveModel {
                    request_id: Set(*request_id),
                    request_identity_id: Set(row_id),
                    identity_id: Set(identity_id),
                    state: Set("possible".into()),
                    decided_by: Set(None),
                    decided_at: Set(None),
                    ..Default::default()
                }),
        );
    }
    if !matches.is_empty() {
        request_match::Entity::insert_many(matches)
            .exec_without_returning(txn)
            .await?;
    }
    Ok(())
}

/// Links the request's named accounts that matched no identity when it came in to the identity
/// the archive holds for them now: an account named before the import that brought its records.
/// A package or a plan answers for what the archive holds when it is made, not when the request
/// arrived. Only an account's id or profile link links; a name stays for the officer to decide.
pub async fn link_accounts<C: ConnectionTrait>(db: &C, request_id: i64) -> Result<(), DbErr> {
    let unlinked = request_identity::Entity::find()
        .filter(request_identity::Column::RequestId.eq(request_id))
        .filter(request_identity::Column::IdentityId.is_null())
        .all(db)
        .await?;
    if unlinked.is_empty() {
        return Ok(());
    }
    let accounts: Vec<NewIdentity> = unlinked
        .iter()
        .map(|i| NewIdentity {
            platform: i.platform.clone(),
            value: i.value.clone(),
        })
        .collect();
    let named: Vec<(i64, &NewIdentity)> = accounts.iter().map(|a| (request_id, a)).collect();
    let found = match_accounts(db, &named).await?;
    for (row, found) in unlinked.into_iter().zip(found) {
        if let Some(identity) = found.identity {
            let mut row: request_identity::ActiveModel = row.into();
            row.identity_id = Set(Some(identity));
            row.update(db).await?;
        }
    }
    Ok(())
}

/// What the archive holds of one named account.
#[derive(Default)]
struct Found {
    /// The one identity with that platform id or profile link.
    identity: Option<i64>,
    /// Otherwise, identities whose display name contains the name given: the officer decides.
    possible: Vec<i64>,
}

/// Accounts looked up per statement: seven values each, far under either database's limit.
const ACCOUNTS_PER_LOOKUP: usize = 200;

/// Looks the named accounts up in the archive, by platform id or profile link, and else by a
/// display name that contains the name given. A name, not an account, is never linked without
/// the officer's say.
///
/// One statement per 200 accounts: the accounts are a table of values joined to `identity`, so
/// that the statement's plan does not grow with the batch. The patterns are columns of that
/// table, not bound values: SQLite prepares `column LIKE ?` again whenever the value bound to
/// `?` changes, and here it always would.
async fn match_accounts<C: ConnectionTrait>(
    txn: &C,
    named: &[(i64, &NewIdentity)],
) -> Result<Vec<Found>, DbErr> {
    let backend = txn.get_database_backend();
    let mut found: Vec<Found> = named.iter().map(|_| Found::default()).collect();
    for (chunk, accounts) in named.chunks(ACCOUNTS_PER_LOOKUP).enumerate() {
        let first = chunk * ACCOUNTS_PER_LOOKUP;
        let mut sql = Sql::new(backend);
        let mut rows = vec![];
        for (n, (_, i)) in accounts.iter().enumerate() {
            let key = account_key(&i.value);
            if key.is_empty() {
                continue;
            }
            let literal = like_literal(&key);
            let (by_trigram, by_scan) = name_patterns(backend, &i.value);
            rows.push(format!(
                "({}, {}, {}, {}, {}, {}, {}, {})",
                sql.bind((first + n) as i64),
                sql.bind(i.platform.clone()),
                sql.bind(key.clone()),
                sql.bind(format!("%/{literal}")),
                sql.bind(format!("%/{literal}/")),
                sql.bind(format!("%id={literal}")),
                sql.bind(by_trigram),
                sql.bind(by_scan),
            ));
        }
        if rows.is_empty() {
            continue;
        }
        // At most two by account (one is a link, two are a doubt) and twenty by name. The account
        // is found by the platform's id through its index, and by profile link among only the
        // identities that have one (a partial index): a suffix is no key for a B-tree. A name is
        // found through the trigram index of display names (see `name_patterns`).
        let named = match backend {
            // CROSS JOIN keeps SQLite from starting at `identity` and probing the index per row.
            DbBackend::Sqlite => {
                "SELECT v.tag, n.rowid AS id FROM v CROSS JOIN identity_name n \
                   WHERE v.name IS NOT NULL AND n.display_name LIKE v.name \
                 UNION ALL \
                 SELECT v.tag, i.id FROM v JOIN identity i \
                   ON v.name_scan IS NOT NULL AND i.display_name LIKE v.name_scan ESCAPE '\\'"
            }
            _ => {
                "SELECT v.tag, i.id FROM v JOIN identity i \
                   ON v.name_scan IS NOT NULL AND i.display_name ILIKE v.name_scan ESCAPE '\\'"
            }
        };
        let statement = format!(
            "WITH v(tag, platform, account, link, link_slash, link_query, name, name_scan) AS (VALUES {}), \
             exact(tag, id) AS ( \
               SELECT v.tag, i.id FROM v JOIN identity i \
                 ON i.platform = v.platform AND i.platform_id = v.account \
               UNION \
               SELECT v.tag, i.id FROM v JOIN identity i \
                 ON i.platform = v.platform AND i.profile_link IS NOT NULL \
                 AND (lower(i.profile_link) LIKE v.link ESCAPE '\\' \
                   OR lower(i.profile_link) LIKE v.link_slash ESCAPE '\\' \
                   OR lower(i.profile_link) LIKE v.link_query ESCAPE '\\')), \
             named(tag, id) AS ({named}) \
             SELECT tag, by_name, id FROM ( \
               SELECT tag, 0 AS by_name, id, ROW_NUMBER() OVER (PARTITION BY tag ORDER BY id) AS n \
               FROM exact \
               UNION ALL \
               SELECT v.tag, 1, i.id, ROW_NUMBER() OVER (PARTITION BY v.tag ORDER BY i.id) \
               FROM named JOIN v ON v.tag = named.tag \
                 JOIN identity i ON i.id = named.id AND i.platform = v.platform \
             ) AS found WHERE n <= CASE by_name WHEN 0 THEN 2 ELSE 20 END",
            rows.join(", ")
        );
        let mut exact: HashMap<usize, Vec<i64>> = HashMap::new();
        let mut similar: HashMap<usize, Vec<i64>> = HashMap::new();
        for row in txn.query_all_raw(sql.statement(statement)).await? {
            let tag = row.try_get::<i64>("", "tag")? as usize;
            let list = if row.try_get::<i32>("", "by_name")? == 0 {
                &mut exact
            } else {
                &mut similar
            };
            list.entry(tag).or_default().push(row.try_get("", "id")?);
        }
        for (tag, f) in found
            .iter_mut()
            .enumerate()
            .skip(first)
            .take(accounts.len())
        {
            match exact.remove(&tag).as_deref() {
                Some([one]) => f.identity = Some(*one),
                _ => {
                    let mut possible = similar.remove(&tag).unwrap_or_default();
                    possible.sort_unstable();
                    f.possible = possible;
                }
            }
        }
    }
    Ok(found)
}

/// The patterns a name is looked for with: `(through the trigram index, by a scan)`, one of them
/// or neither (a value that may not be a name). Both match display names that contain the name,
/// whatever its case. SQLite's FTS5 index takes LIKE only without ESCAPE, so a name holding `%`
/// or `_` (rare) is looked for by a scan; PostgreSQL's `pg_trgm` takes ILIKE with ESCAPE.
fn name_patterns(backend: DbBackend, value: &str) -> (Option<String>, Option<String>) {
    if !may_be_name(value) {
        return (None, None);
    }
    let name = value.trim();
    if backend == DbBackend::Sqlite && !name.contains(['%', '_']) {
        return (Some(format!("%{name}%")), None);
    }
    (None, Some(format!("%{}%", like_literal(name))))
}

/// `text` as a LIKE pattern that matches only itself (with `ESCAPE '\'`).
fn like_literal(text: &str) -> String {
    let mut out = String::with_capacity(text.len());
    for c in text.chars() {
        if matches!(c, '\\' | '%' | '_') {
            out.push('\\');
        }
        out.push(c);
    }
    out
}

/// A raw statement being written, with its values bound in the backend's placeholders.
struct Sql {
    backend: DbBackend,
    values: Vec<sea_orm::Value>,
}

impl Sql {
    fn new(backend: DbBackend) -> Self {
        Sql {
            backend,
            values: vec![],
        }
    }

    fn bind(&mut self, value: impl Into<sea_orm::Value>) -> String {
        self.values.push(value.into());
        crate::db::placeholder(self.backend, self.values.len())
    }

    fn statement(self, sql: String) -> Statement {
        Statement::from_sql_and_values(self.backend, sql, self.values)
    }
}

fn history(
    request_id: i64,
    actor: &Actor,
    kind: &str,
    details: serde_json::Value,
) -> request_event::ActiveModel {
    request_event::ActiveModel {
        request_id: Set(request_id),
        at: Set(now()),
        actor: Set(actor.id.clone()),
        kind: Set(kind.to_owned()),
        public: Set(true),
        details: Set(details.to_string()),
        ..Default::default()
    }
}

fn entry(action: &'static str, request_id: i64, details: serde_json::Value) -> NewEntry {
    NewEntry {
        action,
        target: format!("request:{request_id}"),
        details,
    }
}
