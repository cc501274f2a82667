//! The portal pages' HTML: one layout and the pages in it. Every dynamic value goes through
//! [`escape`]; the pages hold no inline script or style (the CSP forbids them).

use std::fmt::Write as _;

use axum::http::header::{CACHE_CONTROL, CONTENT_TYPE};
use axum::http::{HeaderValue, StatusCode};
use axum::response::{IntoResponse, Response};
use qrcode::render::svg;
use qrcode::types::QrError;
use qrcode::QrCode;

use super::{CSS_PATH, JS_PATH, SIGN_IN_PATH};

/// `text` with the characters that mean something in HTML text and attribute values
/// (`& < > " '`) replaced by character references.
pub(crate) fn escape(text: &str) -> String {
    let mut out = String::with_capacity(text.len());
    for c in text.chars() {
        match c {
            '&' => out.push_str("&amp;"),
            '<' => out.push_str("&lt;"),
            '>' => out.push_str("&gt;"),
            '"' => out.push_str("&quot;"),
            '\'' => out.push_str("&#39;"),
            _ => out.push(c),
        }
    }
    out
}

/// A page reply: `status`, the HTML, `Content-Type: text/html` and `Cache-Control: no-store`
/// (pages carry CSRF tokens and codes).
pub(crate) fn page_response(status: StatusCode, html: &str) -> Response {
    (
        status,
        [
            (
                CONTENT_TYPE,
                HeaderValue::from_static("text/html; charset=utf-8"),
            ),
            (CACHE_CONTROL, HeaderValue::from_static("no-store")),
        ],
        html.to_string(),
    )
        .into_response()
}

/// A whole document titled `title` (escaped) around `main`, HTML made by this module.
fn document(title: &str, main: &str) -> String {
    format!(
        r#"<!DOCTYPE html>
<html lang="en">
<head>
<meta charset="utf-8">
<meta name="viewport" content="width=device-width, initial-scale=1">
<title>{title} · ibkey portal</title>
<link rel="stylesheet" href="{CSS_PATH}">
<script src="{JS_PATH}" defer></script>
</head>
<body>
<header><p class="brand">ibkey portal</p></header>
<main>
{main}
</main>
</body>
</html>
"#,
        title = escape(title),
    )
}

/// A page with only a heading and a message (errors), with a link to the sign-in page.
pub(crate) fn message_page(heading: &str, message: &str) -> String {
    document(
        heading,
        &format!(
            r#"<h1>{heading}</h1>
<p id="page-message" role="alert">{message}</p>
<p><a href="{SIGN_IN_PATH}">Go to the sign-in page</a></p>"#,
            heading = escape(heading),
            message = escape(message),
        ),
    )
}

/// The sign-in page: the user name typed before (if any), the form's CSRF token, and the
/// error of the last attempt (if any).
pub(crate) fn sign_in_page(username: &str, csrf: &str, error: Option<&str>) -> String {
    let error = error.map_or(String::new(), |message| {
        format!(
            "<p id=\"form-error\" role=\"alert\">{}</p>\n",
            escape(message)
        )
    });
    document(
        "Sign in",
        &format!(
            r#"<h1>Sign in to the portal</h1>
<p>Sign in with your user name and the portal password to activate IB Key on your phone.</p>
{error}<form id="sign-in" method="post" action="{SIGN_IN_PATH}">
<input type="hidden" name="csrf" value="{csrf}">
<div class="field">
<label for="username">User name</label>
<input id="username" name="username" autocomplete="username" autocapitalize="none" spellcheck="false" value="{username}">
</div>
<div class="field">
<label for="password">Password</label>
<input id="password" name="password" type="password" autocomplete="current-password">
</div>
<button type="submit">Sign in</button>
</form>"#,
            csrf = escape(csrf),
            username = escape(username),
        ),
    )
}

/// What the activation page shows.
#[derive(Debug, Clone)]
pub(crate) struct ActivationView<'a> {
    /// The signed-in user.
    pub user: &'a str,
    /// The ticket's QR image as a `data:` URL (see [`qr_data_url`]).
    pub qr_url: &'a str,
    /// The session ID, grouped.
    pub session_id: &'a str,
    /// Seconds until the ticket expires.
    pub seconds_left: i64,
    /// The URL of the page's status events.
    pub events_url: &'a str,
    /// The status state word (`data-state`).
    pub state: &'a str,
    /// The status message.
    pub status: &'a str,
    /// The message shown when the countdown runs out.
    pub expired_status: &'a str,
    /// The CSRF token of the "get a fresh code" form.
    pub csrf: &'a str,
}

