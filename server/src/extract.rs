//! Request plumbing the handlers share: the JSON body extractor whose rejections are
//! [`ApiError`]s, the client's IP address, and the bearer token of the `Authorization` header.

use std::net::{IpAddr, SocketAddr};

use axum::extract::rejection::JsonRejection;
use axum::extract::{ConnectInfo, FromRequest, FromRequestParts, Request};
use axum::http::request::Parts;
use axum::http::{header, HeaderMap, StatusCode};
use axum::Json;
use ibkey_protocol::activation::codes;
use serde::de::DeserializeOwned;

use crate::error::ApiError;

/// Largest request body accepted, bytes (diagnostics chunks excepted).
pub const MAX_BODY_BYTES: usize = 64 * 1024;

/// A JSON body whose rejection is an [`ApiError`] (`bad_request`) instead of axum's plain text.
pub(crate) struct ApiJson<T>(pub T);

impl<S, T> FromRequest<S> for ApiJson<T>
where
    S: Send + Sync,
    T: DeserializeOwned + Send,
{
    type Rejection = ApiError;

    async fn from_request(req: Request, state: &S) -> Result<Self, Self::Rejection> {
        match Json::<T>::from_request(req, state).await {
            Ok(Json(value)) => Ok(Self(value)),
            Err(rejection) => Err(json_rejection(&rejection)),
        }
    }
}

/// Maps axum's JSON body rejection (wrong JSON, missing field, wrong content type, body too
/// large) to `bad_request`.
fn json_rejection(rejection: &JsonRejection) -> ApiError {
    if rejection.status() == StatusCode::PAYLOAD_TOO_LARGE {
        return ApiError::new(
            StatusCode::PAYLOAD_TOO_LARGE,
            codes::BAD_REQUEST,
            format!(
                "The request body is larger than {} KiB; this server refuses it.",
                MAX_BODY_BYTES / 1024
            ),
        );
    }
    ApiError::bad_request(format!(
        "The request body is not the JSON this endpoint expects ({}). Send Content-Type: application/json with every field filled in.",
        rejection.body_text()
    ))
}

/// The IP address of the TCP peer (the client, or the reverse proxy in front of the server).
pub(crate) struct ClientIp(pub IpAddr);

impl<S: Send + Sync> FromRequestParts<S> for ClientIp {
    type Rejection = <ConnectInfo<SocketAddr> as FromRequestParts<S>>::Rejection;

    async fn from_request_parts(parts: &mut Parts, state: &S) -> Result<Self, Self::Rejection> {
        let ConnectInfo(peer) = ConnectInfo::<SocketAddr>::from_request_parts(parts, state).await?;
        Ok(Self(peer.ip()))
    }
}

/// The token of an `Authorization: Bearer <token>` header (scheme in any case), trimmed;
/// `None` without such a header. The token may be empty.
pub(crate) fn bearer_token(headers: &HeaderMap) -> Option<&str> {
    headers
        .get(header::AUTHORIZATION)
        .and_then(|v| v.to_str().ok())
        .and_then(|v| v.split_once(' '))
        .filter(|(scheme, _)| scheme.eq_ignore_ascii_case("bearer"))
        .map(|(_, token)| token.trim())
}
