//! The published OpenAPI document: the committed `docs/openapi.json` is what the code
//! generates, a live server serves the same text at `GET /openapi.json`, every `/v1` route of
//! the router is documented with the method it answers, and every documented operation
//! reaches a handler on the live server (not the "no such endpoint" fallback).

// Tests may `expect`: a failed expectation is a failed test.
#![allow(clippy::expect_used)]

mod support;

use std::collections::BTreeSet;
use std::path::PathBuf;

use reqwest::{Method, StatusCode};
use serde_json::Value;
use support::harness;

/// The committed document.
fn committed_path() -> PathBuf {
    PathBuf::from(env!("CARGO_MANIFEST_DIR")).join("../docs/openapi.json")
}

/// What the code generates.
fn generated() -> String {
    ibkey_server::openapi_json().expect("the OpenAPI document serializes")
}

/// The documented operations, as `METHOD /path` pairs.
fn documented_operations(document: &Value) -> BTreeSet<String> {
    let paths = document["paths"].as_object().expect("paths is an object");
    let mut operations = BTreeSet::new();
    for (path, item) in paths {
        for method in item.as_object().expect("a path item is an object").keys() {
            operations.insert(format!("{} {path}", method.to_uppercase()));
        }
    }
    operations
}

#[test]
fn the_committed_document_is_what_the_code_generates() {
    let generated = generated();
    let path = committed_path();
    if std::env::var_os("UPDATE_OPENAPI").is_some() {
        std::fs::write(&path, &generated).expect("write docs/openapi.json");
        return;
    }
    let committed = std::fs::read_to_string(&path).unwrap_or_default();
    assert!(
        committed == generated,
        "docs/openapi.json differs from the API the server's code describes (a handler, its \
         #[utoipa::path] or a wire type changed). Regenerate it with \
         `UPDATE_OPENAPI=1 cargo test -p ibkey-server --test openapi`, review the diff and commit it."
    );
}

#[test]
fn the_document_is_openapi_3_1_and_lists_every_v1_route_of_the_router() {
    let document: Value = serde_json::from_str(&generated()).expect("the document is JSON");
    assert_eq!(document["openapi"], "3.1.0");

    // The router's own `/v1` routes, read from its source: `.route("<path>", <method>(…)`.
    let router = std::fs::read_to_string(
        PathBuf::from(env!("CARGO_MANIFEST_DIR")).join("src/handlers/mod.rs"),
    )
    .expect("read the router");
    let flat: String = router.split_whitespace().collect();
    let mut routed = BTreeSet::new();
    for piece in flat.split(".route(\"").skip(1) {
        let (path, rest) = piece
            .split_once('"')
            .expect("a route's path ends with a quote");
        let method = rest
            .trim_start_matches(',')
            .split('(')
            .next()
            .expect("a route names its method");
        if path.starts_with("/v1/") {
            routed.insert(format!("{} {path}", method.to_uppercase()));
        }
    }
    assert_eq!(routed.len(), 32, "the router's /v1 routes: {routed:?}");
    assert_eq!(documented_operations(&document), routed);

    // Every operation documents its error replies with the error body, and the error body
    // carries the code and message a client shows.
    let error = &document["components"]["schemas"]["ErrorBody"];
    assert_eq!(error["required"], serde_json::json!(["code", "message"]));
    for (path, item) in document["paths"].as_object().expect("paths") {
        for (method, operation) in item.as_object().expect("path item") {
            let responses = operation["responses"].as_object().expect("responses");
            assert!(
                responses.keys().any(|status| status.starts_with('2')),
                "{method} {path} documents no success reply"
            );
        }
    }
}

#[tokio::test]
async fn a_live_server_serves_the_document_and_routes_every_documented_operation() {
    let h = harness().await;
    let served = h
        .http
        .get(h.url("/openapi.json"))
        .send()
        .await
        .expect("GET /openapi.json");
    assert_eq!(served.status(), StatusCode::OK);
    assert_eq!(
        served
            .headers()
            .get(reqwest::header::CONTENT_TYPE)
            .and_then(|v| v.to_str().ok()),
        Some("application/json")
    );
    assert_eq!(served.text().await.expect("body"), generated());

    // Each documented operation, called with empty input, is answered by its handler: a
    // documented status, never the fallback's "No such endpoint".
    let document: Value = serde_json::from_str(&generated()).expect("the document is JSON");
    for operation in documented_operations(&document) {
        let (method, path) = operation.split_once(' ').expect("METHOD /path");
        let concrete = path
            .replace("{bundle_id}", "01HZX3K7QP3MZX9TWD00000000")
            .replace("{n}", "0")
            .replace(['{', '}'], "");
        let method = Method::from_bytes(method.as_bytes()).expect("an HTTP method");
        let reply = h
            .http
            .request(method, h.url(&concrete))
            .header(reqwest::header::CONTENT_TYPE, "application/json")
            .body("{}")
            .send()
            .await
            .expect("request");
        let status = reply.status();
        let body = reply.text().await.expect("body");
        assert!(
            !body.contains("No such endpoint"),
            "{operation} is documented but the server has no such route"
        );
        let documented = &document["paths"][path]
            [operation.split(' ').next().expect("method").to_lowercase()]["responses"];
        assert!(
            documented.get(status.as_str()).is_some(),
            "{operation} answered {status}, which its documentation does not list: {body}"
        );
    }
}
