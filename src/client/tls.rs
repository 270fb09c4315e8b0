//! TLS for the one client: which certificates it trusts (`--cacert`, a
//! profile's `tls: {cacert: ...}`), whether it checks them at all
//! (`--insecure`), the client certificate it presents (`--client-cert` /
//! `--client-key`), why a handshake failed ([`TlsFailure`], with the flag
//! that would help), and what the server showed ([`PeerTls`]: version,
//! certificate subject and expiry, for the report).
//!
//! Key material is held only as reqwest's opaque `Identity`; nothing here
//! prints it, and `Debug` shows only the file names.

use std::fmt;

/// The client side of TLS, shared by every client of a run.
#[derive(Clone, Default)]
pub struct TlsOptions {
    /// Accept any certificate and any name (said in every report).
    pub insecure: bool,
    roots: Vec<reqwest::Certificate>,
    /// Where the extra roots came from (file names, for the report).
    root_sources: Vec<String>,
    identity: Option<reqwest::Identity>,
    identity_source: Option<String>,
}

impl fmt::Debug for TlsOptions {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.debug_struct("TlsOptions")
            .field("insecure", &self.insecure)
            .field("cacert", &self.root_sources)
            .field("client_cert", &self.identity_source)
            .finish()
    }
}

/// A certificate or key that cannot be used. The message names the source
/// and never quotes the file's content.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
pub enum TlsConfigError {
    #[error("{file}: no PEM certificate found (expected `-----BEGIN CERTIFICATE-----`)")]
    NoCertificate { file: String },
    #[error("{file}: not a usable PEM certificate: {reason}")]
    BadCertificate { file: String, reason: String },
    #[error(
        "{file}: the client certificate and key cannot be used together (a PEM certificate, \
         and a PEM private key in PKCS#8, PKCS#1 or SEC1 form): {reason}"
    )]
    BadIdentity { file: String, reason: String },
}

impl TlsOptions {
    /// Adds every certificate of a PEM bundle to the trusted roots (on top
    /// of the system's).
    pub fn add_cacert_pem(&mut self, source: &str, pem: &[u8]) -> Result<(), TlsConfigError> {
        let certs = reqwest::Certificate::from_pem_bundle(pem).map_err(|e| {
            TlsConfigError::BadCertificate {
                file: source.to_owned(),
                reason: e.to_string(),
            }
        })?;
        if certs.is_empty() {
            return Err(TlsConfigError::NoCertificate {
                file: source.to_owned(),
            });
        }
        // The roots must be usable by the verifier, not merely parse as PEM.
        reqwest::Client::builder()
            .tls_certs_merge(certs.clone())
            .build()
            .map_err(|e| TlsConfigError::BadCertificate {
                file: source.to_owned(),
                reason: error_chain(&e),
            })?;
        self.roots.extend(certs);
        self.root_sources.push(source.to_owned());
        Ok(())
    }

    /// Sets the client certificate (`cert_pem`, a chain is fine) and its
    /// private key (`key_pem`).
    pub fn set_client_identity_pem(
        &mut self,
        source: &str,
        cert_pem: &[u8],
        key_pem: &[u8],
    ) -> Result<(), TlsConfigError> {
        if !String::from_utf8_lossy(cert_pem).contains("-----BEGIN CERTIFICATE-----") {
            return Err(TlsConfigError::NoCertificate {
                file: source.to_owned(),
            });
        }
        let mut both = cert_pem.to_vec();
        both.push(b'\n');
        both.extend_from_slice(key_pem);
        let bad = |reason: String| TlsConfigError::BadIdentity {
            file: source.to_owned(),
            reason,
        };
        let id = reqwest::Identity::from_pem(&both).map_err(|e| bad(error_chain(&e)))?;
        reqwest::Client::builder()
            .identity(id.clone())
            .build()
            .map_err(|e| bad(error_chain(&e)))?;
        self.identity = Some(id);
        self.identity_source = Some(source.to_owned());
        Ok(())
    }

