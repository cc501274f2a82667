//! The portal pages' HTML: one layout and the pages in it. Every dynamic value goes through
//! [`escape`]; the pages hold no inline script or style (the CSP forbids them).

use std::fmt::Write as _;

use axum::http::header::{CACHE_CONTROL, CONTENT_TYPE, RETRY_AFTER};
use axum::http::{HeaderValue, StatusCode};
use axum::response::{IntoResponse, Response};
use qrcode::render::svg;
use qrcode::types::QrError;
use qrcode::QrCode;

use super::{
    ACCOUNT_PATH, ACTIVATE_FRESH_PATH, ACTIVATE_PATH, CSS_PATH, JS_PATH, LOGIN_DONE_PATH,
    LOGIN_EVENTS_PATH, LOGIN_OFFLINE_PATH, LOGIN_PATH, LOGIN_QR_PATH, LOGIN_WAIT_PATH,
    MOVE_CODE_PATH, MOVE_CONFIRM_PATH, MOVE_PATH, SIGN_IN_PATH,
};
use crate::error::ApiError;

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

/// A form page shown again after `refusal`: the refusal's status, and its `Retry-After`
/// when it has one.
pub(crate) fn refused_form(refusal: &ApiError, html: &str) -> Response {
    let mut response = page_response(refusal.status, html);
    if let Some(seconds) = refusal.retry_after {
        response
            .headers_mut()
            .insert(RETRY_AFTER, HeaderValue::from(seconds));
    }
    response
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

/// A page with a user name and password form: the sign-in page ([`SIGN_IN_PAGE`]) or the
/// login page ([`LOGIN_PAGE`]).
#[derive(Debug)]
pub(crate) struct PasswordPage {
    /// The page's title.
    pub title: &'static str,
    /// Its heading.
    pub heading: &'static str,
    /// The sentence under the heading.
    pub intro: &'static str,
    /// The form's id.
    pub id: &'static str,
    /// Where the form posts.
    pub action: &'static str,
    /// The submit button's text.
    pub button: &'static str,
}

/// The portal's sign-in page.
pub(crate) const SIGN_IN_PAGE: PasswordPage = PasswordPage {
    title: "Sign in",
    heading: "Sign in to the portal",
    intro: "Sign in with your user name and the portal password to activate IB Key on your phone.",
    id: "sign-in",
    action: SIGN_IN_PATH,
    button: "Sign in",
};

/// The login page's first step.
pub(crate) const LOGIN_PAGE: PasswordPage = PasswordPage {
    title: "Log in",
    heading: "Log in to the Client Portal",
    intro:
        "Log in with your user name and password, then approve the login with IB Key on your phone.",
    id: "login",
    action: LOGIN_PATH,
    button: "Log in",
};

/// The password form page `page`: the user name typed before (if any), the form's CSRF
/// token, and the error of the last attempt (if any).
pub(crate) fn password_page(
    page: &PasswordPage,
    username: &str,
    csrf: &str,
    error: Option<&str>,
) -> String {
    document(
        page.title,
        &format!(
            r#"<h1>{heading}</h1>
<p>{intro}</p>
{error}<form id="{id}" method="post" action="{action}">
<input type="hidden" name="csrf" value="{csrf}">
<div class="field">
<label for="username">User name</label>
<input id="username" name="username" autocomplete="username" autocapitalize="none" spellcheck="false" value="{username}">
</div>
<div class="field">
<label for="password">Password</label>
<input id="password" name="password" type="password" autocomplete="current-password">
</div>
<button type="submit">{button}</button>
</form>"#,
            heading = page.heading,
            intro = page.intro,
            error = form_error(error),
            id = page.id,
            action = page.action,
            button = page.button,
            csrf = escape(csrf),
            username = escape(username),
        ),
    )
}

/// The `#form-error` alert of a form shown again, or nothing.
fn form_error(error: Option<&str>) -> String {
    error.map_or(String::new(), |message| {
        format!(
            "<p id=\"form-error\" role=\"alert\">{}</p>\n",
            escape(message)
        )
    })
}

/// The login status as a login page shows it: its state word and message.
#[derive(Debug, Clone, Copy)]
pub(crate) struct LoginStatusView<'a> {
    /// The state word (`data-state`).
    pub state: &'a str,
    /// The status message.
    pub message: &'a str,
}