/// The activation page.
pub(crate) fn activation_page(view: &ActivationView<'_>) -> String {
    document(
        "Activate IB Key",
        &format!(
            r#"<h1>Activate IB Key</h1>
<p>Signed in as <strong>{user}</strong>. Open IB Key on your phone, choose to activate, and scan this QR code. If the camera cannot read it, type the session ID under it instead.</p>
<img id="activation-qr" alt="QR code to scan with IB Key" src="{qr_url}" width="320" height="320">
<p class="label">Session ID</p>
<p id="session-id">{session_id}</p>
<p>This code expires in <span id="countdown" data-seconds-left="{seconds_left}">{countdown}</span>.</p>
{status}
<form id="fresh-code" method="post" action="/portal/activate/fresh">
<input type="hidden" name="csrf" value="{csrf}">
<button type="submit">Get a fresh code</button>
</form>"#,
            user = escape(view.user),
            qr_url = escape(view.qr_url),
            session_id = escape(view.session_id),
            seconds_left = view.seconds_left.max(0),
            countdown = countdown(view.seconds_left),
            status = status_paragraph(view),
            csrf = escape(view.csrf),
        ),
    )
}

/// The activation page's status paragraph: its state word, where its updates come from, and
/// what to show when the countdown runs out.
fn status_paragraph(view: &ActivationView<'_>) -> String {
    format!(
        r#"<p id="activation-status" role="status" aria-live="polite" data-state="{state}" data-events="{events}" data-expired-text="{expired}">{status}</p>"#,
        state = escape(view.state),
        events = escape(view.events_url),
        expired = escape(view.expired_status),
        status = escape(view.status),
    )
}

/// `seconds` (clamped at 0) as the countdown shows it: `M:SS`.
fn countdown(seconds: i64) -> String {
    let seconds = seconds.max(0);
    format!("{}:{:02}", seconds / 60, seconds % 60)
}

/// `payload` as a QR code image: an SVG `data:` URL, black modules on white with the quiet
/// zone, crisp edges.
pub(crate) fn qr_data_url(payload: &str) -> Result<String, QrError> {
    let code = QrCode::new(payload.as_bytes())?;
    let image = code
        .render::<svg::Color<'_>>()
        .dark_color(svg::Color("#000000"))
        .light_color(svg::Color("#ffffff"))
        .quiet_zone(true)
        .build();
    let mut url = String::from("data:image/svg+xml,");
    for byte in image.bytes() {
        if byte.is_ascii_alphanumeric() || matches!(byte, b'-' | b'.' | b'_' | b'~') {
            url.push(char::from(byte));
        } else {
            // Writing to a String cannot fail.
            let _ = write!(url, "%{byte:02X}");
        }
    }
    Ok(url)
}

#[cfg(test)]
mod tests {
    use super::*;

    fn view<'a>(status: &'a str, user: &'a str) -> ActivationView<'a> {
        ActivationView {
            user,
            qr_url: "data:image/svg+xml,x",
            session_id: "K7QP-3MZX-9TWD",
            seconds_left: 299,
            events_url: "/portal/activate/events?session=9TWD",
            state: "activated",
            status,
            expired_status: "This code expired. Get a fresh code.",
            csrf: "t\"oken",
        }
    }

    #[test]
    fn dynamic_values_are_escaped() {
        let page = activation_page(&view("Activated on <script>alert(1)</script>.", "a&b"));
        assert!(page.contains("Activated on &lt;script&gt;alert(1)&lt;/script&gt;."));
        assert!(!page.contains("<script>alert"));
        assert!(page.contains("Signed in as <strong>a&amp;b</strong>"));
        assert!(page.contains(r#"value="t&quot;oken""#));
        assert!(page.contains(r#"<span id="countdown" data-seconds-left="299">4:59</span>"#));
        let sign_in = sign_in_page("\"><img src=x>", "c", Some("<b>wrong</b>"));
        assert!(sign_in.contains(r#"value="&quot;&gt;&lt;img src=x&gt;""#));
        assert!(sign_in.contains("&lt;b&gt;wrong&lt;/b&gt;"));
        assert_eq!(escape("'&'"), "&#39;&amp;&#39;");
    }

    #[test]
    fn the_qr_code_is_an_svg_data_url_without_raw_markup() {
        let url = qr_data_url("hello").expect("renders");
        assert!(url.starts_with("data:image/svg+xml,%3C"));
        assert!(!url.contains(['<', '>', '"', '#', ' ']));
        assert_eq!(countdown(-5), "0:00");
        assert_eq!(countdown(600), "10:00");
    }
}
