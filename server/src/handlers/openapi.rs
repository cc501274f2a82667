//! The device API as an OpenAPI 3.1 document, built from the handlers' `#[utoipa::path]`
//! attributes and the wire types of `ibkey_protocol` (its `openapi` feature), so the
//! document cannot drift from the code. Served at `GET /openapi.json`; the same text is
//! committed as `docs/openapi.json` and a server test fails when the two differ.

use axum::http::header;
use axum::response::IntoResponse;
use utoipa::openapi::schema::{ObjectBuilder, Type};
use utoipa::openapi::security::{HttpAuthScheme, HttpBuilder, SecurityScheme};
use utoipa::openapi::RefOr;
use utoipa::OpenApi;

use crate::error::ApiError;
use crate::handlers::{
    activation, challenges, diagnostics, doctor, login, move_device, offline, portal, recovery,
};

/// The document's description: what every operation shares.
const DESCRIPTION: &str = "The device API of the ibkey reference server: activation, login \
approval with number matching, offline challenge/response and time-based codes, moving to a \
new phone, recovery, the notification doctor and diagnostics uploads. PROTOCOL.md (repository \
root) explains the signed tokens, the device request signatures, the counters and the test \
vectors.\n\nEvery error reply is an `ErrorResponse` whose `error.code` is one of the stable \
codes listed under each response and whose `error.message` says, in English, what happened \
and what to do. A request for a path the server does not have is 404 `bad_request`. Any \
operation may also answer 500 `internal` when the server itself fails (a bug or a broken \
database); it then changed nothing.\n\nAuthentication: portal endpoints take the portal \
token of `POST /v1/portal/sign-in` (`portal_token`); the login page's endpoints take the \
login secret of `POST /v1/logins` (`login_secret`); support endpoints take the support \
token of the server's installation (`support_token`). Device endpoints carry no header: \
their body is signed by the credential's device key (ECDSA P-256), as each operation says.";

/// The OpenAPI document of the `/v1` routes (the portal's HTML pages are not part of it).
#[derive(OpenApi)]
#[openapi(
    info(
        title = "ibkey device API",
        description = DESCRIPTION,
        license(name = "Apache-2.0", identifier = "Apache-2.0"),
    ),
    paths(
        activation::server_key,
        portal::sign_in,
        portal::issue_ticket,
        portal::list_devices,
        portal::remove_device,
        portal::activity,
        portal::fraud_reports,
        move_device::start,
        move_device::confirm,
        doctor::push_approvals,
        recovery::begin,
        recovery::complete,
        doctor::status,
        doctor::test_push,
        activation::lookup,
        activation::complete,
        activation::already_enrolled,
        activation::revoke,
        challenges::push_token,
        login::start,
        login::status,
        login::qr,
        offline::challenge,
        offline::response_typed,
        offline::code,
        challenges::pending,
        challenges::decide,
        diagnostics::status,
        diagnostics::put_chunk,
        diagnostics::complete,
        diagnostics::support_list,
        diagnostics::support_fetch,
    ),
    modifiers(&BearerSchemes, &RawBodies),
    tags(
        (name = "activation", description = "Activating a device: session-ID lookup, enrollment, already-enrolled reports."),
        (name = "portal", description = "The web portal's API for a signed-in user."),
        (name = "devices", description = "A device managing its own credential (signed requests)."),
        (name = "approval", description = "Login approval: pulling challenges, signed decisions."),
        (name = "login", description = "The login page: starting a login, its status and QR code."),
        (name = "offline", description = "Offline challenge/response and time-based codes."),
        (name = "lifecycle", description = "Moving to a new phone and recovering after a reinstall."),
        (name = "diagnostics", description = "Chunked upload of diagnostics bundles."),
        (name = "support", description = "Support reading the bundles users sent."),
    )
)]
pub(crate) struct ApiDoc;

/// Adds the three bearer-token security schemes the operations name.
struct BearerSchemes;

impl utoipa::Modify for BearerSchemes {
    fn modify(&self, openapi: &mut utoipa::openapi::OpenApi) {
        let components = openapi.components.get_or_insert_with(Default::default);
        for (name, what) in [
            ("portal_token", "The `portal_token` of `POST /v1/portal/sign-in` (or of an approved login), 15 minutes."),
            ("login_secret", "The `login_secret` of `POST /v1/logins`, held only by the login page."),
            ("support_token", "The support token of the server's installation (`support-token` in its data directory)."),
        ] {
            components.add_security_scheme(
                name,
                SecurityScheme::Http(
                    HttpBuilder::new()
                        .scheme(HttpAuthScheme::Bearer)
                        .description(Some(what))
                        .build(),
                ),
            );
        }
    }
}

/// Describes the raw byte bodies (a diagnostics chunk, a bundle download) as binary strings
/// of their media type instead of the arrays of numbers `Vec<u8>` would give.
struct RawBodies;

impl utoipa::Modify for RawBodies {
    fn modify(&self, openapi: &mut utoipa::openapi::OpenApi) {
        let binary = |media_type: &str| {
            ObjectBuilder::new()
                .schema_type(Type::String)
                .content_media_type(media_type)
                .build()
        };
        for item in openapi.paths.paths.values_mut() {
            let operations = [&mut item.put, &mut item.get];
            for operation in operations.into_iter().flatten() {
                let bodies = operation
                    .request_body
                    .iter_mut()
                    .flat_map(|body| body.content.iter_mut())
                    .chain(
                        operation
                            .responses
                            .responses
                            .values_mut()
                            .filter_map(|reply| match reply {
                                RefOr::T(reply) => Some(reply.content.iter_mut()),
                                RefOr::Ref(_) => None,
                            })
                            .flatten(),
                    );
                for (media_type, content) in bodies {
                    if media_type != "application/json" {
                        content.schema = Some(binary(media_type).into());
                    }
                }
            }
        }
    }
}

/// The OpenAPI 3.1 document of the device API as pretty-printed JSON with a final newline:
/// what `GET /openapi.json` serves and `docs/openapi.json` holds.
pub fn openapi_json() -> Result<String, serde_json::Error> {
    let mut text = ApiDoc::openapi().to_pretty_json()?;
    text.push('\n');
    Ok(text)
}

/// `GET /openapi.json`.
pub(crate) async fn serve() -> Result<impl IntoResponse, ApiError> {
    let text = openapi_json().map_err(|error| ApiError::internal("OpenAPI document", &error))?;
    Ok(([(header::CONTENT_TYPE, "application/json")], text))
}
