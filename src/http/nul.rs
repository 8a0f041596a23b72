//! Rejects text holding a NUL character (U+0000) before it reaches a handler: PostgreSQL cannot
//! store it in a text column and would fail the statement, where SQLite stores it. Query
//! parameters and form fields are checked here; JSON bodies are checked field by field where they
//! are parsed (`json_body`), and imported payloads by the importer, so that the problem names the
//! field.
use super::{FieldError, Problem};
use poem::{Body, Endpoint, IntoResponse, Request, Response};

pub const REASON: &str = "must not contain a NUL character (U+0000)";

fn rejected(field: &str) -> Response {
    Problem::validation(vec![FieldError {
        field: field.to_owned(),
        reason: REASON.into(),
    }])
    .into_poem_response()
}

/// The first name in `pairs` (`a=1&b=2`) whose name or value holds a NUL.
fn nul_in_pairs(pairs: &[u8]) -> Option<String> {
    url::form_urlencoded::parse(pairs)
        .find(|(k, v)| k.contains('\0') || v.contains('\0'))
        .map(|(k, _)| k.replace('\0', "\u{fffd}"))
}

pub async fn reject<E: Endpoint>(next: E, mut req: Request) -> poem::Result<Response> {
    if req.uri().path().contains("%00") {
        return Ok(rejected("path"));
    }
    if let Some(field) = req.uri().query().and_then(|q| nul_in_pairs(q.as_bytes())) {
        return Ok(rejected(&field));
    }
    let form = req
        .content_type()
        .is_some_and(|t| t.starts_with("application/x-www-form-urlencoded"));
    if form {
        // The body limit, applied outside this, has bounded what is read here.
        let bytes = req.take_body().into_vec().await?;
        if let Some(field) = nul_in_pairs(&bytes) {
            return Ok(rejected(&field));
        }
        req.set_body(Body::from(bytes));
    }
    next.call(req).await.map(IntoResponse::into_response)
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn names_the_parameter_that_holds_a_nul() {
        assert_eq!(nul_in_pairs(b"q=abc&r=a%00b").as_deref(), Some("r"));
        assert_eq!(nul_in_pairs(b"q=abc&r=a%2500b"), None);
        assert_eq!(nul_in_pairs(b""), None);
    }
}
