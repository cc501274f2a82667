//! Redaction and the outbox against what an attacker (or a careless user) can type, with the
//! cases generated from the grammars themselves rather than from a hand list:
//!
//! - session IDs in every form the session ID reader accepts (its alphabet, its look-alikes
//!   in any case, any separator it skips, anywhere and repeated), glued to any text, and
//!   with one character mistyped;
//! - secret-named fields ([`SECRET_FIELDS`], [`SECRET_SUFFIXES`]) in every naming style and
//!   notation, as JSON keys with string and number values, and a PIN written in free text;
//! - the outbox given ids it never made (`..`, `/`, `\`, NUL, absolute paths).

// Helpers of a test stop it at the first surprise.
#![allow(clippy::expect_used)]

use std::collections::BTreeMap;
use std::path::Path;
use std::sync::{Arc, OnceLock};

use async_trait::async_trait;
use ibkey_core::diagnostics::redact::{
    is_secret_field, redact_json, scrub, SECRET_FIELDS, SECRET_SUFFIXES,
};
use ibkey_core::diagnostics::{
    is_bundle_id, AppInfo, BundleRequest, Diagnostics, DiagnosticsConfig, DiagnosticsServices,
    SendOutcome, ThreadSleeper,
};
use ibkey_core::platform::{HttpRequest, HttpResponse, HttpTransport, SystemClock, TransportError};
use ibkey_core::ErrorCode;
use ibkey_protocol::encoding::crockford_value;
use ibkey_protocol::session_id::{
    fold, group_passes, is_separator, SessionId, SessionIdError, ALPHABET, GROUPS, GROUP_LEN, LEN,
    LOOK_ALIKES,
};
use proptest::collection::vec;
use proptest::prelude::*;
use proptest::sample::select;
use proptest::strategy::ValueTree;
use proptest::test_runner::{TestCaseError, TestRunner};
use serde_json::json;

/// What the session ID reader takes, listed from its own functions over every `char`.
struct Grammar {
    /// For each character of the alphabet (by value), every character typed for it.
    typings: Vec<Vec<char>>,
    /// Every character the reader skips.
    separators: Vec<char>,
}

fn grammar() -> &'static Grammar {
    static GRAMMAR: OnceLock<Grammar> = OnceLock::new();
    GRAMMAR.get_or_init(|| {
        let mut typings = vec![Vec::new(); ALPHABET.len()];
        let mut separators = Vec::new();
        for c in (0..=u32::from(char::MAX)).filter_map(char::from_u32) {
            if is_separator(c) {
                separators.push(c);
            }
            if let Some(read) = fold(c) {
                typings[usize::from(crockford_value(read).expect("alphabet"))].push(c);
            }
        }
        Grammar {
            typings,
            separators,
        }
    })
}

/// A canonical session ID: random data characters, each group closed by the one character
/// that passes its check.
fn session_id() -> impl Strategy<Value = Vec<u8>> {
    vec(select(ALPHABET.to_vec()), GROUPS * (GROUP_LEN - 1)).prop_map(|data| {
        let mut canonical = Vec::with_capacity(LEN);
        for (group, chunk) in data.chunks(GROUP_LEN - 1).enumerate() {
            canonical.extend_from_slice(chunk);
            let check = ALPHABET
                .iter()
                .copied()
                .find(|&c| group_passes(group, &[chunk, &[c]].concat()))
                .expect("one character passes the check");
            canonical.push(check);
        }
        canonical
    })
}

/// The same with one character replaced by another of the alphabet: a typo.
fn mistyped_session_id() -> impl Strategy<Value = Vec<u8>> {
    (session_id(), 0..LEN, 1..ALPHABET.len()).prop_map(|(mut canonical, at, shift)| {
        let value = usize::from(crockford_value(canonical[at]).expect("alphabet"));
        canonical[at] = ALPHABET[(value + shift) % ALPHABET.len()];
        canonical
    })
}

/// Canonical characters as a person may type them: each character in any of its typings,
/// and before each any run of separators (only between groups when `grouped`).
fn typed(canonical: &[u8], grouped: bool) -> impl Strategy<Value = String> {
    let g = grammar();
    let parts: Vec<_> = canonical
        .iter()
        .enumerate()
        .map(|(i, &c)| {
            let typings = g.typings[usize::from(crockford_value(c).expect("alphabet"))].clone();
            let most = if grouped && i % GROUP_LEN != 0 { 0 } else { 3 };
            (vec(select(g.separators.clone()), 0..=most), select(typings))
        })
        .collect();
    parts.prop_map(|parts| {
        parts
            .into_iter()
            .flat_map(|(separators, c)| separators.into_iter().chain([c]))
            .collect()
    })
}