/// The `#login-status` paragraph: its state word and where its updates come from.
fn login_status_paragraph(status: LoginStatusView<'_>) -> String {
    format!(
        r#"<p id="login-status" role="status" aria-live="polite" data-state="{state}" data-events="{LOGIN_EVENTS_PATH}" data-done="{LOGIN_DONE_PATH}">{message}</p>"#,
        state = escape(status.state),
        message = escape(status.message),
    )
}

/// The login page's waiting step: the number to match, the mute notice while the user's
/// pushes are paused, the status, and the other ways to log in.
pub(crate) fn login_wait_page(
    number: u8,
    paused: Option<&str>,
    status: LoginStatusView<'_>,
) -> String {
    let paused = paused.map_or(String::new(), |notice| {
        format!(
            "<p id=\"login-paused\">{} Log in with the QR code instead.</p>\n",
            escape(notice)
        )
    });
    document(
        "Approve the login",
        &format!(
            r#"<h1>Approve the login on your phone</h1>
<p>Open IB Key on your phone and pick this number:</p>
<p id="login-number">{number}</p>
{paused}{status}
<ul class="other-ways">
<li><a id="use-qr" href="{LOGIN_QR_PATH}">Log in with QR code</a></li>
<li><a id="use-code" href="{LOGIN_OFFLINE_PATH}">Use a code from the app</a></li>
</ul>"#,
            status = login_status_paragraph(status),
        ),
    )
}

/// The login page's QR code step: the login's QR code (a `data:` URL) and the status.
pub(crate) fn login_qr_page(qr_url: &str, status: LoginStatusView<'_>) -> String {
    document(
        "Log in with QR code",
        &format!(
            r#"<h1>Log in with QR code</h1>
<p>Open IB Key on your phone, choose to scan, and scan this QR code.</p>
<img id="login-qr" alt="QR code to scan with IB Key" src="{qr_url}" width="320" height="320">
{status}
<p><a href="{LOGIN_WAIT_PATH}">Back to the number to match</a></p>"#,
            qr_url = escape(qr_url),
            status = login_status_paragraph(status),
        ),
    )
}

/// The login page's challenge/response step: the challenge, the response form with its CSRF
/// token, the error of the last attempt (if any), and the status.
pub(crate) fn login_offline_page(
    challenge: &str,
    csrf: &str,
    error: Option<&str>,
    status: LoginStatusView<'_>,
) -> String {
    document(
        "Use a code from the app",
        &format!(
            r#"<h1>Use a code from the app</h1>
<p>In IB Key on your phone, choose challenge/response and type this challenge:</p>
<p id="offline-challenge">{challenge}</p>
<p>Then type the response the app shows.</p>
{error}<form id="offline-response" method="post" action="{LOGIN_OFFLINE_PATH}">
<input type="hidden" name="csrf" value="{csrf}">
<div class="field">
<label for="response">Response from the app</label>
<input id="response" name="response" inputmode="numeric" autocomplete="one-time-code">
</div>
<button type="submit">Log in</button>
</form>
{status}
<p><a href="{LOGIN_WAIT_PATH}">Back to the number to match</a></p>"#,
            challenge = escape(challenge),
            csrf = escape(csrf),
            error = form_error(error),
            status = login_status_paragraph(status),
        ),
    )
}

