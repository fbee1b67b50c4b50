//! Requests below kube-rs's typed `Api`s, whose answers the tests see whole (status, warning
//! headers, body), and the errors of the typed ones.

use serde_json::Value;

/// A response as the client got it.
#[derive(Debug)]
pub struct Raw {
    pub code: u16,
    pub warnings: Vec<String>,
    /// `null` when the body is not JSON.
    pub body: Value,
}

impl Raw {
    /// The `message` of a Status answer (empty when there is none).
    pub fn message(&self) -> &str {
        self.body["message"].as_str().unwrap_or("")
    }

    /// The `details.causes` of a Status answer: reason, field, message.
    pub fn causes(&self) -> Vec<(String, String, String)> {
        self.body["details"]["causes"]
            .as_array()
            .into_iter()
            .flatten()
            .map(|cause| {
                let text = |key: &str| cause[key].as_str().unwrap_or("").to_string();
                (text("reason"), text("field"), text("message"))
            })
            .collect()
    }
}

/// Sends `method path` with `body` (none: an empty one) as `content_type`.
pub async fn request(
    client: &kube::Client,
    method: &str,
    path: &str,
    content_type: &str,
    body: Option<&Value>,
) -> Raw {
    let body = body.map(|b| b.to_string().into_bytes()).unwrap_or_default();
    let request = axum::http::Request::builder()
        .method(method)
        .uri(path)
        .header("content-type", content_type)
        .body(kube::client::Body::from(body))
        .unwrap();
    let response = client.send(request).await.unwrap();
    let code = response.status().as_u16();
    let warnings = response
        .headers()
        .get_all("warning")
        .iter()
        .map(|v| v.to_str().unwrap().to_string())
        .collect();
    let bytes = response.into_body().collect_bytes().await.unwrap();
    let body = serde_json::from_slice(&bytes).unwrap_or(Value::Null);
    Raw {
        code,
        warnings,
        body,
    }
}

/// Sends `method path` with a JSON body.
pub async fn raw(client: &kube::Client, method: &str, path: &str, body: Option<Value>) -> Raw {
    request(client, method, path, "application/json", body.as_ref()).await
}

/// A PATCH of `path` with `patch` as `content_type` (`application/merge-patch+json`, …).
pub async fn patch(client: &kube::Client, path: &str, content_type: &str, patch: Value) -> Raw {
    request(client, "PATCH", path, content_type, Some(&patch)).await
}

/// Creates `body` at `collection` and reads it back with a GET, as `kubectl get -o json` would;
/// the create's answer must be the stored object.
pub async fn create_and_get(client: &kube::Client, collection: &str, body: Value) -> Value {
    let created = raw(client, "POST", collection, Some(body)).await;
    assert_eq!(created.code, 201, "{:#}", created.body);
    let name = created.body["metadata"]["name"].as_str().unwrap();
    let read = raw(client, "GET", &format!("{collection}/{name}"), None).await;
    assert_eq!(read.code, 200, "{:#}", read.body);
    assert_eq!(
        created.body, read.body,
        "the create's answer is the stored object"
    );
    read.body
}

/// The code, reason and message of the Status a typed request failed with.
pub fn api_error(error: kube::Error) -> (u16, String, String) {
    match error {
        kube::Error::Api(status) => (status.code, status.reason, status.message),
        other => panic!("expected an API error, got {other}"),
    }
}
