//! The HTTP face of the emulator: kube-apiserver's URL layout, dispatched to discovery and to
//! the object handlers.

pub mod admit;
pub mod apiservices;
pub mod auth_reviews;
pub mod binding;
pub mod body;
pub mod connect;
pub mod crd;
pub mod deletion;
pub mod discovery;
pub mod kubernetes_service;
pub mod lifecycle;
pub mod listing;
pub mod logs;
pub mod objects;
pub mod patching;
pub mod proxy;
pub mod rbac;
pub mod shape;
pub mod strict;
pub mod subresources;
pub mod token_request;
pub mod watch;

use std::collections::HashMap;
use std::sync::Arc;

use axum::Router;
use axum::body::Body;
use axum::extract::{Request, State};
use axum::http::Method;
use axum::response::{IntoResponse, Response};
use axum::routing::get;

use crate::catalogue::{Catalogue, ResourceInfo};
use crate::status::ApiError;
use crate::store::Store;

/// Everything a request handler needs.
pub struct ServerState {
    pub store: Store,
    pub catalogue: Catalogue,
    /// `host:port` the server listens on (discovery reports it).
    pub address: String,
    /// Request bodies larger than this get `413` (kube-apiserver's limit is 3 MiB).
    pub max_body_bytes: usize,
    /// How often watches with `allowWatchBookmarks` get a BOOKMARK.
    pub bookmark_interval: std::time::Duration,
    /// The next ClusterIP to hand out.
    pub next_service_ip: std::sync::atomic::AtomicU32,
    /// Bearer tokens and the users they stand for.
    pub tokens: crate::auth::Tokens,
    /// Calls admission webhooks (keeps their connections).
    pub webhook_client: crate::admission::client::WebhookClient,
}

pub type SharedState = Arc<ServerState>;

pub fn router(state: SharedState) -> Router {
    Router::new()
        .route("/version", get(discovery::version))
        .route("/healthz", get(|| async { "ok" }))
        .route("/readyz", get(|| async { "ok" }))
        .route("/livez", get(|| async { "ok" }))
        .route("/api", get(discovery::core_versions))
        .route("/apis", get(discovery::groups))
        .fallback(dispatch)
        .with_state(state)
}

/// Where a resource request points.
#[derive(Clone, Debug)]
pub struct Target {
    pub info: ResourceInfo,
    pub namespace: Option<String>,
    pub name: Option<String>,
    pub subresource: Option<String>,
}

/// What a URL under `/api` or `/apis` asks for.
enum Route {
    GroupVersion { group: String, version: String },
    Group(String),
    // Boxed: a Target is far larger than the other variants.
    Resource(Box<Target>),
}

fn parse_path(catalogue: &Catalogue, path: &str) -> Result<Route, ApiError> {
    let segments: Vec<&str> = path
        .trim_matches('/')
        .split('/')
        .filter(|s| !s.is_empty())
        .collect();
    let (group, version, rest): (&str, &str, &[&str]) = match segments.as_slice() {
        ["api", version, rest @ ..] => ("", version, rest),
        ["apis", group] => return Ok(Route::Group(group.to_string())),
        ["apis", group, version, rest @ ..] => (group, version, rest),
        _ => return Err(ApiError::not_found_path()),
    };
    let lookup = |resource: &str| catalogue.get(group, version, resource);
    // Under a served group/version, kube-apiserver answers unknown paths with a Status; for
    // anything else nothing is registered and Go's plain `404 page not found` comes back.
    let served = catalogue
        .groups()
        .iter()
        .any(|(g, versions)| g == group && versions.iter().any(|v| v == version));
    let not_found = || {
        if served {
            ApiError::no_such_resource()
        } else {
            ApiError::not_found_path()
        }
    };
    let target =
        |info: ResourceInfo, namespace: Option<&str>, name: Option<&str>, sub: Option<&str>| {
            Route::Resource(Box::new(Target {
                info,
                namespace: namespace.map(str::to_string),
                name: name.map(str::to_string),
                subresource: sub.map(str::to_string),
            }))
        };
    let found = match rest {
        [] => {
            return Ok(Route::GroupVersion {
                group: group.into(),
                version: version.into(),
            });
        }
        // /namespaces/{ns}/{resource}[/{name}[/{sub}]] when {resource} is namespaced here.
        ["namespaces", namespace, resource, tail @ ..]
            if lookup(resource).is_some_and(|i| i.namespaced) =>
        {
            let info = lookup(resource).ok_or_else(not_found)?;
            match tail {
                [] => target(info, Some(namespace), None, None),
                [name] => target(info, Some(namespace), Some(name), None),
                [name, sub] => target(info, Some(namespace), Some(name), Some(sub)),
                _ => return Err(not_found()),
            }
        }
        [resource, tail @ ..] => {
            let info = lookup(resource).ok_or_else(not_found)?;
            match tail {
                [] => target(info, None, None, None),
                [name] if !info.namespaced => target(info, None, Some(name), None),
                [name, sub] if !info.namespaced => target(info, None, Some(name), Some(sub)),
                _ => return Err(not_found()),
            }
        }
    };
    Ok(found)
}

