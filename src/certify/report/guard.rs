//! The last line of defence before a certification report leaves the
//! process: masks what *looks like* a secret in rendered text.
//!
//! The evaluators already show tokens as labels (`T3`) and never keep a
//! password, and [`crate::report::redact::Redactor`] masks the secrets a run
//! knows by value. A certification report has no such list (the model holds
//! no secrets by construction), so this guard works by shape instead, on the
//! final text of every format, so nothing a template or a writer adds can
//! slip past it either:
//! - the value after a credential name (`password=`, `pswd=`, `token=`,
//!   `tkn=`, `sessionToken=`, `Bearer `) unless it is a label (`T3`,
//!   `«...»`) or too short to be a token;
//! - a long run of token characters (base64 and URL-safe base64) that mixes
//!   upper case, lower case and digits, as issued tokens do;
//! - a long hexadecimal run (40+ characters: SHA-1 and longer digests).
//!
//! Masks never contain a quote, `<`, `&` or a backslash, so masking
//! rendered JSON, XML, HTML or Markdown keeps it well formed. Pure.

/// What a masked value is replaced with.
pub const MASK: &str = "«secret»";

/// A run of token characters at least this long is a secret when it mixes
/// cases and digits (reference tokens are 64+ characters, TS-2).
const MIN_TOKEN_RUN: usize = 20;
/// ... and has at least this many digits (so `X-Esri-Authorization` or a
/// camel-case name with a year in it is not one).
const MIN_TOKEN_DIGITS: usize = 2;
/// A hexadecimal run at least this long is a secret (item ids, 32, are not).
const MIN_HEX_RUN: usize = 40;
/// After `token=` or `Bearer `, a value shorter than this is a word
/// (`Bearer None`), not a token. Passwords are masked whatever their length.
const MIN_KEYED_TOKEN: usize = 8;

/// Credential names (matched case-insensitively) and whether their value is
/// a password (always masked) or a token (masked when token-sized).
const KEYS: &[(&str, bool)] = &[
    ("password=", true),
    ("pswd=", true),
    ("sessiontoken=", false),
    ("token=", false),
    ("tkn=", false),
    ("bearer ", false),
];

fn is_run_char(c: char) -> bool {
    c.is_ascii_alphanumeric() || matches!(c, '_' | '-' | '+' | '=' | '~')
}

/// Where a keyed value ends.
fn ends_value(c: char) -> bool {
    c.is_whitespace()
        || matches!(
            c,
            '&' | '"' | '\'' | '\\' | ';' | ',' | ')' | '<' | '>' | '`' | '|'
        )
}

/// A label the evaluators or the redactor put there: `T12`, `«...»`.
fn is_label(v: &str) -> bool {
    v.starts_with('«')
        || (v.len() >= 2 && v.starts_with('T') && v[1..].bytes().all(|b| b.is_ascii_digit()))
}

/// `text` with everything secret-looking replaced by [`MASK`].
pub fn mask(text: &str) -> String {
    let keyed = mask_keyed(text);
    mask_runs(&keyed)
}

fn mask_keyed(text: &str) -> String {
    let lower = text.to_ascii_lowercase();
    let mut out = String::with_capacity(text.len());
    let mut i = 0;
    'scan: while i < text.len() {
        for (key, password) in KEYS {
            if lower[i..].starts_with(key) {
                // `sessionToken=` also ends in `token=`: only the longest
                // key at a word start counts, so the value is masked once.
                let start = i + key.len();
                let len = text[start..]
                    .char_indices()
                    .find(|&(_, c)| ends_value(c))
                    .map_or(text.len() - start, |(n, _)| n);
                let value = &text[start..start + len];
                let secret = !value.is_empty()
                    && !is_label(value)
                    && (*password || value.chars().count() >= MIN_KEYED_TOKEN);
                out.push_str(&text[i..start]);
                out.push_str(if secret { MASK } else { value });
                i = start + len;
                continue 'scan;
            }
        }
        let c = text[i..].chars().next().expect("not at the end");
        out.push(c);
        i += c.len_utf8();
    }
    out
}

fn mask_runs(text: &str) -> String {
    let mut out = String::with_capacity(text.len());
    let mut run_start: Option<usize> = None;
    let flush = |out: &mut String, run: &str| {
        if looks_secret(run) {
            out.push_str(MASK);
        } else {
            out.push_str(run);
        }
    };
    for (i, c) in text.char_indices() {
        if is_run_char(c) {
            run_start.get_or_insert(i);
        } else {
            if let Some(s) = run_start.take() {
                flush(&mut out, &text[s..i]);
            }
            out.push(c);
        }
    }
    if let Some(s) = run_start {
        flush(&mut out, &text[s..]);
    }
    out
}

fn looks_secret(run: &str) -> bool {
    let n = run.len();
    let digits = run.bytes().filter(u8::is_ascii_digit).count();
    let upper = run.bytes().any(|b| b.is_ascii_uppercase());
    let lower = run.bytes().any(|b| b.is_ascii_lowercase());
    let token_like = n >= MIN_TOKEN_RUN && upper && lower && digits >= MIN_TOKEN_DIGITS;
    let hex_like =
        n >= MIN_HEX_RUN && digits > 0 && digits < n && run.bytes().all(|b| b.is_ascii_hexdigit());
    token_like || hex_like
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn masks_token_shaped_runs_and_keyed_values() {
        let tok = "q3VbX9kLm2Pz_8-RtY4uWcA7dEfGhJ0nBvCxZs1oIiKlMnOpQr5StUvWxYz6AbCd";
        for (input, want) in [
            (
                format!("GET /x?f=json&token={tok}"),
                "GET /x?f=json&token=«secret»",
            ),
            (format!("sent {tok} to foreign"), "sent «secret» to foreign"),
            (
                "password=hunter2&username=alice".into(),
                "password=«secret»&username=alice",
            ),
            (
                "Authorization: Bearer abcdefghij".into(),
                "Authorization: Bearer «secret»",
            ),
            (
                format!("sha {}", "0123456789abcdef".repeat(3)),
                "sha «secret»",
            ),
            (
                "sessionToken=AAPTxy.short-but-keyed&x=1".into(),
                "sessionToken=«secret»&x=1",
            ),
        ] {
            assert_eq!(mask(&input), want, "{input}");
        }
    }

    #[test]
    fn leaves_labels_ids_paths_and_prose_alone() {
        for s in [
            "GET /arcgis/rest/services/SampleWorldCities/MapServer/0/query?token=T3",
            "T3 = portal token for alice, revoked; Bearer T12; token=«token#2»",
            "X-Esri-Authorization: Bearer None",
            "client/renewal-margin-20s CL-7/SHOULD +12.345s",
            "/sharing/rest/content/items/4f2e9a0b8c7d6e5f4a3b2c1d0e9f8a7b/data",
            "tessera certify --driver \"node fixtures/drivers/rest-js-4/driver.mjs\" --case client/x",
            "password=«alice.password» password= token=",
            "ArcGISIdentityManager.js:669 federation-utils.js:5",
        ] {
            assert_eq!(mask(s), s);
        }
    }

    #[test]
    fn masked_markup_stays_well_formed() {
        let tok = "Zq3VbX9kLm2Pz8RtY4uWcA7dEfGhJ0nBvCxZs1o";
        let json = serde_json::json!({"m": format!("token={tok}\"x"), "n": tok}).to_string();
        let masked = mask(&json);
        assert!(!masked.contains(tok), "{masked}");
        let back: serde_json::Value = serde_json::from_str(&masked).unwrap();
        assert_eq!(back["n"], MASK);
    }
}
