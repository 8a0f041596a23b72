//! One span per request, with an id echoed in `x-request-id`. Paths carry ids, never personal data.
use poem::{Endpoint, IntoResponse, Request, Response};
use tracing::Instrument;

pub const HEADER: &str = "x-request-id";

pub async fn middleware<E: Endpoint>(next: E, req: Request) -> poem::Result<Response> {
    let id = req
        .headers()
        .get(HEADER)
        .and_then(|v| v.to_str().ok())
        .filter(|v| v.len() <= 64 && v.chars().all(|c| c.is_ascii_alphanumeric() || c == '-'))
        .map(str::to_owned)
        .unwrap_or_else(|| hex::encode(rand::random::<[u8; 8]>()));
    let span = tracing::info_span!("request", request_id = %id, method = %req.method(), path = %req.uri().path());
    async move {
        let started = std::time::Instant::now();
        let mut resp = match next.call(req).await {
            Ok(r) => r.into_response(),
            Err(e) => super::problem::catch_all(e).await,
        };
        tracing::info!(
            status = resp.status().as_u16(),
            ms = started.elapsed().as_millis() as u64,
            "served"
        );
        if let Ok(v) = id.parse() {
            resp.headers_mut().insert(HEADER, v);
        }
        Ok(resp)
    }
    .instrument(span)
    .await
}