/// Every request under `/api` and `/apis` (and anything unknown) comes here.
async fn dispatch(State(state): State<SharedState>, request: Request<Body>) -> Response {
    let path = request.uri().path().to_string();
    let caller = match state.tokens.identify(request.headers()) {
        Ok(user) => crate::admission::Caller::new(user),
        Err(error) => return error.into_response(),
    };
    if let Some(openapi) = path.strip_prefix("/openapi") {
        let accept = request
            .headers()
            .get(axum::http::header::ACCEPT)
            .and_then(|value| value.to_str().ok())
            .unwrap_or("");
        return discovery::openapi(&state, openapi, accept).await;
    }
    // `pods/<name>/log` is answered by the pod's kubelet, not from the store.
    if let Some(pod) = logs::parse(&path) {
        return logs::serve(&state, pod, request)
            .await
            .unwrap_or_else(IntoResponse::into_response);
    }
    // `pods/<id>/proxy/<path...>` has more segments than any object URL.
    if let Some(proxy) = proxy::parse(&path) {
        let mut response = proxy::serve(&state, proxy, request, &caller)
            .await
            .unwrap_or_else(IntoResponse::into_response);
        for warning in caller.warnings.headers() {
            response.headers_mut().append("warning", warning);
        }
        return response;
    }
    let route = match parse_path(&state.catalogue, &path) {
        Ok(route) => route,
        Err(error) => return error.into_response(),
    };
    let result = match route {
        Route::Group(group) if request.method() == Method::GET => discovery::group(&state, &group),
        Route::GroupVersion { group, version } if request.method() == Method::GET => {
            discovery::resources(&state, &group, &version)
        }
        Route::Group(_) | Route::GroupVersion { .. } => Err(ApiError::method_not_allowed()),
        Route::Resource(target) if is_token_request(&target) => {
            token_request::serve(&state, &target, request, &caller).await
        }
        Route::Resource(target) if crate::catalogue::is_create_only(&target.info) => {
            auth_reviews::serve(&state, &target, request, &caller).await
        }
        Route::Resource(target) => {
            if target.info.group == "apiregistration.k8s.io" {
                apiservices::sync(&state);
            }
            objects::handle(state.clone(), *target, request, &caller).await
        }
    };
    let mut response = result.unwrap_or_else(IntoResponse::into_response);
    // Admission warnings go back whether the write succeeded or not.
    for warning in caller.warnings.headers() {
        response.headers_mut().append("warning", warning);
    }
    response
}

fn is_token_request(target: &Target) -> bool {
    target.info.group.is_empty()
        && target.info.resource == "serviceaccounts"
        && target.subresource.as_deref() == Some("token")
}

/// The query string as a map (last value wins, as Go's `url.Values.Get` takes the first; the
/// clients we serve never repeat a parameter).
pub fn query_map(request: &Request<Body>) -> HashMap<String, String> {
    request
        .uri()
        .query()
        .map(|query| {
            query
                .split('&')
                .filter(|pair| !pair.is_empty())
                .map(|pair| {
                    let (key, value) = pair.split_once('=').unwrap_or((pair, ""));
                    (percent_decode(key), percent_decode(value))
                })
                .collect()
        })
        .unwrap_or_default()
}

fn percent_decode(text: &str) -> String {
    let bytes = text.as_bytes();
    let mut out = Vec::with_capacity(bytes.len());
    let mut index = 0;
    while index < bytes.len() {
        match bytes[index] {
            b'+' => {
                out.push(b' ');
                index += 1;
            }
            b'%' => {
                let hex = text
                    .get(index + 1..index + 3)
                    .and_then(|h| u8::from_str_radix(h, 16).ok());
                match hex {
                    Some(byte) => {
                        out.push(byte);
                        index += 3;
                    }
                    None => {
                        out.push(b'%');
                        index += 1;
                    }
                }
            }
            byte => {
                out.push(byte);
                index += 1;
            }
        }
    }
    String::from_utf8_lossy(&out).into_owned()
}

#[cfg(test)]
mod tests {
    use super::*;

    fn resource(path: &str) -> Target {
        match parse_path(&Catalogue::default(), path) {
            Ok(Route::Resource(target)) => *target,
            _ => panic!("{path} is not a resource path"),
        }
    }

    #[test]
    fn resource_paths_are_parsed_like_kube_apiserver() {
        let t = resource("/api/v1/namespaces/default/pods/web/status");
        assert_eq!(
            (
                t.info.resource.as_str(),
                t.namespace.as_deref(),
                t.name.as_deref(),
                t.subresource.as_deref()
            ),
            ("pods", Some("default"), Some("web"), Some("status"))
        );
        let t = resource("/api/v1/namespaces/team-a");
        assert_eq!(
            (t.info.resource.as_str(), t.name.as_deref()),
            ("namespaces", Some("team-a"))
        );
        let t = resource("/api/v1/namespaces/team-a/status");
        assert_eq!(
            (
                t.info.resource.as_str(),
                t.name.as_deref(),
                t.subresource.as_deref()
            ),
            ("namespaces", Some("team-a"), Some("status"))
        );
        let t = resource("/apis/apps/v1/deployments");
        assert_eq!((t.info.kind.as_str(), t.namespace), ("Deployment", None));
        let t = resource("/apis/apps/v1/namespaces/x/deployments/web/scale");
        assert_eq!(t.subresource.as_deref(), Some("scale"));
        assert!(parse_path(&Catalogue::default(), "/apis/apps/v1/widgets").is_err());
        assert!(
            parse_path(&Catalogue::default(), "/apis/apps/v1/deployments/web").is_err(),
            "namespaced kinds need a namespace to name an object"
        );
    }

    #[test]
    fn query_values_are_percent_decoded() {
        assert_eq!(
            percent_decode("app%3Dweb%2Ctier+in+%28a%29"),
            "app=web,tier in (a)"
        );
        assert_eq!(percent_decode("100%"), "100%");
        assert_eq!(percent_decode("%zz"), "%zz");
    }
}
