//! Cross-cutting HTTP: the problem+json error, bearer-token auth, request ids and logging.
pub mod allow;
pub mod auth;
pub mod body_limit;
pub mod health;
pub mod json_body;
pub mod metrics;
pub mod nul;
pub mod problem;
pub mod rate_limit;
pub mod request_id;

pub use auth::{Principal, TokenAuth};

/// A file as a response body: read whole when it is small (most packages), streamed in large
/// chunks when it is not, so that memory stays bounded either way. The small read saves the
/// chunk-by-chunk hand-offs to the blocking pool that a stream of a file costs.
pub async fn file_body(mut file: tokio::fs::File) -> std::io::Result<poem::Body> {
    const WHOLE: u64 = 8 * 1024 * 1024;
    if file.metadata().await?.len() <= WHOLE {
        let mut bytes = vec![];
        tokio::io::AsyncReadExt::read_to_end(&mut file, &mut bytes).await?;
        return Ok(poem::Body::from_vec(bytes));
    }
    Ok(poem::Body::from_bytes_stream(
        tokio_util::io::ReaderStream::with_capacity(file, 256 * 1024),
    ))
}
pub use json_body::JsonBody;
pub use problem::{ApiError, AppError, FieldError, Problem};

/// The `after` cursor for the next page of an id-ordered listing: the last id when the page is
/// full, none on the last page.
pub fn next_after<T>(rows: &[T], limit: u64, id: impl Fn(&T) -> i64) -> Option<i64> {
    if rows.len() as u64 == limit {
        rows.last().map(id)
    } else {
        None
    }
}
