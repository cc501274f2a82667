//! Request plumbing the handlers share: the JSON body and path extractors whose rejections
//! are [`ApiError`]s, the client's IP address, and the bearer token of the `Authorization` header.

use std::net::{IpAddr, SocketAddr};

use axum::extract::rejection::{JsonRejection, PathRejection};
use axum::extract::{ConnectInfo, FromRequest, FromRequestParts, Path, Request};
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

/// The path parameters of a route, whose rejection (a segment that is not valid UTF-8 after
/// percent-decoding, a chunk number that is not a `u32`) is a JSON `bad_request` like every
/// other refusal, instead of axum's plain-text reply.
pub(crate) struct ApiPath<T>(pub T);

impl<S, T> FromRequestParts<S> for ApiPath<T>
where
    S: Send + Sync,
    T: DeserializeOwned + Send,
{
    type Rejection = ApiError;

    async fn from_request_parts(parts: &mut Parts, state: &S) -> Result<Self, Self::Rejection> {
        match Path::<T>::from_request_parts(parts, state).await {
            Ok(Path(value)) => Ok(Self(value)),
            Err(rejection) => Err(path_rejection(&rejection)),
        }
    }
}

/// What to tell a client whose URL's path parameters cannot be read.
fn path_rejection(rejection: &PathRejection) -> ApiError {
    ApiError::bad_request(format!(
        "The URL's path is not one this endpoint accepts ({}). Check the id or number in it.",
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
