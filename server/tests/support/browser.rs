//! A browser for the portal page tests: its own cookies, no automatic redirects, pages read
//! by element id, forms with their CSRF token, and server-sent event streams.

use std::collections::BTreeMap;
use std::time::Duration;

use ibkey_protocol::activation::LookupResponse;
use qrcode::render::svg;
use qrcode::QrCode;
use reqwest::header::HeaderMap;
use reqwest::StatusCode;
use serde_json::Value;

use super::{Harness, PASSWORD};

/// The Content-Security-Policy every page must carry.
pub const CSP: &str = "default-src 'self'; img-src 'self' data:; style-src 'self'; script-src 'self'; frame-ancestors 'none'; base-uri 'none'; form-action 'self'";

/// A page as the browser got it.
#[derive(Debug)]
pub struct Page {
    /// The status.
    pub status: StatusCode,
    /// The headers.
    pub headers: HeaderMap,
    /// The HTML (or other text).
    pub body: String,
}

impl Page {
    /// A header's value, or empty.
    pub fn header(&self, name: &str) -> &str {
        self.headers
            .get(name)
            .map(|v| v.to_str().expect("ascii header"))
            .unwrap_or_default()
    }

    /// The `Set-Cookie` header that sets `name`, or empty.
    pub fn set_cookie(&self, name: &str) -> String {
        self.headers
            .get_all("set-cookie")
            .iter()
            .map(|v| v.to_str().expect("ascii").to_string())
            .find(|v| v.starts_with(&format!("{name}=")))
            .unwrap_or_default()
    }

    /// The value of `attribute` of the element with `id`.
    pub fn attribute(&self, id: &str, attribute: &str) -> String {
        let tag = self.tag(id);
        let start = tag
            .find(&format!(" {attribute}=\""))
            .unwrap_or_else(|| panic!("no {attribute} on #{id}: {tag}"))
            + attribute.len()
            + 3;
        let end = tag[start..].find('"').expect("attribute end") + start;
        tag[start..end].to_string()
    }

    /// The start tag of the element with `id`.
    pub fn tag(&self, id: &str) -> &str {
        let at = self
            .body
            .find(&format!("id=\"{id}\""))
            .unwrap_or_else(|| panic!("no #{id} in {}", self.body));
        let start = self.body[..at].rfind('<').expect("tag start");
        let end = self.body[at..].find('>').expect("tag end") + at;
        &self.body[start..=end]
    }

    /// The text of the element with `id` (up to its first child tag).
    pub fn text(&self, id: &str) -> String {
        let tag = self.tag(id);
        let start = self.body.find(tag).expect("tag") + tag.len();
        let end = self.body[start..].find('<').expect("text end") + start;
        self.body[start..end].to_string()
    }

    /// The SVG of the `data:` URL image with `id`.
    pub fn image_svg(&self, id: &str) -> String {
        let src = self.attribute(id, "src");
        percent_decode(
            src.strip_prefix("data:image/svg+xml,")
                .expect("an SVG data URL"),
        )
    }

    /// Asserts the security headers of every portal page.
    pub fn assert_security_headers(&self) {
        assert_eq!(self.header("content-security-policy"), CSP);
        assert_eq!(self.header("x-content-type-options"), "nosniff");
        assert_eq!(self.header("referrer-policy"), "no-referrer");
    }
}

/// A browser: its own cookies, no automatic redirects.
pub struct Browser {
    /// The HTTP client (no automatic redirects).
    pub http: reqwest::Client,
    /// The server's URL.
    pub base: String,
    /// The cookies the server set, by name.
    pub cookies: BTreeMap<String, String>,
}

impl Browser {
    /// A browser on the harness's server.
    pub fn new(h: &Harness) -> Self {
        Self::at(h.server.url())
    }

    /// A browser on the server at `base`.
    pub fn at(base: String) -> Self {
        Self {
            http: reqwest::Client::builder()
                .redirect(reqwest::redirect::Policy::none())
                .build()
                .expect("client"),
            base,
            cookies: BTreeMap::new(),
        }
    }

    /// The `Cookie` header of its cookies.
    pub fn cookie_header(&self) -> String {
        self.cookies
            .iter()
            .map(|(name, value)| format!("{name}={value}"))
            .collect::<Vec<_>>()
            .join("; ")
    }

    /// Sends `request` with its cookies, keeps the cookies set, and reads the page.
    pub async fn send(&mut self, request: reqwest::RequestBuilder) -> Page {
        let request = if self.cookies.is_empty() {
            request
        } else {
            request.header("cookie", self.cookie_header())
        };
        let response = request.send().await.expect("send");
        let status = response.status();
        let headers = response.headers().clone();
        for set in headers.get_all("set-cookie") {
            let set = set.to_str().expect("ascii");
            let pair = set.split(';').next().expect("pair");
            let (name, value) = pair.split_once('=').expect("name=value");
            self.cookies.insert(name.to_string(), value.to_string());
        }
        let body = response.text().await.expect("body");
        Page {
            status,
            headers,
            body,
        }
    }