/// The page of an approved login.
pub(crate) fn login_done_page(user: &str) -> String {
    document(
        "Logged in",
        &format!(
            r#"<h1>Logged in</h1>
<p id="logged-in">You are logged in as {user}.</p>
{nav}"#,
            nav = portal_nav(),
            user = escape(user),
        ),
    )
}

/// A table of the account page: its id, caption, column headings, rows (cells of HTML made
/// by this module, every dynamic value escaped) and what it says when it has no rows.
pub(crate) struct Table<'a> {
    /// The table's id.
    pub id: &'a str,
    /// Its caption.
    pub caption: &'a str,
    /// The column headings.
    pub columns: &'a [&'a str],
    /// The rows' cells, as HTML.
    pub rows: Vec<Vec<String>>,
    /// The sentence shown without rows.
    pub empty: &'a str,
}

/// `table` as HTML.
fn table_html(table: &Table<'_>) -> String {
    let head: String = table
        .columns
        .iter()
        .map(|column| format!("<th scope=\"col\">{}</th>", escape(column)))
        .collect();
    let body: String = if table.rows.is_empty() {
        format!(
            "<tr><td colspan=\"{}\">{}</td></tr>\n",
            table.columns.len(),
            escape(table.empty)
        )
    } else {
        table
            .rows
            .iter()
            .map(|cells| format!("<tr><td>{}</td></tr>\n", cells.join("</td><td>")))
            .collect()
    };
    format!(
        "<div class=\"table-scroll\" tabindex=\"0\" role=\"region\" aria-label=\"{caption}\">\n<table id=\"{id}\">\n<caption>{caption}</caption>\n<thead><tr>{head}</tr></thead>\n<tbody>\n{body}</tbody>\n</table>\n</div>",
        id = escape(table.id),
        caption = escape(table.caption),
    )
}

/// A device's "Revoke" button: a form posting to the device's revoke path with the CSRF
/// token.
pub(crate) fn revoke_form(credential_id: &str, csrf: &str) -> String {
    format!(
        r#"<form method="post" action="/portal/account/devices/{id}/revoke"><input type="hidden" name="csrf" value="{csrf}"><button type="submit">Revoke</button></form>"#,
        id = escape(credential_id),
        csrf = escape(csrf),
    )
}

/// The login notifications switch of the account page: whether they are on, and a form
/// (with the CSRF token) posting the other setting to `/portal/account/push-approvals`.
pub(crate) fn push_approvals_form(enabled: bool, csrf: &str) -> String {
    let (state, explanation, other, button) = if enabled {
        (
            "on",
            "each login notifies your phones to approve it.",
            "false",
            "Turn login notifications off",
        )
    } else {
        (
            "off",
            "no phone is notified; open IB Key to see a login waiting for approval.",
            "true",
            "Turn login notifications on",
        )
    };
    format!(
        r#"<section id="notifications" aria-labelledby="notifications-heading">
<h2 id="notifications-heading">Login notifications</h2>
<p>Login notifications are <strong>{state}</strong>: {explanation}</p>
<form method="post" action="/portal/account/push-approvals"><input type="hidden" name="csrf" value="{csrf}"><input type="hidden" name="enabled" value="{other}"><button type="submit">{button}</button></form>
</section>"#,
        csrf = escape(csrf),
    )
}