/// Any text, short.
fn text() -> impl Strategy<Value = String> {
    vec(any::<char>(), 0..8).prop_map(String::from_iter)
}

/// A character that ends a word.
fn boundary() -> impl Strategy<Value = char> {
    any::<char>().prop_filter("not a letter or digit", |c| !c.is_alphanumeric())
}

/// `text` as the session ID reader sees it: separators dropped, the rest folded, `#` for
/// characters that are never part of a session ID.
fn folded(text: &str) -> String {
    text.chars()
        .filter(|&c| !is_separator(c))
        .map(|c| fold(c).map_or('#', char::from))
        .collect()
}

/// Whether the secret part of a session ID (all but the last group) survives in `text` in
/// any form the reader accepts.
fn leaks_session_id(text: &str, canonical: &[u8]) -> bool {
    let secret = String::from_utf8_lossy(&canonical[..LEN - GROUP_LEN]).into_owned();
    folded(text).contains(&secret)
}

proptest! {
    #![proptest_config(ProptestConfig::with_cases(512))]

    /// Whatever the reader accepts as a session ID, glued to any text, is masked.
    #[test]
    fn every_form_the_reader_accepts_is_masked(
        (canonical, typed) in session_id().prop_flat_map(|c| (Just(c.clone()), typed(&c, false))),
        before in text(),
        after in text(),
    ) {
        let id = SessionId::parse(&typed).expect("the reader accepts every generated form");
        prop_assert_eq!(id.canonical().as_bytes(), &canonical[..]);
        let line = format!("{before}{typed}{after}");
        let out = scrub(&line);
        prop_assert!(!leaks_session_id(&out, &canonical), "{:?} -> {:?}", line, out);
    }

    /// A session ID with one character mistyped (what the reader refuses as `Mistyped`), as
    /// a word of its own in any grouping, case and look-alikes, is masked too.
    #[test]
    fn a_session_id_one_character_off_is_masked(
        (canonical, typed) in mistyped_session_id()
            .prop_flat_map(|c| (Just(c.clone()), typed(&c, true))),
        before in (text(), boundary()),
        after in (boundary(), text()),
    ) {
        prop_assert!(
            matches!(SessionId::parse(&typed), Err(SessionIdError::Mistyped { .. })),
            "{:?}",
            typed
        );
        let line = format!("{}{}{typed}{}{}", before.0, before.1, after.0, after.1);
        let out = scrub(&line);
        prop_assert!(!leaks_session_id(&out, &canonical), "{:?} -> {:?}", line, out);
    }
}

/// A secret field's name in one naming style: snake, kebab, camel, Pascal, upper, or any
/// case letter by letter.
fn styled(name: &str, style: u8, flips: &[bool]) -> String {
    let words: Vec<&str> = name.split('_').collect();
    let capitalised = |w: &str| {
        let mut chars = w.chars();
        chars.next().map_or(String::new(), |first| {
            first.to_ascii_uppercase().to_string() + chars.as_str()
        })
    };
    match style {
        0 => name.to_string(),
        1 => words.join("-"),
        2 => {
            words[0].to_string()
                + &words[1..]
                    .iter()
                    .map(|w| capitalised(w))
                    .collect::<String>()
        }
        3 => words.iter().map(|w| capitalised(w)).collect(),
        4 => name.to_ascii_uppercase(),
        _ => name
            .chars()
            .zip(flips.iter().cycle())
            .map(|(c, &up)| if up { c.to_ascii_uppercase() } else { c })
            .collect(),
    }
}

/// A secret-named field: a listed name, or any word with a secret ending, in a naming style.
fn secret_name() -> impl Strategy<Value = String> {
    let listed = select(SECRET_FIELDS.to_vec()).prop_map(str::to_string);
    let suffixed = ("[a-z]{1,8}", select(SECRET_SUFFIXES.to_vec()))
        .prop_map(|(word, suffix)| format!("{word}{suffix}"));
    (
        prop_oneof![listed, suffixed],
        0..6u8,
        vec(any::<bool>(), 1..6),
    )
        .prop_map(|(name, style, flips)| styled(&name, style, &flips))
}

/// A value that cannot appear in the rest of the text by chance.
const VALUE: &str = "[a-zA-Z]{0,4}[0-9]{5,10}[a-zA-Z]{0,4}";

/// The notations of a field with its value (`'{}'` stands for the name, `<>` for the value).
const NOTATIONS: &[&str] = &[
    "{}=<>",
    "{} = <>",
    "{}: <>",
    "{}:\t<>",
    "\"{}\": \"<>\"",
    "\"{}\":<>",
    "'{}': '<>'",
    "{}=\"<>\"",
    "{\"{}\":\n  \"<>\"}",
];