    /// GETs `path`.
    pub async fn get(&mut self, path: &str) -> Page {
        let request = self.http.get(format!("{}{path}", self.base));
        self.send(request).await
    }

    /// POSTs `form` (form-urlencoded) to `path`.
    pub async fn post(&mut self, path: &str, form: &[(&str, &str)]) -> Page {
        let request = self.http.post(format!("{}{path}", self.base)).form(form);
        self.send(request).await
    }

    /// Opens the sign-in page and signs in as `user`; the reply to the form.
    pub async fn sign_in(&mut self, user: &str, password: &str) -> Page {
        let form = self.get("/portal/sign-in").await;
        assert_eq!(form.attribute("sign-in", "action"), "/portal/sign-in");
        let csrf = csrf_of(&form);
        self.post(
            "/portal/sign-in",
            &[("username", user), ("password", password), ("csrf", &csrf)],
        )
        .await
    }

    /// Signs in as `user` and opens the activation page.
    pub async fn activation_page(&mut self, user: &str) -> Page {
        let signed_in = self.sign_in(user, PASSWORD).await;
        assert_eq!(
            signed_in.status,
            StatusCode::SEE_OTHER,
            "{}",
            signed_in.body
        );
        self.get("/portal/activate").await
    }

    /// Opens the event stream of the activation page `page`.
    pub async fn events(&self, page: &Page) -> Events {
        self.events_of(page, "activation-status").await
    }

    /// Opens the event stream named by the `data-events` of the element `id` on `page`.
    pub async fn events_of(&self, page: &Page, id: &str) -> Events {
        let url = format!("{}{}", self.base, page.attribute(id, "data-events"));
        let response = self
            .http
            .get(url)
            .header("cookie", self.cookie_header())
            .send()
            .await
            .expect("events");
        assert_eq!(response.status(), StatusCode::OK);
        assert_eq!(response.headers()["content-type"], "text/event-stream");
        Events {
            response,
            buffer: String::new(),
        }
    }
}

/// The ticket behind the session ID shown on `page`, as a phone typing it gets it.
pub async fn ticket_of(h: &Harness, page: &Page) -> String {
    h.lookup(&page.text("session-id"))
        .await
        .parse::<LookupResponse>()
        .ticket
}

/// The CSRF token of the form on `page`.
pub fn csrf_of(page: &Page) -> String {
    let at = page
        .body
        .find("name=\"csrf\" value=\"")
        .expect("csrf input")
        + 19;
    let end = page.body[at..].find('"').expect("end") + at;
    page.body[at..end].to_string()
}

/// A server-sent event stream.
pub struct Events {
    response: reqwest::Response,
    buffer: String,
}

impl Events {
    /// The next `status` event's data, or `None` when the server closed the stream.
    pub async fn next(&mut self) -> Option<Value> {
        loop {
            if let Some(end) = self.buffer.find("\n\n") {
                let event: String = self.buffer.drain(..end + 2).collect();
                if event.starts_with(':') {
                    continue; // keep-alive comment
                }
                assert!(event.starts_with("event: status\n"), "{event}");
                let data = event
                    .lines()
                    .find_map(|line| line.strip_prefix("data: "))
                    .expect("data line");
                return Some(serde_json::from_str(data).expect("json data"));
            }
            let chunk = tokio::time::timeout(Duration::from_secs(20), self.response.chunk())
                .await
                .expect("an event within 20 s")
                .expect("stream");
            self.buffer
                .push_str(std::str::from_utf8(&chunk?).expect("utf-8"));
        }
    }

    /// The next event's state and message.
    pub async fn next_state(&mut self) -> (String, String) {
        let event = self.next().await.expect("an event");
        (
            event["state"].as_str().expect("state").to_string(),
            event["message"].as_str().expect("message").to_string(),
        )
    }
}

/// `url` with its percent escapes decoded.
fn percent_decode(url: &str) -> String {
    let bytes = url.as_bytes();
    let mut out = Vec::new();
    let mut i = 0;
    while i < bytes.len() {
        if bytes[i] == b'%' {
            let hex = std::str::from_utf8(&bytes[i + 1..i + 3]).expect("hex");
            out.push(u8::from_str_radix(hex, 16).expect("hex"));
            i += 3;
        } else {
            out.push(bytes[i]);
            i += 1;
        }
    }
    String::from_utf8(out).expect("utf-8")
}

/// The SVG the pages show for the QR code of `payload`: black on white, with the quiet zone.
pub fn qr_svg(payload: &str) -> String {
    QrCode::new(payload.as_bytes())
        .expect("encodes")
        .render::<svg::Color<'_>>()
        .dark_color(svg::Color("#000000"))
        .light_color(svg::Color("#ffffff"))
        .quiet_zone(true)
        .build()
}
