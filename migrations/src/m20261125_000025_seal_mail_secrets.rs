use sea_orm_migration::prelude::*;
use sea_orm_migration::sea_orm::ConnectionTrait;

#[derive(DeriveMigrationName)]
pub struct Migration;

/// A mail that carries a secret (a verification code, a status token) keeps it sealed with the
/// server's secret in `secret_sealed` until it is sent, and its bodies hold `{{secret}}` in its
/// place. Mails already sent kept their secrets in clear: this takes them out (codes expire, but a
/// status token opens its request for as long as the request lives).
#[async_trait::async_trait]
impl MigrationTrait for Migration {
    async fn up(&self, manager: &SchemaManager) -> Result<(), DbErr> {
        manager
            .alter_table(
                Table::alter()
                    .table(Outbox::Table)
                    .add_column(ColumnDef::new(Outbox::SecretSealed).text().null())
                    .to_owned(),
            )
            .await?;
        let db = manager.get_connection();
        let backend = db.get_database_backend();
        let mut after = 0i64;
        loop {
            let select = Query::select()
                .columns([Outbox::Id, Outbox::BodyText, Outbox::BodyHtml])
                .from(Outbox::Table)
                .and_where(Expr::col(Outbox::Status).eq("sent"))
                .and_where(Expr::col(Outbox::Id).gt(after))
                .order_by(Outbox::Id, Order::Asc)
                .limit(500)
                .to_owned();
            let rows = db.query_all_raw(backend.build(&select)).await?;
            let Some(last) = rows.last() else {
                return Ok(());
            };
            after = last.try_get("", "id")?;
            for row in rows {
                let id: i64 = row.try_get("", "id")?;
                let text: String = row.try_get("", "body_text")?;
                let html: String = row.try_get("", "body_html")?;
                let (clean_text, clean_html) = (scrub(&text), scrub(&html));
                if clean_text == text && clean_html == html {
                    continue;
                }
                let update = Query::update()
                    .table(Outbox::Table)
                    .value(Outbox::BodyText, clean_text)
                    .value(Outbox::BodyHtml, clean_html)
                    .and_where(Expr::col(Outbox::Id).eq(id))
                    .to_owned();
                db.execute_raw(backend.build(&update)).await?;
            }
        }
    }

    async fn down(&self, manager: &SchemaManager) -> Result<(), DbErr> {
        // What was scrubbed stays scrubbed: the secrets are gone.
        manager
            .alter_table(
                Table::alter()
                    .table(Outbox::Table)
                    .drop_column(Outbox::SecretSealed)
                    .to_owned(),
            )
            .await
    }
}

/// The text with every status token (`token=dsr_` and 64 hex digits) and every mailed code (the
/// eight digits after "Din kod är: " or "Your code is: ") replaced by `{{secret}}`.
fn scrub(s: &str) -> String {
    let mut out = s.to_owned();
    for (prefix, keep, digits) in [
        ("token=dsr_", "token=", 64),
        ("Din kod är: ", "Din kod är: ", 8),
        ("Your code is: ", "Your code is: ", 8),
    ] {
        let mut from = 0;
        while let Some(at) = out[from..].find(prefix).map(|i| from + i) {
            let start = at + prefix.len();
            let run = out[start..]
                .bytes()
                .take_while(u8::is_ascii_hexdigit)
                .count();
            if run != digits {
                from = start;
                continue;
            }
            let replacement = format!("{keep}{{{{secret}}}}");
            out.replace_range(at..start + run, &replacement);
            from = at + replacement.len();
        }
    }
    out
}

#[derive(DeriveIden)]
enum Outbox {
    Table,
    Id,
    BodyText,
    BodyHtml,
    Status,
    SecretSealed,
}

#[cfg(test)]
mod tests {
    use super::scrub;

    #[test]
    fn tokens_and_codes_are_taken_out_and_nothing_else() {
        let token = "ab".repeat(32);
        let text = format!(
            "Här kan du följa ditt ärende: https://x.se/requests/1?token=dsr_{token}\n\nDin kod är: 12345678\n"
        );
        assert_eq!(
            scrub(&text),
            "Här kan du följa ditt ärende: https://x.se/requests/1?token={{secret}}\n\nDin kod är: {{secret}}\n"
        );
        assert_eq!(
            scrub("<p>Your code is: 00000001</p><p>Your code is: 00000002</p>"),
            "<p>Your code is: {{secret}}</p><p>Your code is: {{secret}}</p>"
        );
        // Nothing that is not a whole token or code is touched.
        for kept in [
            "token=dsr_abc",
            "Din kod är: 1234",
            "Vi svarar senast 2026-12-28.",
            "",
        ] {
            assert_eq!(scrub(kept), kept);
        }
    }
}
