//! Applying parsed observations to the archive: identities resolved, records created, every change
//! a new version with its fixity hash. Nothing is overwritten.
//!
//! Observations are applied in batches: the identities and records a batch touches are read with
//! one query each, the batch is worked out in memory in payload order, and what it creates is written
//! with multi-row inserts. Ids are allocated up front so versions and parent links need no
//! round trip per row.
use crate::archive::import::{Observation, Op, Person, Skipped};
use crate::archive::rules::{
    Change, Content, Direction, Kind, Visibility, change_between, fixity_of, object_key,
};
use crate::audit::{self, Actor, NewEntry, now};
use crate::erasure::SuppressionKey;
use chrono::{DateTime, Utc};
use entities::{channel, identity, record, record_version, suppression};
use sea_orm::{
    ActiveModelTrait, ColumnTrait, ConnectionTrait, DatabaseConnection, DatabaseTransaction,
    DbBackend, DbErr, EntityTrait, QueryFilter, QuerySelect, Set, Statement, TransactionTrait,
    Value,
};
use std::collections::HashMap;

/// Observations worked out and written together.
const BATCH: usize = 1000;
/// Rows per multi-row statement: well inside SQLite's 32,766 and PostgreSQL's 65,535 parameters.
const ROWS_PER_STATEMENT: usize = 500;

#[derive(Debug, Default, Clone)]
pub struct Counts {
    pub created: u64,
    pub new_versions: u64,
    pub unchanged: u64,
    /// Items left out because they were erased before (the suppression list).
    pub suppressed: u64,
    pub skipped: Vec<Skipped>,
    /// Channels other than the one posted to that items were archived under (their webhook entry
    /// named that channel's account), with how many items each.
    pub routed: Vec<(i64, u64)>,
}