    /// `other` on top of these: roots add up, `insecure` wins, its client
    /// certificate (if any) replaces this one.
    pub fn merge(&mut self, other: TlsOptions) {
        self.insecure |= other.insecure;
        self.roots.extend(other.roots);
        self.root_sources.extend(other.root_sources);
        if other.identity.is_some() {
            self.identity = other.identity;
            self.identity_source = other.identity_source;
        }
    }

    /// The files whose certificates are trusted besides the system's.
    pub fn cacert_sources(&self) -> &[String] {
        &self.root_sources
    }

    /// Whether a client certificate is presented.
    pub fn has_client_cert(&self) -> bool {
        self.identity.is_some()
    }

    /// These settings on a client under construction.
    pub(crate) fn apply(&self, mut b: reqwest::ClientBuilder) -> reqwest::ClientBuilder {
        b = b.tls_info(true);
        if !self.roots.is_empty() {
            b = b.tls_certs_merge(self.roots.iter().cloned());
        }
        if let Some(id) = &self.identity {
            b = b.identity(id.clone());
        }
        if self.insecure {
            b = b.tls_danger_accept_invalid_certs(true);
        }
        b
    }
}

/// Why a TLS connection failed, as a user can act on it.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum TlsFailure {
    /// The certificate chain ends at no trusted root (private CA, self-signed).
    UnknownIssuer,
    /// The certificate is not issued for the host name or address of the URL.
    NameMismatch,
    /// The certificate has expired (or is not valid yet).
    Expired,
    /// Anything else in the handshake: the peer does not speak TLS, refuses
    /// our client certificate or asks for one we lack, no common version.
    Handshake,
}

impl TlsFailure {
    /// What failed and which flag would help.
    pub fn advice(self) -> &'static str {
        match self {
            TlsFailure::UnknownIssuer => {
                "the server's certificate is signed by an unknown issuer (a private CA or a \
                 self-signed certificate); trust it with --cacert FILE.pem (or `tls: {cacert: \
                 FILE.pem}` in the target profile), or skip verification with --insecure"
            }
            TlsFailure::NameMismatch => {
                "the server's certificate does not name the host of the URL (name mismatch); \
                 use a host name the certificate was issued for in --target / base_url, or \
                 skip verification with --insecure"
            }
            TlsFailure::Expired => {
                "the server's certificate has expired or is not valid yet; renew it (or check \
                 the clocks), or skip verification with --insecure"
            }
            TlsFailure::Handshake => {
                "the TLS handshake failed: the server may not speak HTTPS on this port (try \
                 http://), or it may require a client certificate (--client-cert and \
                 --client-key)"
            }
        }
    }
}