/// The account page of `user`: the login notifications switch (`notifications`, HTML from
/// [`push_approvals_form`]), its devices, recent logins and fraud reports; with `can_move`
/// (the user has an active device), the link to move IB Key to a new phone.
pub(crate) fn account_page(
    user: &str,
    notifications: &str,
    tables: &[Table<'_>],
    can_move: bool,
) -> String {
    let tables: Vec<String> = tables.iter().map(table_html).collect();
    let move_link = if can_move {
        format!(
            "<p>Got a new phone? <a id=\"move-link\" href=\"{MOVE_PATH}\">Move IB Key to a new phone</a></p>\n"
        )
    } else {
        String::new()
    };
    document(
        "Your devices",
        &format!(
            r#"{nav}
<h1>Your devices</h1>
<p>Signed in as <strong>{user}</strong>. Revoke a device you no longer use or do not recognise: it can then approve nothing.</p>
{move_link}{notifications}
{tables}"#,
            nav = portal_nav(),
            user = escape(user),
            tables = tables.join("\n"),
        ),
    )
}

/// The navigation of the signed-in portal pages.
fn portal_nav() -> String {
    format!(
        r#"<nav aria-label="Portal">
<ul>
<li><a href="{ACTIVATE_PATH}">Activate a device</a></li>
<li><a href="{ACCOUNT_PATH}">Your devices</a></li>
</ul>
</nav>"#
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
    /// The devices a move ticket replaces (the page then speaks of a move, and its "fresh
    /// code" button sends a new move code); `None` for an activation ticket.
    pub replaces: Option<&'a [String]>,
}

/// The activation page, or with [`ActivationView::replaces`] the move's page that shows the
/// move ticket the same way.
pub(crate) fn activation_page(view: &ActivationView<'_>) -> String {
    let user = escape(view.user);
    let (title, heading, intro, fresh_action, fresh_button) = match view.replaces {
        None => (
            "Activate IB Key",
            "Activate IB Key",
            format!("Signed in as <strong>{user}</strong>. Open IB Key on your phone, choose to activate, and scan this QR code. If the camera cannot read it, type the session ID under it instead."),
            ACTIVATE_FRESH_PATH,
            "Get a fresh code",
        ),
        Some(replaces) => (
            "Move IB Key to a new phone",
            "Scan this with your NEW phone",
            format!(
                "Signed in as <strong>{user}</strong>. Open IB Key on your new phone, choose to activate, and scan this QR code. If the camera cannot read it, type the session ID under it instead. It replaces {devices}: as soon as the new phone is set up, {they} no longer approve{s} your logins.",
                devices = device_names(replaces),
                they = if replaces.len() == 1 { "it" } else { "they" },
                s = if replaces.len() == 1 { "s" } else { "" },
            ),
            MOVE_CODE_PATH,
            "Send me a new code",
        ),
    };
    document(
        title,
        &format!(
            r#"{nav}
<h1>{heading}</h1>
<p id="activation-intro">{intro}</p>
{status}
<div id="activation-code">
<img id="activation-qr" alt="QR code to scan with IB Key" src="{qr_url}" width="320" height="320">
<p class="label">Session ID</p>
<p id="session-id">{session_id}</p>
<p>This code expires in <span id="countdown" data-seconds-left="{seconds_left}">{countdown}</span>.</p>
</div>
<form id="fresh-code" method="post" action="{fresh_action}">
<input type="hidden" name="csrf" value="{csrf}">
<button type="submit">{fresh_button}</button>
</form>"#,
            nav = portal_nav(),
            qr_url = escape(view.qr_url),
            session_id = escape(view.session_id),
            seconds_left = view.seconds_left.max(0),
            countdown = countdown(view.seconds_left),
            status = status_paragraph(view),
            csrf = escape(view.csrf),
        ),
    )
}

/// `names` (escaped) in bold, as a sentence lists them: "<b>a</b>", "<b>a</b> and <b>b</b>",
/// "<b>a</b>, <b>b</b> and <b>c</b>".
fn device_names(names: &[String]) -> String {
    let bold: Vec<String> = names
        .iter()
        .map(|name| format!("<strong>{}</strong>", escape(name)))
        .collect();
    match bold.split_last() {
        None => String::new(),
        Some((last, [])) => last.clone(),
        Some((last, rest)) => format!("{} and {last}", rest.join(", ")),
    }
}

/// The first page of a move for `user`: what moving does, the devices it replaces (`replaces`,
/// at least one), and the "Send me a code" form (with its CSRF token); the error of the last
/// attempt to send one (if any).
pub(crate) fn move_page(
    user: &str,
    replaces: &[String],
    csrf: &str,
    error: Option<&str>,
) -> String {
    let items: Vec<String> = replaces
        .iter()
        .map(|name| format!("<li>{}</li>", escape(name)))
        .collect();
    document(
        "Move IB Key to a new phone",
        &format!(
            r#"{nav}
<h1>Move IB Key to a new phone</h1>
<p>Signed in as <strong>{user}</strong>. Set up IB Key on your new phone from here. Your old phone stops working for IB Key as soon as the new one is set up: it no longer approves your logins.</p>
<h2 id="replaces-heading">The new phone replaces</h2>
<ul id="replaced-devices" aria-labelledby="replaces-heading">
{items}
</ul>
<p>To confirm it is you, we first send a 6-digit code to your e-mail address or phone number (not to IB Key, in case you no longer have your old phone).</p>
{error}<form id="send-code" method="post" action="{MOVE_CODE_PATH}">
<input type="hidden" name="csrf" value="{csrf}">
<button type="submit">Send me a code</button>
</form>"#,
            nav = portal_nav(),
            user = escape(user),
            items = items.join("\n"),
            error = form_error(error),
            csrf = escape(csrf),
        ),
    )
}

/// The move's page for `user` without an active device: nothing to move, activate instead.
pub(crate) fn nothing_to_move_page(user: &str) -> String {
    document(
        "Move IB Key to a new phone",
        &format!(
            r#"{nav}
<h1>Move IB Key to a new phone</h1>
<p id="nothing-to-move">Signed in as <strong>{user}</strong>. There is nothing to move: IB Key is not active on any phone for you.</p>
<p><a href="{ACTIVATE_PATH}">Activate IB Key on your new phone</a> instead.</p>"#,
            nav = portal_nav(),
            user = escape(user),
        ),
    )
}

/// The move's code step: where the code went (`sent_to`, masked), how long codes last
/// (`minutes`), the code form and the "Send a new code" form (with the CSRF token), and the
/// error of the last code typed (if any).
pub(crate) fn move_code_page(
    sent_to: &str,
    minutes: i64,
    csrf: &str,
    error: Option<&str>,
) -> String {
    document(
        "Enter your code",
        &format!(
            r#"{nav}
<h1>Confirm it is you</h1>
<p id="code-sent">We sent a 6-digit code to <strong>{sent_to}</strong>. It works for {minutes} minutes, once.</p>
{error}<form id="move-confirm" method="post" action="{MOVE_CONFIRM_PATH}">
<input type="hidden" name="csrf" value="{csrf}">
<div class="field">
<label for="code">6-digit code</label>
<input id="code" name="code" inputmode="numeric" autocomplete="one-time-code" autocapitalize="none" spellcheck="false" maxlength="12" required>
</div>
<button type="submit">Confirm</button>
</form>
<form id="resend-code" method="post" action="{MOVE_CODE_PATH}">
<input type="hidden" name="csrf" value="{csrf}">
<p>No code arrived, or it no longer works? <button type="submit" class="secondary">Send me a new code</button></p>
</form>"#,
            nav = portal_nav(),
            sent_to = escape(sent_to),
            error = form_error(error),
            csrf = escape(csrf),
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
            replaces: None,
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
        let sign_in = password_page(&SIGN_IN_PAGE, "\"><img src=x>", "c", Some("<b>wrong</b>"));
        assert!(sign_in.contains(r#"value="&quot;&gt;&lt;img src=x&gt;""#));
        assert!(sign_in.contains("&lt;b&gt;wrong&lt;/b&gt;"));
        assert_eq!(escape("'&'"), "&#39;&amp;&#39;");
    }

    #[test]
    fn the_login_and_account_pages_escape_what_they_show() {
        let status = LoginStatusView {
            state: "fraud",
            message: "paused until <b>14:05</b>",
        };
        let wait = login_wait_page(42, Some("for <i>alice</i>"), status);
        assert!(wait.contains(r#"<p id="login-number">42</p>"#));
        assert!(wait.contains("paused until &lt;b&gt;14:05&lt;/b&gt;"));
        assert!(wait.contains("for &lt;i&gt;alice&lt;/i&gt;"));
        assert!(wait.contains(r#"data-state="fraud""#));
        let offline = login_offline_page("<1>", "t\"k", Some("<wrong>"), status);
        assert!(offline.contains(r#"<p id="offline-challenge">&lt;1&gt;</p>"#));
        assert!(offline.contains(r#"value="t&quot;k""#));
        assert!(offline.contains("&lt;wrong&gt;"));
        assert!(login_done_page("<a>").contains("You are logged in as &lt;a&gt;."));
        let table = Table {
            id: "devices",
            caption: "Devices & more",
            columns: &["Device", "Action"],
            rows: vec![vec![escape("<x>"), revoke_form("c\"id", "t")]],
            empty: "None.",
        };
        let account = account_page("<u>", &push_approvals_form(false, "t\"k"), &[table], true);
        assert!(account.contains(r#"<a id="move-link" href="/portal/move">"#));
        assert!(account.contains("Login notifications are <strong>off</strong>"));
        assert!(account.contains(r#"name="enabled" value="true""#));
        assert!(account.contains(r#"name="csrf" value="t&quot;k""#));
        assert!(account.contains("<td>&lt;x&gt;</td>"));
        assert!(account.contains(r#"action="/portal/account/devices/c&quot;id/revoke""#));
        assert!(account.contains("<caption>Devices &amp; more</caption>"));
        assert!(account.contains("Signed in as <strong>&lt;u&gt;</strong>"));
        let empty = Table {
            id: "activity",
            caption: "Recent logins",
            columns: &["When", "Decision"],
            rows: Vec::new(),
            empty: "No <logins>.",
        };
        assert!(table_html(&empty).contains(r#"<td colspan="2">No &lt;logins&gt;.</td>"#));
    }

    #[test]
    fn the_move_pages_name_the_replaced_devices_and_escape_them() {
        let replaces = [
            "<b>old</b>".to_string(),
            "iPad".to_string(),
            "Pixel".to_string(),
        ];
        let scan = activation_page(&ActivationView {
            replaces: Some(&replaces),
            ..view("Waiting for your new phone…", "alice")
        });
        assert!(scan.contains("<h1>Scan this with your NEW phone</h1>"));
        assert!(scan.contains(
            "It replaces <strong>&lt;b&gt;old&lt;/b&gt;</strong>, <strong>iPad</strong> and <strong>Pixel</strong>: as soon as the new phone is set up, they no longer approve your logins."
        ));
        assert!(scan.contains(r#"<form id="fresh-code" method="post" action="/portal/move/code">"#));
        assert!(!activation_page(&view("x", "alice")).contains("NEW phone"));
        assert_eq!(device_names(&replaces[1..2]), "<strong>iPad</strong>");
        let first = move_page("a<b", &replaces[..1], "t\"k", Some("<too many>"));
        assert!(first.contains("<li>&lt;b&gt;old&lt;/b&gt;</li>"));
        assert!(first.contains("Signed in as <strong>a&lt;b</strong>"));
        assert!(first.contains("&lt;too many&gt;"));
        assert!(first.contains(r#"name="csrf" value="t&quot;k""#));
        let code = move_code_page("a••••@<x>", 10, "t", Some("wrong <code>"));
        assert!(code.contains("We sent a 6-digit code to <strong>a••••@&lt;x&gt;</strong>."));
        assert!(code.contains("wrong &lt;code&gt;"));
        assert!(code.contains(r#"inputmode="numeric" autocomplete="one-time-code""#));
        assert!(nothing_to_move_page("<u>").contains(r#"<a href="/portal/activate">"#));
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
