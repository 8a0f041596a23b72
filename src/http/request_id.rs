//! One span per request, with an id echoed in `x-request-id`, and the request counted in the
//! metrics under its route template. Logs carry ids and templates, never personal data.
use super::metrics::Metrics;
use poem::{Endpoint, IntoResponse, Request, Response};
use poem_openapi::OperationId;
use std::sync::Arc;
use tracing::Instrument;

pub const HEADER: &str = "x-request-id";

pub async fn middleware<E: Endpoint>(
    next: E,
    req: Request,
    metrics: Arc<Metrics>,
) -> poem::Result<Response> {
    let id = req
        .headers()
        .get(HEADER)
        .and_then(|v| v.to_str().ok())
        .filter(|v| v.len() <= 64 && v.chars().all(|c| c.is_ascii_alphanumeric() || c == '-'))
        .map(str::to_owned)
        .unwrap_or_else(|| hex::encode(rand::random::<[u8; 8]>()));
    // A method is any token a client sends: only the standard ones become labels, so that no
    // client can grow the metrics without end.
    let method = match req.method().as_str() {
        m @ ("GET" | "HEAD" | "POST" | "PUT" | "PATCH" | "DELETE" | "OPTIONS") => m.to_owned(),
        _ => "other".to_owned(),
    };
    let span = tracing::info_span!("request", request_id = %id, method = %method, route = tracing::field::Empty);
    async move {
        let started = std::time::Instant::now();
        let (mut resp, route) = match next.call(req).await {
            Ok(r) => {
                let r = r.into_response();
                let route = r.data::<OperationId>().map(|o| o.0);
                (r, route)
            }
            Err(e) => {
                let route = e.data::<OperationId>().map(|o| o.0);
                (super::problem::catch_all(e).await, route)
            }
        };
        let route = route.unwrap_or("unmatched");
        let elapsed = started.elapsed();
        tracing::Span::current().record("route", route);
        tracing::info!(
            status = resp.status().as_u16(),
            ms = elapsed.as_millis() as u64,
            "served"
        );
        metrics.observe(route, &method, resp.status().as_u16(), elapsed);
        if let Ok(v) = id.parse() {
            resp.headers_mut().insert(HEADER, v);
        }
        Ok(resp)
    }
    .instrument(span)
    .await
}
