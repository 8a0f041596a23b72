//! `Allow` on 405 answers (RFC 9110 §15.5.6): the methods the OpenAPI document gives the path.
use poem::http::{HeaderValue, StatusCode, header::ALLOW};
use poem::{Endpoint, IntoResponse, Request, Response};
use std::sync::Arc;

/// Each path template of the document, split into segments (`None` for a `{parameter}`), with
/// its methods.
#[derive(Debug, Default)]
pub struct Methods(Vec<(Vec<Option<String>>, String)>);

impl Methods {
    pub fn from_openapi(doc: &str) -> Methods {
        let doc: serde_json::Value = serde_json::from_str(doc).unwrap_or_default();
        let Some(paths) = doc.get("paths").and_then(|p| p.as_object()) else {
            return Methods::default();
        };
        Methods(
            paths
                .iter()
                .map(|(template, ops)| {
                    let segments = template
                        .split('/')
                        .map(|s| (!s.starts_with('{')).then(|| s.to_owned()))
                        .collect();
                    let mut methods: Vec<String> = ops
                        .as_object()
                        .map(|o| o.keys().map(|m| m.to_uppercase()).collect())
                        .unwrap_or_default();
                    if methods.iter().any(|m| m == "GET") {
                        methods.push("HEAD".into());
                    }
                    (segments, methods.join(", "))
                })
                .collect(),
        )
    }

    pub fn of(&self, path: &str) -> Option<&str> {
        let parts: Vec<&str> = path.split('/').collect();
        self.0
            .iter()
            .find(|(segments, _)| {
                segments.len() == parts.len()
                    && segments
                        .iter()
                        .zip(&parts)
                        .all(|(s, p)| s.as_deref().is_none_or(|s| s == *p))
            })
            .map(|(_, m)| m.as_str())
    }
}

pub async fn middleware<E: Endpoint>(
    next: E,
    req: Request,
    methods: Arc<Methods>,
) -> poem::Result<Response> {
    let path = req.uri().path().to_owned();
    let mut resp = match next.call(req).await {
        Ok(r) => r.into_response(),
        Err(e) => super::problem::catch_all(e).await,
    };
    if resp.status() == StatusCode::METHOD_NOT_ALLOWED
        && !resp.headers().contains_key(ALLOW)
        && let Some(allowed) = methods.of(&path)
        && let Ok(v) = HeaderValue::from_str(allowed)
    {
        resp.headers_mut().insert(ALLOW, v);
    }
    Ok(resp)
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn finds_the_methods_of_a_path() {
        let m = Methods::from_openapi(
            r#"{"paths": {"/api/v1/requests/{id}/plan": {"get": {}, "post": {}},
                          "/api/v1/channels": {"post": {}}}}"#,
        );
        assert_eq!(m.of("/api/v1/requests/7/plan"), Some("GET, POST, HEAD"));
        assert_eq!(m.of("/api/v1/channels"), Some("POST"));
        assert_eq!(m.of("/api/v1/requests/7"), None);
    }
}