proptest! {
    #![proptest_config(ProptestConfig::with_cases(512))]

    /// A secret-named field's value is masked in any naming style and notation.
    #[test]
    fn secret_fields_are_masked_in_every_naming_and_notation(
        name in secret_name(),
        notation in select(NOTATIONS),
        value in VALUE,
        before in "[a-z ]{0,6}",
        after in "[ ,;)]{0,1}[a-z ]{0,6}",
    ) {
        prop_assert!(is_secret_field(&name), "{}", name);
        let field = notation.replacen("{}", &name, 1).replace("<>", &value);
        let line = format!("{before} {field}{after}");
        let out = scrub(&line);
        prop_assert!(!out.contains(&value), "{:?} -> {:?}", line, out);
    }

    /// In JSON, a secret-named key's value is masked whether a string or a number, at any
    /// depth.
    #[test]
    fn json_secret_fields_are_masked_as_strings_and_numbers(
        name in secret_name(),
        number in 10_000u64..,
        text in VALUE,
    ) {
        let mut value = json!({
            "outer": { name.clone(): text.clone(), "kept": "plain" },
            "list": [{ name.clone(): number }],
        });
        redact_json(&mut value);
        let out = value.to_string();
        prop_assert!(!out.contains(&text), "{}", out);
        prop_assert!(!out.contains(&number.to_string()), "{}", out);
        prop_assert_eq!(&value["outer"]["kept"], "plain");
    }

    /// A PIN (or any secret-named thing) written in free text, as a user does in a comment,
    /// is masked: "PIN 1234", "my pin is 1234", "Passcode was 123456".
    #[test]
    fn a_pin_in_free_text_is_masked(
        name in secret_name(),
        joiner in "[a-zA-Z]{0,4}",
        pin in "[0-9]{4,12}",
        before in "([A-Za-z]{1,8} ){0,3}",
        after in "([ .,!?][a-z]{0,8}){0,3}",
    ) {
        let said = if joiner.is_empty() { format!("{name} {pin}") } else { format!("{name} {joiner} {pin}") };
        let comment = format!("{before}{said}{after}");
        let out = scrub(&comment);
        prop_assert!(!out.contains(&pin), "{:?} -> {:?}", comment, out);
    }
}

#[test]
fn the_generated_grammar_is_the_readers() {
    let g = grammar();
    // Both cases of every letter, the look-alikes, and nothing else.
    let typed: usize = g.typings.iter().map(Vec::len).sum();
    let letters = ALPHABET.iter().filter(|c| c.is_ascii_alphabetic()).count();
    assert_eq!(typed, ALPHABET.len() + letters + 2 * LOOK_ALIKES.len());
    for (typed, read) in LOOK_ALIKES {
        assert!(g.typings[usize::from(crockford_value(read).expect("alphabet"))].contains(&typed));
    }
    for c in ['-', ' ', '\t', '\n', '\u{a0}', '\u{2003}', '\u{3000}'] {
        assert!(g.separators.contains(&c), "{c:?}");
    }
}

#[test]
fn ordinary_text_is_left_alone() {
    // Besides what the core's own redaction tests keep.
    for plain in [
        "mode set to extended",
        "basic checks passed",
        "wrong app PIN failed_attempts=3",
        "The PIN must have 4 to 12 digits. Choose another one.",
        "the token was refused: code_used",
        "It happened twice yesterday after the update, the screen stayed white for 10 seconds.",
        "Group 2 of the session ID looks mistyped. Check group 2 against the portal.",
        "{\"error\":{\"code\":\"code_used\",\"message\":\"used\"},\"device_id\":\"dev-1\"}",
    ] {
        assert_eq!(scrub(plain), plain);
    }
}

/// A transport with no server behind it.
struct Offline;

#[async_trait]
impl HttpTransport for Offline {
    async fn send(&self, _: HttpRequest) -> Result<HttpResponse, TransportError> {
        Err(TransportError::Unreachable {
            reason: "no server in this test".into(),
        })
    }
}

fn open_diagnostics(dir: &Path) -> Diagnostics {
    let mut config = DiagnosticsConfig::new(dir, "http://127.0.0.1:9", AppInfo::default());
    config.upload.max_attempts = 1;
    Diagnostics::open(
        config,
        DiagnosticsServices {
            clock: Arc::new(SystemClock),
            http: Arc::new(Offline),
            sleeper: Arc::new(ThreadSleeper),
        },
    )
    .expect("diagnostics")
}

