//! The officers' daily digest of what is overdue or due within a week.
use super::*;

/// Mails each officer the open requests due within seven days and those overdue. Nothing is sent
/// when there is nothing to say.
pub async fn send_digest(
    db: &DatabaseConnection,
    ctx: &Context,
    officers: &[Email],
) -> Result<usize, DbErr> {
    if officers.is_empty() {
        return Ok(0);
    }
    let today = ctx.today(now());
    let horizon = today + chrono::Days::new(7);
    let rows = queue(
        db,
        &QueueFilter {
            status: None,
            request_type: None,
            assignee: None,
            overdue: None,
            due_before: Some(horizon + chrono::Days::new(1)),
            today,
            after: None,
            limit: 10_000,
        },
    )
    .await?;
    if rows.is_empty() {
        return Ok(0);
    }
    let lines: Vec<letters::DigestLine> = rows
        .iter()
        .map(|r| letters::DigestLine {
            reference: r.reference.clone(),
            request_type: r.request_type.clone(),
            status: r.status.clone(),
            due: due_of(r),
            days_left: crate::requests::clock::days_left(today, due_of(r)),
        })
        .collect();
    let mail = letters::digest(
        today,
        &lines,
        &format!("{}/officer", ctx.public_url.trim_end_matches('/')),
    );
    let txn = db.begin().await?;
    for to in officers {
        crate::mail::store::queue(&txn, to, &mail).await?;
    }
    txn.commit().await?;
    Ok(officers.len())
}
