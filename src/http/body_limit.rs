//! Rejects request bodies over the configured limit with 413, whether or not they declare a length.
use poem::{Body, Endpoint, IntoResponse, Request, Response, http::StatusCode};

use super::Problem;

fn too_large(limit: usize) -> Response {
    Problem::new(
        StatusCode::PAYLOAD_TOO_LARGE,
        format!("the request body is larger than the limit of {limit} bytes"),
    )
    .into_poem_response()
}

pub async fn enforce<E: Endpoint>(
    next: E,
    mut req: Request,
    limit: usize,
) -> poem::Result<Response> {
    let declared = req
        .headers()
        .get(poem::http::header::CONTENT_LENGTH)
        .and_then(|v| v.to_str().ok())
        .and_then(|v| v.parse::<u64>().ok());
    match declared {
        Some(n) if n > limit as u64 => return Ok(too_large(limit)),
        Some(_) => {}
        None if req
            .headers()
            .contains_key(poem::http::header::TRANSFER_ENCODING) =>
        {
            // A chunked body tells its size only by arriving: read at most limit + 1 bytes.
            let body = req.take_body();
            use tokio::io::AsyncReadExt;
            let mut buf = Vec::new();
            let mut reader = body.into_async_read().take(limit as u64 + 1);
            if reader.read_to_end(&mut buf).await.is_err() {
                return Ok(Problem::new(
                    StatusCode::BAD_REQUEST,
                    "the request body could not be read",
                )
                .into_poem_response());
            }
            if buf.len() > limit {
                return Ok(too_large(limit));
            }
            req.set_body(Body::from(buf));
        }
        None => {}
    }
    next.call(req).await.map(IntoResponse::into_response)
}