/// Every file under `dir` and its bytes.
fn files(dir: &Path) -> BTreeMap<String, Vec<u8>> {
    let mut found = BTreeMap::new();
    for entry in std::fs::read_dir(dir).expect("read dir").flatten() {
        let path = entry.path();
        if path.is_dir() {
            found.extend(files(&path));
        } else {
            found.insert(
                path.display().to_string(),
                std::fs::read(&path).expect("read"),
            );
        }
    }
    found
}

/// Ids an outbox never makes: paths up, across and absolute, separators and NUL around
/// real ids and file names.
fn foreign_id(root: String, real: String) -> impl Strategy<Value = String> {
    let part = prop_oneof![
        Just("..".to_string()),
        Just("/".to_string()),
        Just("\\".to_string()),
        Just("\0".to_string()),
        Just(".".to_string()),
        Just("victim".to_string()),
        Just("outbox".to_string()),
        Just("sent".to_string()),
        Just(root),
        Just(real),
        "[0-9A-Za-z]{1,30}",
    ];
    vec(part, 1..6).prop_map(|parts| parts.concat())
}

/// Bait paths, from the test's root, that an id could reach beside, above or below the
/// outbox.
const BAIT: &[&str] = &[
    "victim.zip",
    "victim.json",
    "diag/victim.zip",
    "diag/outbox.zip",
];

#[test]
fn the_outbox_takes_only_its_own_bundle_ids() {
    let root = tempfile::tempdir().expect("tempdir");
    let diag = open_diagnostics(&root.path().join("diag"));
    let bundle = diag
        .prepare_bundle(&BundleRequest::default())
        .expect("bundle");
    let runtime = tokio::runtime::Builder::new_current_thread()
        .enable_all()
        .build()
        .expect("runtime");
    let outcome = runtime.block_on(diag.send(&bundle, None)).expect("send");
    assert!(matches!(outcome, SendOutcome::Queued { .. }), "{outcome:?}");
    for bait in BAIT {
        std::fs::write(root.path().join(bait), b"not yours").expect("bait");
    }
    let real = bundle.bundle_id().to_string();
    let root_text = root.path().display().to_string();
    let before = files(root.path());
    let refused = |id: &str| -> Result<(), TestCaseError> {
        let error = diag.remove_from_outbox(id).err();
        prop_assert_eq!(
            error.as_ref().map(ErrorCode::code),
            Some("DIAG_UNKNOWN_BUNDLE"),
            "{:?}: {:?}",
            id,
            error
        );
        prop_assert_eq!(&files(root.path()), &before, "{:?} touched a file", id);
        Ok(())
    };
    for id in [
        "../victim".to_string(),
        "../../victim".to_string(),
        "..\\..\\victim".to_string(),
        format!("{root_text}/victim"),
        format!("{real}\0"),
        format!("../outbox/{real}"),
        format!("./{real}"),
        real.to_lowercase(),
        String::new(),
    ] {
        refused(&id).expect("refused");
    }
    let mut runner = TestRunner::new(ProptestConfig::with_cases(256));
    runner
        .run(&foreign_id(root_text, real.clone()), |id| {
            if is_bundle_id(&id) {
                return Ok(());
            }
            refused(&id)
        })
        .expect("every id the outbox did not make is refused");
    // Its own id still works, and only its own files went.
    diag.remove_from_outbox(&real).expect("its own id");
    assert!(diag.outbox().expect("outbox").is_empty());
    for bait in BAIT {
        assert!(root.path().join(bait).exists(), "{bait}");
    }
}

#[test]
fn a_comment_keeps_no_typed_secret_in_the_bundle() {
    let root = tempfile::tempdir().expect("tempdir");
    let diag = open_diagnostics(root.path());
    let mut runner = proptest::test_runner::TestRunner::default();
    let canonical = session_id().new_tree(&mut runner).expect("an id").current();
    let id = String::from_utf8(canonical.clone()).expect("ascii");
    let spread: String = id
        .chars()
        .enumerate()
        .map(|(i, c)| match i % 5 {
            0 => format!("{c}\u{a0}"),
            1 => format!("{}\t", c.to_ascii_lowercase()),
            _ => c.to_string(),
        })
        .collect();
    let comment = format!(
        "My PIN is 5938 and the code was: {spread}, then sessionId={id}; accessToken: Zq81x9Vb"
    );
    let bundle = diag
        .prepare_bundle(&BundleRequest {
            comment: comment.clone(),
            ..BundleRequest::default()
        })
        .expect("bundle");
    let kept = &bundle.preview().manifest.comment;
    assert!(
        !leaks_session_id(kept, &canonical),
        "{comment:?} -> {kept:?}"
    );
    assert!(
        !kept.contains("5938") && !kept.contains("Zq81x9Vb"),
        "{kept}"
    );
    assert!(
        kept.starts_with("My PIN is [redacted] and the code was"),
        "{kept}"
    );
}