/// The TLS failure behind a reqwest error, if it is one.
pub(crate) fn failure_of(e: &(dyn std::error::Error + 'static)) -> Option<TlsFailure> {
    let mut cur: Option<&(dyn std::error::Error + 'static)> = Some(e);
    let mut handshake_hint = false;
    while let Some(err) = cur {
        if let Some(r) = as_rustls(err) {
            return Some(classify_rustls(r));
        }
        // "tls handshake eof": the peer hung up mid-handshake, no rustls
        // error to read.
        if err.to_string().to_ascii_lowercase().contains("handshake") {
            handshake_hint = true;
        }
        cur = err.source();
    }
    handshake_hint.then_some(TlsFailure::Handshake)
}

/// `io::Error` hides its inner error from `source()` (and may wrap another
/// `io::Error`); look inside it too.
fn as_rustls<'a>(err: &'a (dyn std::error::Error + 'static)) -> Option<&'a rustls::Error> {
    let mut cur = err;
    for _ in 0..8 {
        if let Some(r) = cur.downcast_ref::<rustls::Error>() {
            return Some(r);
        }
        let inner = cur.downcast_ref::<std::io::Error>()?.get_ref()?;
        cur = inner;
    }
    None
}

fn classify_rustls(e: &rustls::Error) -> TlsFailure {
    use rustls::CertificateError as C;
    match e {
        rustls::Error::InvalidCertificate(c) => match c {
            C::UnknownIssuer | C::BadSignature => TlsFailure::UnknownIssuer,
            C::NotValidForName | C::NotValidForNameContext { .. } => TlsFailure::NameMismatch,
            C::Expired
            | C::ExpiredContext { .. }
            | C::NotValidYet
            | C::NotValidYetContext { .. } => TlsFailure::Expired,
            _ => TlsFailure::Handshake,
        },
        _ => TlsFailure::Handshake,
    }
}

/// The message of an error and all its sources, joined by `: `.
pub(crate) fn error_chain(e: &(dyn std::error::Error + 'static)) -> String {
    let mut msg = e.to_string();
    let mut src = e.source();
    while let Some(s) = src {
        msg.push_str(": ");
        msg.push_str(&s.to_string());
        src = s.source();
    }
    msg
}

/// What the server showed on a TLS connection. No secret: the leaf
/// certificate's subject and validity end are public.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct PeerTls {
    /// `TLS 1.3`, `TLS 1.2`, ...
    pub version: String,
    /// `CN=localhost, O=...` (the attributes Tessera knows; empty if none).
    pub subject: String,
    /// The certificate's `notAfter`, RFC 3339 in UTC.
    pub expires: String,
}

impl PeerTls {
    /// Reads what reqwest recorded on a response, when it was TLS.
    pub(crate) fn from_info(info: &reqwest::tls::TlsInfo) -> Option<PeerTls> {
        let der = info.peer_certificate()?;
        let (subject, expires) = subject_and_expiry(der).unwrap_or_default();
        let version = match info.version() {
            Some(v) if v == reqwest::tls::Version::TLS_1_3 => "TLS 1.3",
            Some(v) if v == reqwest::tls::Version::TLS_1_2 => "TLS 1.2",
            Some(v) if v == reqwest::tls::Version::TLS_1_1 => "TLS 1.1",
            Some(v) if v == reqwest::tls::Version::TLS_1_0 => "TLS 1.0",
            _ => "TLS (version unknown)",
        };
        Some(PeerTls {
            version: version.to_owned(),
            subject,
            expires,
        })
    }
}

/// One DER element: tag and content.
fn der_next(input: &[u8]) -> Option<(u8, &[u8], &[u8])> {
    let (&tag, rest) = input.split_first()?;
    let (&first, mut rest) = rest.split_first()?;
    let len = if first < 0x80 {
        usize::from(first)
    } else {
        let n = usize::from(first & 0x7f);
        if n == 0 || n > 4 || rest.len() < n {
            return None;
        }
        let mut len = 0usize;
        for &b in &rest[..n] {
            len = (len << 8) | usize::from(b);
        }
        rest = &rest[n..];
        len
    };
    if rest.len() < len {
        return None;
    }
    Some((tag, &rest[..len], &rest[len..]))
}

/// The subject (as `CN=..., O=...`) and `notAfter` of a DER certificate.
/// A small reader of the fixed start of `TBSCertificate` (RFC 5280 4.1):
/// version, serial, signature, issuer, validity, subject.
pub fn subject_and_expiry(der: &[u8]) -> Option<(String, String)> {
    let (_, cert, _) = der_next(der)?;
    let (_, tbs, _) = der_next(cert)?;
    let (mut tag, mut field, mut rest) = der_next(tbs)?;
    if tag == 0xa0 {
        (tag, field, rest) = der_next(rest)?; // serial
    }
    let _ = (tag, field);
    let (_, _sig, rest) = der_next(rest)?;
    let (_, _issuer, rest) = der_next(rest)?;
    let (_, validity, rest) = der_next(rest)?;
    let (_, subject, _) = der_next(rest)?;
    let (_, _not_before, after) = der_next(validity)?;
    let (time_tag, not_after, _) = der_next(after)?;
    Some((name_text(subject), time_text(time_tag, not_after)?))
}

fn name_text(mut name: &[u8]) -> String {
    let mut parts = Vec::new();
    while let Some((_, rdn, rest)) = der_next(name) {
        name = rest;
        let mut set = rdn;
        while let Some((_, atv, more)) = der_next(set) {
            set = more;
            let Some((_, oid, value)) = der_next(atv) else {
                continue;
            };
            let Some((_, text, _)) = der_next(value) else {
                continue;
            };
            let label = match oid {
                [0x55, 0x04, 0x03] => "CN",
                [0x55, 0x04, 0x0a] => "O",
                [0x55, 0x04, 0x0b] => "OU",
                [0x55, 0x04, 0x06] => "C",
                _ => continue,
            };
            parts.push(format!("{label}={}", String::from_utf8_lossy(text)));
        }
    }
    parts.join(", ")
}

/// UTCTime (`YYMMDDHHMMSSZ`) or GeneralizedTime (`YYYYMMDDHHMMSSZ`) as
/// `YYYY-MM-DDTHH:MM:SSZ`.
fn time_text(tag: u8, t: &[u8]) -> Option<String> {
    let s = std::str::from_utf8(t).ok()?;
    let full = match tag {
        0x17 if s.len() == 13 => {
            let yy: u32 = s[..2].parse().ok()?;
            let century = if yy < 50 { "20" } else { "19" };
            format!("{century}{s}")
        }
        0x18 if s.len() == 15 => s.to_owned(),
        _ => return None,
    };
    if !full.ends_with('Z') || !full[..14].bytes().all(|b| b.is_ascii_digit()) {
        return None;
    }
    Some(format!(
        "{}-{}-{}T{}:{}:{}Z",
        &full[..4],
        &full[4..6],
        &full[6..8],
        &full[8..10],
        &full[10..12],
        &full[12..14]
    ))
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn times_read_both_encodings() {
        assert_eq!(
            time_text(0x17, b"301231235959Z").as_deref(),
            Some("2030-12-31T23:59:59Z")
        );
        assert_eq!(
            time_text(0x17, b"991231235959Z").as_deref(),
            Some("1999-12-31T23:59:59Z")
        );
        assert_eq!(
            time_text(0x18, b"40960101000000Z").as_deref(),
            Some("4096-01-01T00:00:00Z")
        );
        assert_eq!(time_text(0x18, b"garbage"), None);
    }

    #[test]
    fn a_generated_certificate_reads_back() {
        let key = rcgen::KeyPair::generate().unwrap();
        let mut params = rcgen::CertificateParams::new(vec!["localhost".to_owned()]).unwrap();
        params.distinguished_name = rcgen::DistinguishedName::new();
        params
            .distinguished_name
            .push(rcgen::DnType::CommonName, "Tessera test");
        params
            .distinguished_name
            .push(rcgen::DnType::OrganizationName, "Example");
        params.not_after = rcgen::date_time_ymd(2031, 5, 17);
        let cert = params.self_signed(&key).unwrap();
        let (subject, expires) = subject_and_expiry(cert.der()).unwrap();
        assert_eq!(subject, "CN=Tessera test, O=Example");
        assert_eq!(expires, "2031-05-17T00:00:00Z");
    }

    #[test]
    fn truncated_der_is_none_not_a_panic() {
        assert_eq!(subject_and_expiry(&[0x30, 0x82, 0xff]), None);
        assert_eq!(subject_and_expiry(&[]), None);
    }

    #[test]
    fn bad_pem_names_its_source() {
        let mut t = TlsOptions::default();
        let e = t.add_cacert_pem("ca.pem", b"hello").unwrap_err();
        assert!(e.to_string().starts_with("ca.pem: "), "{e}");
        let e = t
            .set_client_identity_pem("me.pem", b"nope", b"nope")
            .unwrap_err();
        assert!(e.to_string().starts_with("me.pem: "), "{e}");
        assert!(!format!("{t:?}").contains("BEGIN"));
    }
}