#[derive(Debug, thiserror::Error)]
pub enum ImportError {
    #[error("no channel {0}")]
    NoChannel(i64),
    #[error(transparent)]
    Db(#[from] DbErr),
}

/// Imports parsed payloads for a channel in one transaction, with one audit entry per channel it
/// archived into. Each interaction of a member of the public it archives is a consent event under
/// `policy_version`, written in the same transaction. Items an erasure put on the suppression list
/// are left out, and the profile details of erased identities are not written again. A message
/// carrying a request's account phrase proves the account (`requests` mails what that changes).
///
/// Meta batches the events of several Pages into one webhook delivery: an entry that names the
/// account of another channel on the same platform is archived under that channel (and counted in
/// `routed`). An entry naming an account no channel has stays with the channel it was posted to.
#[allow(clippy::too_many_arguments)]
pub async fn import(
    db: &DatabaseConnection,
    channel_id: i64,
    observations: Vec<Observation>,
    skipped: Vec<Skipped>,
    actor: &Actor,
    policy_version: &str,
    key: &SuppressionKey,
    requests: &crate::requests::store::Context,
) -> Result<Counts, ImportError> {
    let txn = db.begin().await?;
    crate::db::lock_archive(&txn).await?;
    let channel = channel::Entity::find_by_id(channel_id)
        .one(&txn)
        .await?
        .ok_or(ImportError::NoChannel(channel_id))?;
    let mut counts = Counts {
        skipped,
        ..Counts::default()
    };
    // An archive that never erased anything pays one look-up per import, not one per batch.
    let suppressing = suppression::Entity::find().one(&txn).await?.is_some();
    // Appended last, as one: the audit chain's lock is then held for the least time, and never
    // while the import goes on to lock a request's row (a phrase proving an account).
    let mut entries = vec![];
    for (target, mut observations) in by_channel(&txn, key, channel, observations).await? {
        let routed = target.id != channel_id;
        let mut part = Counts::default();
        for o in &mut observations {
            settle_kind(&target, o);
            settle_recipient(&target, o);
        }
        for batch in observations.chunks(BATCH) {
            if suppressing {
                let kept = suppress(&txn, key, &target, batch, &mut part).await?;
                apply_batch(&txn, &target, &kept, policy_version, requests, &mut part).await?;
            } else {
                apply_batch(&txn, &target, batch, policy_version, requests, &mut part).await?;
            }
        }
        let mut details = serde_json::json!({
            "created": part.created,
            "new_versions": part.new_versions,
            "unchanged": part.unchanged,
            "suppressed": part.suppressed,
        });
        if routed {
            details["posted_to"] = format!("channel:{channel_id}").into();
            counts.routed.push((target.id, observations.len() as u64));
        } else {
            details["skipped"] = counts.skipped.len().into();
        }
        entries.push((
            actor.clone(),
            NewEntry {
                action: "archive.import",
                target: format!("channel:{}", target.id),
                details,
            },
        ));
        counts.created += part.created;
        counts.new_versions += part.new_versions;
        counts.unchanged += part.unchanged;
        counts.suppressed += part.suppressed;
    }
    audit::append_many(&txn, entries).await?;
    txn.commit().await?;
    if counts.created > 0 && db.get_database_backend() == DbBackend::Postgres {
        refresh_statistics(db, counts.created).await;
    }
    Ok(counts)
}

/// The observations by the channel each belongs to, the channel posted to first (and always
/// there, for its audit entry), the rest in the order their first item came, each in payload
/// order. An item the channel posted to holds already, or erased, stays with it whatever its entry
/// names: archived there before its entry's account had a channel of its own (or before entries
/// were routed at all), it must be found there again, as a version or as suppressed.
async fn by_channel(
    txn: &DatabaseTransaction,
    key: &SuppressionKey,
    posted: channel::Model,
    observations: Vec<Observation>,
) -> Result<Vec<(channel::Model, Vec<Observation>)>, DbErr> {
    let elsewhere = |o: &Observation| o.page.as_deref().is_some_and(|p| p != posted.account_id);
    let others: HashMap<String, channel::Model> = if observations.iter().any(elsewhere) {
        channel::Entity::find()
            .filter(channel::Column::Platform.eq(posted.platform.as_str()))
            .filter(channel::Column::Id.ne(posted.id))
            .all(txn)
            .await?
            .into_iter()
            .map(|c| (c.account_id.clone(), c))
            .collect()
    } else {
        HashMap::new()
    };
    let movable = |o: &Observation| o.page.as_ref().is_some_and(|p| others.contains_key(p));
    // The names under which the posted channel may hold the items that would move.
    let mut names: Vec<String> = observations
        .iter()
        .filter(|o| movable(o))
        .flat_map(|o| {
            [
                o.platform_id.clone(),
                object_key(&o.platform_id).into_owned(),
            ]
        })
        .collect();
    names.sort_unstable();
    names.dedup();
    let mut stays: std::collections::HashSet<String> = std::collections::HashSet::new();
    for chunk in names.chunks(ROWS_PER_STATEMENT) {
        stays.extend(
            record::Entity::find()
                .select_only()
                .column(record::Column::PlatformId)
                .filter(record::Column::ChannelId.eq(posted.id))
                .filter(record::Column::PlatformId.is_in(chunk.to_vec()))
                .into_tuple::<String>()
                .all(txn)
                .await?,
        );
    }
    let hashed: HashMap<&str, [String; 2]> = observations
        .iter()
        .filter(|o| movable(o))
        .map(|o| {
            (
                o.platform_id.as_str(),
                record_hashes(key, posted.id, &o.platform_id),
            )
        })
        .collect();
    let erased = suppressed_among(txn, hashed.values().flatten().cloned().collect()).await?;
    stays.extend(
        hashed
            .iter()
            .filter(|(_, h)| h.iter().any(|h| erased.contains(h)))
            .map(|(id, _)| (*id).to_owned()),
    );
    let mut groups = vec![(posted, Vec::with_capacity(observations.len()))];
    for o in observations {
        let held_here =
            stays.contains(&o.platform_id) || stays.contains(object_key(&o.platform_id).as_ref());
        let target = o
            .page
            .as_ref()
            .and_then(|p| others.get(p))
            .filter(|_| !held_here);
        let at = match target {
            None => 0,
            Some(c) => match groups.iter().position(|(g, _)| g.id == c.id) {
                Some(at) => at,
                None => {
                    groups.push((c.clone(), vec![]));
                    groups.len() - 1
                }
            },
        };
        groups[at].1.push(o);
    }
    Ok(groups)
}

/// The suppression list's hashes of an item of `channel_id`: an erasure lists an item by its
/// object key; one before the key listed it by its id as held.
fn record_hashes(key: &SuppressionKey, channel_id: i64, platform_id: &str) -> [String; 2] {
    [
        key.record(channel_id, platform_id),
        key.record(channel_id, &object_key(platform_id)),
    ]
}

/// Those of `hashes` that are on the suppression list, looked up with one query per chunk.
async fn suppressed_among(
    txn: &DatabaseTransaction,
    mut hashes: Vec<String>,
) -> Result<std::collections::HashSet<String>, DbErr> {
    hashes.sort_unstable();
    hashes.dedup();
    let mut found = std::collections::HashSet::new();
    for chunk in hashes.chunks(ROWS_PER_STATEMENT) {
        found.extend(
            suppression::Entity::find()
                .filter(suppression::Column::KeyHash.is_in(chunk.to_vec()))
                .all(txn)
                .await?
                .into_iter()
                .map(|s| s.key_hash),
        );
    }
    Ok(found)
}

/// The batch without the items an erasure suppressed, and without the profile details of erased
/// identities. The hashes of the batch's ids are looked up with one query per chunk.
async fn suppress(
    txn: &DatabaseTransaction,
    key: &SuppressionKey,
    channel: &channel::Model,
    batch: &[Observation],
    counts: &mut Counts,
) -> Result<Vec<Observation>, DbErr> {
    let record_hashes = |o: &Observation| record_hashes(key, channel.id, &o.platform_id);
    let person_hash = |p: &Person| key.identity(&channel.platform, &p.platform_id);
    let mut hashes: Vec<String> = Vec::with_capacity(batch.len() * 3);
    for o in batch {
        hashes.extend(record_hashes(o));
        hashes.extend(o.author.iter().chain(&o.recipient).map(person_hash));
    }
    let found = suppressed_among(txn, hashes).await?;
    let mut kept = Vec::with_capacity(batch.len());
    for o in batch {
        if record_hashes(o).iter().any(|h| found.contains(h)) {
            counts.suppressed += 1;
            continue;
        }
        let mut o = o.clone();
        for p in o.author.iter_mut().chain(o.recipient.iter_mut()) {
            if found.contains(&person_hash(p)) {
                p.name = None;
                p.profile_link = None;
            }
        }
        kept.push(o);
    }
    Ok(kept)
}

/// Keeps PostgreSQL's planner statistics in step with a growing archive, as autovacuum's analyse
/// would (it analyses after 10 % of a table changed). Without them a batch's `IN (…)` look-up is
/// planned as if the table were empty and scans a whole channel; where autovacuum runs, this is a
/// cheap no-op most of the time.
async fn refresh_statistics(db: &DatabaseConnection, created: u64) {
    let known = db
        .query_one_raw(Statement::from_string(
            DbBackend::Postgres,
            "SELECT reltuples::bigint AS n FROM pg_class WHERE oid = 'record'::regclass",
        ))
        .await
        .ok()
        .flatten()
        .and_then(|r| r.try_get::<i64>("", "n").ok())
        .unwrap_or(-1);
    if known > 0 && (created as i64) * 10 < known {
        return;
    }
    if let Err(e) = db
        .execute_unprepared("ANALYZE record, record_version, identity, consent_event")
        .await
    {
        tracing::warn!(error = %e, "could not refresh the archive's statistics");
    }
}

fn visibility_after(
    kind: Kind,
    op: Op,
    stated: Option<Visibility>,
    before: Visibility,
) -> Visibility {
    let gone = matches!(before, Visibility::Removed | Visibility::DeletedByAuthor);
    // A removed or deleted comment, post or message never comes back on the platform: a later
    // observation of it is a stale delivery or a backfill older than the removal. Only a reaction,
    // taken back and given again, is there again under the same id.
    if gone && kind != Kind::Reaction && !matches!(op, Op::Remove | Op::Delete) {
        return before;
    }
    match op {
        Op::Hide => Visibility::Hidden,
        Op::Unhide => Visibility::Visible,
        Op::Remove => Visibility::Removed,
        Op::Delete => Visibility::DeletedByAuthor,
        // A reaction seen again after it was taken back: it is there now.
        Op::Seen => stated.unwrap_or(match before {
            Visibility::Removed | Visibility::DeletedByAuthor => Visibility::Visible,
            other => other,
        }),
        Op::Edited => stated.unwrap_or(before),
    }
}

/// A Page's feed listed with only `id`, `message` and `created_time` gives items the parser can
/// tell nothing of but that they stand alone: a Page's post id is the Page's id, an underscore and
/// the post's, so such an item under this channel's account is the Page's post, not a comment.
fn settle_kind(channel: &channel::Model, o: &mut Observation) {
    if o.kind == Kind::Comment
        && o.parent_platform_id.is_none()
        && o.author.is_none()
        && o.platform_id
            .strip_prefix(channel.account_id.as_str())
            .is_some_and(|rest| rest.starts_with('_'))
    {
        o.kind = Kind::Post;
    }
}

/// A recipient is kept for what the municipality sent to someone: the person among those the
/// payload names who is not the municipality's own account. A message that names no author but
/// someone other than the account as its recipient was sent by the account (a Page's conversation
/// has two people in it). A message someone else wrote has no recipient of the archive's: what
/// is sent to the account is the archive's anyway.
fn settle_recipient(channel: &channel::Model, o: &mut Observation) {
    let named = o
        .recipient
        .take()
        .into_iter()
        .chain(std::mem::take(&mut o.also_to));
    let mut others = named.filter(|p| p.platform_id != channel.account_id);
    let Some(person) = others.next() else {
        return;
    };
    let by_account = o
        .author
        .as_ref()
        .is_some_and(|a| a.platform_id == channel.account_id);
    if o.author.is_none() && o.kind == Kind::Message {
        o.author = Some(Person {
            platform_id: channel.account_id.clone(),
            name: None,
            profile_link: None,
        });
        o.recipient = Some(person);
    } else if by_account {
        o.recipient = Some(person);
    }
}

/// The municipality's own account marks what it drew up. An item that names no author is taken
/// as received: a visitor's post on the Page carries the Page's id as well as the Page's own do, and
/// what the municipality drew up is shown unredacted in others' packages. A Page's own `posts`
/// listed without authors are named its own by the importer; an author learned later settles it
/// (`next_content`).
fn direction_of(channel: &channel::Model, author: Option<&Person>) -> Direction {
    if author.is_some_and(|p| p.platform_id == channel.account_id) {
        Direction::DrawnUp
    } else {
        Direction::Received
    }
}

/// The next content of a record the archive already holds, given what was just seen of it.
fn next_content(channel: &channel::Model, latest: &Content, o: &Observation) -> Content {
    let mut next = latest.clone();
    if matches!(o.op, Op::Seen | Op::Edited) {
        if o.text.is_some() {
            next.text = o.text.clone();
        }
        if !o.attachments.is_empty() {
            next.attachments = o.attachments.clone();
        }
        if o.reaction_type.is_some() {
            next.reaction_type = o.reaction_type.clone();
        }
    }
    if next.author_platform_id.is_none() && o.author.is_some() {
        next.author_platform_id = o.author.as_ref().map(|p| p.platform_id.clone());
        next.direction = direction_of(channel, o.author.as_ref());
    }
    if next.recipient_platform_id.is_none() {
        next.recipient_platform_id = o.recipient.as_ref().map(|p| p.platform_id.clone());
    }
    if next.platform_time.is_none() {
        next.platform_time = o.platform_time;
    }
    if next.parent_platform_id.is_none() {
        next.parent_platform_id = o.parent_platform_id.clone();
    }
    next.visibility = visibility_after(latest.kind, o.op, o.visibility, latest.visibility);
    next
}

/// A record as the batch knows it: read from the archive or created in this batch.
struct Tracked {
    id: i64,
    seq: i32,
    content: Content,
    author_id: Option<i64>,
    recipient_id: Option<i64>,
    /// The fixity hash of `content`.
    hash: String,
    /// The stored row, for records that existed before this batch.
    stored: Option<record::Model>,
    changed: bool,
}

async fn apply_batch(
    txn: &DatabaseTransaction,
    channel: &channel::Model,
    batch: &[Observation],
    policy_version: &str,
    requests: &crate::requests::store::Context,
    counts: &mut Counts,
) -> Result<(), DbErr> {
    let at = now();
    let people = resolve_identities(txn, &channel.platform, batch, at).await?;

    let mut named: Vec<&str> = Vec::with_capacity(batch.len() * 2);
    for o in batch {
        named.push(&o.platform_id);
        if let Some(p) = &o.parent_platform_id {
            named.push(p);
        }
    }
    let mut wanted: Vec<String> = Vec::with_capacity(named.len() * 2);
    for id in &named {
        wanted.push((*id).to_owned());
        wanted.push(object_key(id).into_owned());
    }
    wanted.sort_unstable();
    wanted.dedup();
    let mut known = load_records(txn, channel.id, &wanted).await?;
    // A record held under another name of the object (see `object_key`) is the one this batch
    // names: the batch's name leads to it, and it keeps the name it was archived by.
    let mut held_as: HashMap<String, String> = HashMap::new();
    for id in named {
        let key = object_key(id);
        if !known.contains_key(id) && key != id && known.contains_key(key.as_ref()) {
            held_as.insert(id.to_owned(), key.into_owned());
        }
    }
    fn held<'a>(held_as: &'a HashMap<String, String>, id: &'a str) -> &'a str {
        held_as.get(id).map_or(id, String::as_str)
    }

    let mut fresh: Vec<&str> = batch
        .iter()
        .map(|o| o.platform_id.as_str())
        .filter(|p| !known.contains_key(held(&held_as, p)))
        .collect();
    // First appearance order, so ids follow the payload.
    {
        let mut seen = std::collections::HashSet::new();
        fresh.retain(|p| seen.insert(*p));
    }
    let ids = crate::db::allocate_ids(txn, "record", fresh.len()).await?;
    let fresh_ids: HashMap<&str, i64> = fresh.iter().copied().zip(ids).collect();

    let mut versions: Vec<record_version::ActiveModel> = Vec::new();
    let mut created: Vec<i64> = Vec::new();
    for o in batch {
        let identity_of =
            |p: &Option<Person>| p.as_ref().and_then(|p| people.get(&p.platform_id).copied());
        let author_id = identity_of(&o.author);
        let recipient_id = identity_of(&o.recipient);
        if let Some(t) = known.get_mut(held(&held_as, &o.platform_id)) {
            let next = next_content(channel, &t.content, o);
            // Whom a message was sent to, learned now of one archived before recipients were kept,
            // is not something the platform changed: the record's row learns it, and no version
            // says the message was edited.
            let recipient_learned = t.content.recipient_platform_id.is_none()
                && next.recipient_platform_id.is_some()
                && Content {
                    recipient_platform_id: None,
                    ..next.clone()
                } == t.content;
            if recipient_learned {
                if t.recipient_id.is_none() && recipient_id.is_some() {
                    t.recipient_id = recipient_id;
                    t.changed = true;
                }
                counts.unchanged += 1;
                continue;
            }
            let Some(change) = change_between(&t.content, &next) else {
                counts.unchanged += 1;
                continue;
            };
            t.seq += 1;
            let (row, hash) = version_row(t.id, t.seq, change, at, &next);
            versions.push(row);
            t.content = next;
            t.hash = hash;
            // The record's author is the one its content names (the first the archive learned);
            // another account named by a later observation does not take the record over.
            let same_author = o.author.as_ref().map(|p| p.platform_id.as_str())
                == t.content.author_platform_id.as_deref();
            if author_id.is_some() && same_author {
                t.author_id = author_id;
            }
            if t.recipient_id.is_none()
                && o.recipient.as_ref().map(|p| p.platform_id.as_str())
                    == t.content.recipient_platform_id.as_deref()
            {
                t.recipient_id = recipient_id;
            }
            t.changed = true;
            counts.new_versions += 1;
            continue;
        }
        let id = fresh_ids[o.platform_id.as_str()];
        let content = Content {
            kind: o.kind,
            platform_id: o.platform_id.clone(),
            parent_platform_id: o.parent_platform_id.clone(),
            author_platform_id: o.author.as_ref().map(|p| p.platform_id.clone()),
            recipient_platform_id: o.recipient.as_ref().map(|p| p.platform_id.clone()),
            direction: direction_of(channel, o.author.as_ref()),
            platform_time: o.platform_time,
            text: o.text.clone(),
            reaction_type: o.reaction_type.clone(),
            attachments: o.attachments.clone(),
            visibility: visibility_after(o.kind, o.op, o.visibility, Visibility::Visible),
            moderation: None,
            registration_number: None,
        };
        let (row, hash) = version_row(id, 1, Change::Created, at, &content);
        versions.push(row);
        known.insert(
            o.platform_id.clone(),
            Tracked {
                id,
                seq: 1,
                content,
                author_id,
                recipient_id,
                hash,
                stored: None,
                changed: false,
            },
        );
        created.push(id);
        counts.created += 1;
    }

    // New records, parents before children: a parent created later in the batch is linked below.
    let mut rows: Vec<record::ActiveModel> = Vec::with_capacity(created.len());
    let mut touched: Vec<&Tracked> = Vec::new();
    for t in known.values() {
        match &t.stored {
            None => {
                let parent_id = t
                    .content
                    .parent_platform_id
                    .as_ref()
                    .and_then(|p| known.get(held(&held_as, p)))
                    .map(|p| p.id)
                    .filter(|pid| *pid < t.id);
                rows.push(record_row(channel.id, t, parent_id, at));
            }
            Some(_) if t.changed => touched.push(t),
            Some(_) => {}
        }
    }
    rows.sort_by_key(|r| *r.id.as_ref());
    for chunk in rows.chunks(ROWS_PER_STATEMENT) {
        record::Entity::insert_many(chunk.to_vec())
            .exec_without_returning(txn)
            .await?;
    }
    for chunk in versions.chunks(ROWS_PER_STATEMENT) {
        record_version::Entity::insert_many(chunk.to_vec())
            .exec_without_returning(txn)
            .await?;
    }
    // Records already held that learn their parent only now (an item listed without it, then a
    // webhook that names it) are linked to it below.
    let mut learned_parent: Vec<i64> = vec![];
    for t in touched {
        let (content, Some(stored)) = (&t.content, t.stored.clone()) else {
            continue;
        };
        if stored.parent_id.is_none() && content.parent_platform_id.is_some() {
            learned_parent.push(t.id);
        }
        let mut a: record::ActiveModel = stored.into();
        a.text = Set(content.text.clone());
        a.reaction_type = Set(content.reaction_type.clone());
        a.attachments = Set(attachments_json(content));
        a.visibility = Set(content.visibility.as_str().to_owned());
        a.platform_time = Set(content.platform_time);
        a.parent_platform_id = Set(content.parent_platform_id.clone());
        a.direction = Set(content.direction.as_str().to_owned());
        a.author_identity_id = Set(t.author_id);
        a.recipient_identity_id = Set(t.recipient_id);
        a.version_count = Set(t.seq);
        a.current_hash = Set(t.hash.clone());
        a.update(txn).await?;
    }
    link_orphans(txn, channel.id, &fresh).await?;
    link_to_parents(txn, &learned_parent).await?;
    // New records, and records held without an author that learn theirs now: the interaction is
    // that person's from then on, and the ledger must show it (GDPR Art. 7(1)).
    let archived: Vec<crate::consent::Archived> = known
        .values()
        .filter(|t| match &t.stored {
            None => true,
            Some(stored) => {
                t.changed && stored.author_identity_id.is_none() && t.author_id.is_some()
            }
        })
        .map(|t| crate::consent::Archived {
            record_id: t.id,
            kind: t.content.kind.as_str(),
            direction: t.content.direction.as_str(),
            author_identity_id: t.author_id,
            platform_time: t.content.platform_time,
        })
        .collect();
    crate::consent::record_given(txn, channel.id, &archived, policy_version).await?;
    // A phrase sent from a claimed account proves the account is the requester's.
    let texts: Vec<(i64, &str, &str)> = known
        .values()
        .filter(|t| t.stored.is_none() || t.changed)
        .filter_map(|t| {
            Some((
                t.id,
                t.content.author_platform_id.as_deref()?,
                t.content.text.as_deref()?,
            ))
        })
        .collect();
    crate::requests::prove_by_message(txn, requests, &channel.platform, &texts).await?;
    Ok(())
}

fn attachments_json(c: &Content) -> String {
    serde_json::to_string(&c.attachments).unwrap_or_else(|_| "[]".into())
}

fn version_row(
    record_id: i64,
    seq: i32,
    change: Change,
    at: DateTime<Utc>,
    content: &Content,
) -> (record_version::ActiveModel, String) {
    let canonical = content.canonical();
    let hash = fixity_of(&canonical);
    let row = record_version::ActiveModel {
        record_id: Set(record_id),
        seq: Set(seq),
        change: Set(change.as_str().to_owned()),
        seen_at: Set(at),
        hash: Set(hash.clone()),
        content: Set(canonical),
        ..Default::default()
    };
    (row, hash)
}

fn record_row(
    channel_id: i64,
    t: &Tracked,
    parent_id: Option<i64>,
    at: DateTime<Utc>,
) -> record::ActiveModel {
    let c = &t.content;
    record::ActiveModel {
        id: Set(t.id),
        channel_id: Set(channel_id),
        kind: Set(c.kind.as_str().to_owned()),
        platform_id: Set(c.platform_id.clone()),
        parent_platform_id: Set(c.parent_platform_id.clone()),
        parent_id: Set(parent_id),
        author_identity_id: Set(t.author_id),
        direction: Set(c.direction.as_str().to_owned()),
        platform_time: Set(c.platform_time),
        archived_at: Set(at),
        text: Set(c.text.clone()),
        reaction_type: Set(c.reaction_type.clone()),
        attachments: Set(attachments_json(c)),
        visibility: Set(c.visibility.as_str().to_owned()),
        registration_number: Set(None),
        version_count: Set(t.seq),
        current_hash: Set(t.hash.clone()),
        classified: Set(false),
        restricted_by: Set(None),
        recipient_identity_id: Set(t.recipient_id),
    }
}

/// The records of `platform_ids` already in the channel, with their latest content.
async fn load_records(
    txn: &DatabaseTransaction,
    channel_id: i64,
    platform_ids: &[String],
) -> Result<HashMap<String, Tracked>, DbErr> {
    let mut out = HashMap::new();
    for chunk in platform_ids.chunks(ROWS_PER_STATEMENT) {
        let found = record::Entity::find()
            .filter(record::Column::ChannelId.eq(channel_id))
            .filter(record::Column::PlatformId.is_in(chunk.iter().cloned()))
            .all(txn)
            .await?;
        if found.is_empty() {
            continue;
        }
        let latest: HashMap<i64, String> = record_version::Entity::find()
            .filter(record_version::Column::RecordId.is_in(found.iter().map(|r| r.id)))
            .all(txn)
            .await?
            .into_iter()
            .filter(|v| {
                found
                    .iter()
                    .any(|r| r.id == v.record_id && r.version_count == v.seq)
            })
            .map(|v| (v.record_id, v.content))
            .collect();
        for r in found {
            let content = latest
                .get(&r.id)
                .and_then(|c| Content::from_canonical(c))
                .ok_or_else(|| {
                    DbErr::Custom(format!("record {} has no readable latest version", r.id))
                })?;
            out.insert(
                r.platform_id.clone(),
                Tracked {
                    hash: r.current_hash.clone(),
                    id: r.id,
                    seq: r.version_count,
                    content,
                    author_id: r.author_identity_id,
                    recipient_id: r.recipient_identity_id,
                    stored: Some(r),
                    changed: false,
                },
            );
        }
    }
    Ok(out)
}

/// Replies and reactions that arrived before their parent find it now.
async fn link_orphans(
    txn: &DatabaseTransaction,
    channel_id: i64,
    parents: &[&str],
) -> Result<(), DbErr> {
    let parents = parents.iter().map(|p| Value::from(*p)).collect();
    link_parents(txn, "parent_platform_id", Some(channel_id), parents).await
}

/// Links these records to their parents by the parents' platform ids, where the archive holds them.
async fn link_to_parents(txn: &DatabaseTransaction, ids: &[i64]) -> Result<(), DbErr> {
    let ids = ids.iter().map(|id| Value::from(*id)).collect();
    link_parents(txn, "id", None, ids).await
}

/// Sets `parent_id` from `parent_platform_id` on the records without one whose `column` is among
/// `keys` (in `channel_id`, when given).
async fn link_parents(
    txn: &DatabaseTransaction,
    column: &str,
    channel_id: Option<i64>,
    keys: Vec<Value>,
) -> Result<(), DbErr> {
    let backend = txn.get_database_backend();
    for chunk in keys.chunks(ROWS_PER_STATEMENT) {
        let mut values: Vec<Value> = vec![];
        let mut filter = String::new();
        if let Some(channel_id) = channel_id {
            values.push(channel_id.into());
            filter = format!("channel_id = {} AND ", crate::db::placeholder(backend, 1));
        }
        let list: Vec<String> = chunk
            .iter()
            .map(|k| {
                values.push(k.clone());
                crate::db::placeholder(backend, values.len())
            })
            .collect();
        let sql = format!(
            "UPDATE record SET parent_id = (SELECT p.id FROM record p \
               WHERE p.channel_id = record.channel_id AND p.platform_id = record.parent_platform_id) \
             WHERE {filter}parent_id IS NULL AND {column} IN ({})",
            list.join(", ")
        );
        txn.execute_raw(Statement::from_sql_and_values(backend, sql, values))
            .await?;
    }
    Ok(())
}

/// Every author and recipient of the batch as an identity id: read with one query, new ones
/// inserted together, changed names, links and first/last seen written with one statement per
/// chunk.
async fn resolve_identities(
    txn: &DatabaseTransaction,
    platform: &str,
    batch: &[Observation],
    at: DateTime<Utc>,
) -> Result<HashMap<String, i64>, DbErr> {
    // What the batch says of each person, later mentions winning, as one-at-a-time would.
    let mut seen: HashMap<&str, (Person, DateTime<Utc>, DateTime<Utc>)> = HashMap::new();
    let mut order: Vec<&str> = Vec::new();
    let named = batch
        .iter()
        .flat_map(|o| o.author.iter().chain(&o.recipient).map(move |p| (o, p)));
    for (o, p) in named {
        let t = o.platform_time.unwrap_or(at);
        match seen.get_mut(p.platform_id.as_str()) {
            Some((known, first, last)) => {
                if p.name.is_some() {
                    known.name = p.name.clone();
                }
                if p.profile_link.is_some() {
                    known.profile_link = p.profile_link.clone();
                }
                *first = (*first).min(t);
                *last = (*last).max(t);
            }
            None => {
                order.push(p.platform_id.as_str());
                seen.insert(p.platform_id.as_str(), (p.clone(), t, t));
            }
        }
    }
    let mut ids = HashMap::with_capacity(order.len());
    let mut changed: Vec<identity::Model> = Vec::new();
    for chunk in order.chunks(ROWS_PER_STATEMENT) {
        let found = identity::Entity::find()
            .filter(identity::Column::Platform.eq(platform))
            .filter(identity::Column::PlatformId.is_in(chunk.iter().map(|s| s.to_string())))
            .all(txn)
            .await?;
        for i in found {
            let (p, first, last) = &seen[i.platform_id.as_str()];
            let next = identity::Model {
                display_name: p.name.clone().or(i.display_name.clone()),
                profile_link: p.profile_link.clone().or(i.profile_link.clone()),
                first_seen: i.first_seen.min(*first),
                last_seen: i.last_seen.max(*last),
                ..i.clone()
            };
            ids.insert(i.platform_id.clone(), i.id);
            if next != i {
                changed.push(next);
            }
        }
    }
    let missing: Vec<&str> = order
        .iter()
        .copied()
        .filter(|p| !ids.contains_key(*p))
        .collect();
    let new_ids = crate::db::allocate_ids(txn, "identity", missing.len()).await?;
    let rows: Vec<identity::ActiveModel> = missing
        .iter()
        .zip(new_ids)
        .map(|(pid, id)| {
            let (p, first, last) = &seen[pid];
            ids.insert((*pid).to_owned(), id);
            identity::ActiveModel {
                id: Set(id),
                platform: Set(platform.to_owned()),
                platform_id: Set(p.platform_id.clone()),
                display_name: Set(p.name.clone()),
                profile_link: Set(p.profile_link.clone()),
                first_seen: Set(*first),
                last_seen: Set(*last),
            }
        })
        .collect();
    for chunk in rows.chunks(ROWS_PER_STATEMENT) {
        identity::Entity::insert_many(chunk.to_vec())
            .exec_without_returning(txn)
            .await?;
    }
    update_identities(txn, &changed).await?;
    Ok(ids)
}

/// `UPDATE … FROM (VALUES …)`: one statement for many identities, on SQLite and PostgreSQL alike
/// (both name the columns of a VALUES list `column1`, `column2`, …).
async fn update_identities(
    txn: &DatabaseTransaction,
    changed: &[identity::Model],
) -> Result<(), DbErr> {
    let backend = txn.get_database_backend();
    for chunk in changed.chunks(ROWS_PER_STATEMENT) {
        let mut values: Vec<Value> = Vec::with_capacity(chunk.len() * 5);
        let mut tuples = Vec::with_capacity(chunk.len());
        for i in chunk {
            let mut t = Vec::with_capacity(5);
            for v in [
                Value::from(i.id),
                i.display_name.clone().into(),
                i.profile_link.clone().into(),
                i.first_seen.into(),
                i.last_seen.into(),
            ] {
                values.push(v);
                t.push(crate::db::placeholder(backend, values.len()));
            }
            tuples.push(format!("({})", t.join(", ")));
        }
        let sql = format!(
            "UPDATE identity SET display_name = v.column2, profile_link = v.column3, \
               first_seen = v.column4, last_seen = v.column5 \
             FROM (VALUES {}) AS v WHERE identity.id = v.column1",
            tuples.join(", ")
        );
        txn.execute_raw(Statement::from_sql_and_values(backend, sql, values))
            .await?;
    }
    Ok(())
}
