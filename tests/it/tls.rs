//! HTTPS on both sides (issue 14): the suite gives the same verdicts over
//! TLS as over plain HTTP; every kind of TLS failure is an infrastructure
//! error (exit 4) that says what failed and which flag helps; `--insecure`
//! is said in every report; advertised URLs use `https`.
//!
//! The bad certificates are made here with rcgen: one from a CA the client
//! does not trust (unknown issuer), one for another name, one expired; the
//! handshake failure is an `https://` URL on a plain-HTTP server.

use std::path::Path;
use std::time::Duration;

use tessera::client::{Clients, PreparedRequest, Timeouts, TlsOptions, TransportError};
use tessera::reference::tls::ServerTls;
use tessera::reference::{self, ServerOptions};
use tessera::target::{Target, TargetError};

use crate::support::{self, Server, both, code, report, tessera, verdicts};

fn timeouts() -> Timeouts {
    Timeouts::new(Duration::from_secs(5))
}

/// A CA and what it signs, all made now.
struct Ca {
    params: rcgen::CertificateParams,
    key: rcgen::KeyPair,
    pem: String,
}

impl Ca {
    fn new(name: &str) -> Ca {
        let mut params = rcgen::CertificateParams::new(Vec::<String>::new()).unwrap();
        params.is_ca = rcgen::IsCa::Ca(rcgen::BasicConstraints::Unconstrained);
        params.distinguished_name = rcgen::DistinguishedName::new();
        params
            .distinguished_name
            .push(rcgen::DnType::CommonName, name);
        params.key_usages = vec![
            rcgen::KeyUsagePurpose::KeyCertSign,
            rcgen::KeyUsagePurpose::DigitalSignature,
        ];
        let key = rcgen::KeyPair::generate().unwrap();
        let pem = params.self_signed(&key).unwrap().pem();
        Ca { params, key, pem }
    }

    /// A server certificate for `names`, valid until `not_after`, and the
    /// server's TLS with it.
    fn server(&self, names: &[&str], not_after: (i32, u8, u8)) -> ServerTls {
        let names: Vec<String> = names.iter().map(|s| s.to_string()).collect();
        let mut params = rcgen::CertificateParams::new(names).unwrap();
        params.distinguished_name = rcgen::DistinguishedName::new();
        params
            .distinguished_name
            .push(rcgen::DnType::CommonName, "tls test server");
        params.not_before = rcgen::date_time_ymd(2001, 1, 1);
        params.not_after = rcgen::date_time_ymd(not_after.0, not_after.1, not_after.2);
        let key = rcgen::KeyPair::generate().unwrap();
        let issuer = rcgen::Issuer::from_params(&self.params, &self.key);
        let cert = params.signed_by(&key, &issuer).unwrap();
        ServerTls::from_pem(
            "cert.pem",
            cert.pem().as_bytes(),
            "key.pem",
            key.serialize_pem().as_bytes(),
        )
        .unwrap()
    }

    fn trusted(&self) -> TlsOptions {
        let mut t = TlsOptions::default();
        t.add_cacert_pem("test-ca.pem", self.pem.as_bytes())
            .unwrap();
        t
    }
}

const FAR: (i32, u8, u8) = (2099, 1, 1);

async fn https_server(tls: &ServerTls) -> reference::Handle {
    let opts = ServerOptions {
        control: true,
        ..Default::default()
    };
    reference::spawn_tls(opts, ([127, 0, 0, 1], 0).into(), tls)
        .await
        .unwrap()
}

/// Probes `https://127.0.0.1:PORT` with `tls` and returns the TLS error.
async fn tls_error(handle: &reference::Handle, scheme: &str, tls: TlsOptions) -> String {
    let url = format!("{scheme}://127.0.0.1:{}", handle.addr.port());
    let err = Target::probe_url_with_tls(&url, timeouts(), tls)
        .await
        .expect_err("the probe fails");
    assert!(matches!(err, TargetError::Tls { .. }), "{err:?}");
    assert_eq!(err.exit_code(), tessera::exit::INFRASTRUCTURE);
    err.to_string()
}

#[tokio::test]
async fn an_unknown_issuer_suggests_cacert() {
    let ca = Ca::new("private CA");
    let server = https_server(&ca.server(&["127.0.0.1"], FAR)).await;
    let msg = tls_error(&server, "https", TlsOptions::default()).await;
    assert!(msg.contains("unknown issuer"), "{msg}");
    assert!(msg.contains("--cacert"), "{msg}");
    // Trusting the CA fixes it, and the probe records what it saw.
    let url = format!("https://127.0.0.1:{}", server.addr.port());
    let t = Target::probe_url_with_tls(&url, timeouts(), ca.trusted())
        .await
        .unwrap();
    let tls = t.summary().tls.expect("an https target has a TLS summary");
    assert_eq!(tls.scheme, "https");
    assert!(tls.version.starts_with("TLS 1."), "{tls:?}");
    assert_eq!(tls.subject, "CN=tls test server");
    assert_eq!(tls.expires, "2099-01-01T00:00:00Z");
    assert!(!tls.insecure);
    assert_eq!(tls.cacert, vec!["test-ca.pem".to_string()]);
}

#[tokio::test]
async fn a_certificate_for_another_name_is_a_name_mismatch() {
    let ca = Ca::new("private CA");
    let server = https_server(&ca.server(&["gis.example.com"], FAR)).await;
    let msg = tls_error(&server, "https", ca.trusted()).await;
    assert!(msg.contains("name mismatch"), "{msg}");
    assert!(msg.contains("--insecure"), "{msg}");
}

#[tokio::test]
async fn an_expired_certificate_says_expired() {
    let ca = Ca::new("private CA");
    let server = https_server(&ca.server(&["127.0.0.1"], (2020, 1, 1))).await;
    let msg = tls_error(&server, "https", ca.trusted()).await;
    assert!(msg.contains("expired"), "{msg}");
}

#[tokio::test]
async fn https_to_a_plain_http_server_is_a_handshake_failure() {
    let plain = reference::spawn(ServerOptions::default(), ([127, 0, 0, 1], 0).into())
        .await
        .unwrap();
    let msg = tls_error(&plain, "https", TlsOptions::default()).await;
    assert!(msg.contains("handshake"), "{msg}");
    assert!(msg.contains("http://"), "{msg}");
}

#[tokio::test]
async fn insecure_accepts_every_bad_certificate_and_says_so() {
    let ca = Ca::new("private CA");
    for bad in [
        ca.server(&["127.0.0.1"], FAR),
        ca.server(&["gis.example.com"], FAR),
        ca.server(&["127.0.0.1"], (2020, 1, 1)),
    ] {
        let server = https_server(&bad).await;
        let mut tls = TlsOptions::default();
        tls.insecure = true;
        let url = format!("https://127.0.0.1:{}", server.addr.port());
        let t = Target::probe_url_with_tls(&url, timeouts(), tls)
            .await
            .unwrap();
        assert!(t.capabilities.clock_control);
        assert!(t.summary().tls.unwrap().insecure);
    }
}

#[tokio::test]
async fn advertised_urls_use_https_over_tls() {
    let cert = ServerTls::self_signed(&[]).unwrap();
    let server = https_server(&cert).await;
    let mut tls = TlsOptions::default();
    tls.add_cacert_pem("serve.pem", cert.cert_pem().as_bytes())
        .unwrap();
    let clients = Clients::with_tls(timeouts(), tls);
    let c = clients.for_source(None).unwrap();
    let base = format!("https://localhost:{}", server.addr.port());
    let r = tessera::client::http::send(
        &c,
        &PreparedRequest::get(format!("{base}/arcgis/rest/info?f=json")),
    )
    .await
    .unwrap();
    let info = r.json().unwrap();
    let url = info["authInfo"]["tokenServicesUrl"].as_str().unwrap();
    assert!(url.starts_with(&format!("{base}/")), "{url}");
    // The same server refuses a client that does not trust it.
    let untrusting = Clients::new(timeouts());
    let c = untrusting.for_source(None).unwrap();
    let e = tessera::client::http::send(&c, &PreparedRequest::get(format!("{base}/")))
        .await
        .unwrap_err();
    assert!(matches!(e, TransportError::Tls(..)), "{e:?}");
}

// ------------------------------------------------------------ the binary

/// `tessera serve --tls --control` on a free port, its certificate written
/// to `cert`.
fn serve_tls(cert: &Path) -> (Server, String) {
    let cert = cert.display().to_string();
    serve_with(&["--tls", "--tls-cert-out", &cert])
}

/// `tessera serve --control` on a free port with `tls_args`; its `https` URL.
fn serve_with(tls_args: &[&str]) -> (Server, String) {
    let args: Vec<&str> = std::iter::once("--control")
        .chain(tls_args.iter().copied())
        .collect();
    let (server, url) = support::serve_with(&args);
    assert!(url.starts_with("https://"), "serve printed {url:?}");
    (server, url)
}

#[test]
fn serve_tls_without_cacert_exits_4_naming_the_unknown_issuer() {
    let dir = tempfile::tempdir().unwrap();
    let cert = dir.path().join("c.pem");
    let (_server, url) = serve_tls(&cert);
    let pem = std::fs::read_to_string(&cert).unwrap();
    assert!(pem.contains("BEGIN CERTIFICATE") && !pem.contains("PRIVATE KEY"));
    let out = dir.path().join("out");
    let o = tessera(&[
        "run",
        "specs/issuance",
        "--target",
        &url,
        "--out",
        &out.display().to_string(),
    ]);
    assert_eq!(code(&o), 4, "{}", both(&o));
    let text = both(&o);
    assert!(text.contains("unknown issuer"), "{text}");
    assert!(text.contains("--cacert"), "{text}");
}

#[test]
fn serve_takes_a_given_certificate_and_key() {
    let dir = tempfile::tempdir().unwrap();
    let ca = Ca::new("given CA");
    let key = rcgen::KeyPair::generate().unwrap();
    let params = rcgen::CertificateParams::new(vec!["127.0.0.1".to_owned()]).unwrap();
    let cert = params
        .signed_by(&key, &rcgen::Issuer::from_params(&ca.params, &ca.key))
        .unwrap();
    let (c, k, ca_file) = (
        dir.path().join("server.pem"),
        dir.path().join("server.key"),
        dir.path().join("ca.pem"),
    );
    std::fs::write(&c, cert.pem()).unwrap();
    std::fs::write(&k, key.serialize_pem()).unwrap();
    std::fs::write(&ca_file, &ca.pem).unwrap();
    let (c, k, ca_file) = (
        c.display().to_string(),
        k.display().to_string(),
        ca_file.display().to_string(),
    );
    let (_server, url) = serve_with(&["--tls-cert", &c, "--tls-key", &k]);
    let out = dir.path().join("out").display().to_string();
    let o = tessera(&[
        "run",
        "specs/issuance",
        "--target",
        &url,
        "--cacert",
        &ca_file,
        "--out",
        &out,
    ]);
    assert_eq!(code(&o), 0, "{}", both(&o));

    // A key that is not PEM: exit 3, naming the file.
    let o = tessera(&[
        "serve",
        "--listen",
        "127.0.0.1:0",
        "--tls-cert",
        &c,
        "--tls-key",
        &c,
    ]);
    assert_eq!(code(&o), 3, "{}", both(&o));
    assert!(both(&o).contains("server.pem"), "{}", both(&o));
}

#[test]
fn insecure_runs_and_every_report_says_so() {
    let dir = tempfile::tempdir().unwrap();
    let cert = dir.path().join("c.pem");
    let (_server, url) = serve_tls(&cert);
    let out = dir.path().join("out");
    let o = tessera(&[
        "run",
        "specs/issuance",
        "--target",
        &url,
        "--insecure",
        "--out",
        &out.display().to_string(),
    ]);
    assert_eq!(code(&o), 0, "{}", both(&o));
    assert!(both(&o).contains("INSECURE"), "console: {}", both(&o));
    let r = report(&out);
    let tls = r.target.tls.expect("the JSON report records TLS");
    assert!(tls.insecure);
    assert_eq!(tls.subject, "CN=Tessera reference (self-signed)");
    for file in ["report.md", "report.html", "junit.xml"] {
        let text = std::fs::read_to_string(out.join(file)).unwrap();
        assert!(text.contains("INSECURE"), "{file} does not say INSECURE");
    }
}

#[test]
fn tls_flags_are_checked_before_anything_runs() {
    let o = tessera(&["run", "--target", "reference", "--cacert", "no/such.pem"]);
    assert_eq!(code(&o), 2, "{}", both(&o));
    assert!(both(&o).contains("--cacert no/such.pem"), "{}", both(&o));
    let o = tessera(&["run", "--target", "http://127.0.0.1:9", "--tls"]);
    assert_eq!(code(&o), 2, "{}", both(&o));
    assert!(
        both(&o).contains("over HTTPS; for a remote target write an https:// URL"),
        "{}",
        both(&o)
    );
}

/// The whole suite: `tessera serve --tls` + `--cacert`, the in-process
/// reference over TLS, and the in-process reference over plain HTTP give
/// the same verdicts (a remote server cannot take per-scenario knobs, so
/// those scenarios are compared with the remote plain-HTTP rule: not
/// applicable there).
#[test]
fn the_suite_gives_the_same_verdicts_over_https() {
    let dir = tempfile::tempdir().unwrap();
    let cert = dir.path().join("c.pem");
    let (_server, url) = serve_tls(&cert);
    let run = |name: &str, args: &[&str]| {
        let out = dir.path().join(name);
        let mut all = vec!["run", "specs", "--out"];
        let out_s = out.display().to_string();
        all.push(&out_s);
        all.extend_from_slice(args);
        let o = tessera(&all);
        assert_eq!(code(&o), 0, "{name}: {}", both(&o));
        report(&out)
    };
    let plain = run("plain", &["--target", "reference"]);
    let tls_local = run("tls-local", &["--target", "reference", "--tls"]);
    let cert_s = cert.display().to_string();
    let tls_remote = run("tls-remote", &["--target", &url, "--cacert", &cert_s]);

    assert!(plain.target.tls.is_none());
    let t = tls_local.target.tls.as_ref().expect("TLS recorded");
    assert!(t.version.starts_with("TLS 1."), "{t:?}");
    assert_eq!(verdicts(&plain), verdicts(&tls_local));
    assert!(plain.scenarios.len() > 300, "the whole suite ran");

    let remote = verdicts(&tls_remote);
    let local = verdicts(&plain);
    assert_eq!(
        remote.keys().collect::<Vec<_>>(),
        local.keys().collect::<Vec<_>>()
    );
    for s in &tls_remote.scenarios {
        let want = local[&s.id];
        if s.verdict != want {
            assert_eq!(
                s.verdict,
                tessera::report::Verdict::NotApplicable,
                "{}: {:?} over https, {want:?} in process ({:?})",
                s.id,
                s.verdict,
                s.reason
            );
            assert!(
                s.reason.as_deref().unwrap_or("").contains("knob"),
                "{}: {:?}",
                s.id,
                s.reason
            );
        }
    }
}

/// A server that requires a client certificate from `client_ca`: it
/// answers `200 ok` to anyone who presents one.
async fn mtls_server(server: &Ca, client_ca: &Ca) -> std::net::SocketAddr {
    use rustls::pki_types::pem::PemObject;
    use rustls::pki_types::{CertificateDer, PrivateKeyDer};
    use tokio::io::{AsyncReadExt, AsyncWriteExt};

    let provider = std::sync::Arc::new(rustls::crypto::aws_lc_rs::default_provider());
    let mut roots = rustls::RootCertStore::empty();
    roots
        .add(CertificateDer::from_pem_slice(client_ca.pem.as_bytes()).unwrap())
        .unwrap();
    let verifier =
        rustls::server::WebPkiClientVerifier::builder_with_provider(roots.into(), provider.clone())
            .build()
            .unwrap();
    let key = rcgen::KeyPair::generate().unwrap();
    let params = rcgen::CertificateParams::new(vec!["127.0.0.1".to_owned()]).unwrap();
    let issuer = rcgen::Issuer::from_params(&server.params, &server.key);
    let cert = params.signed_by(&key, &issuer).unwrap();
    let config = rustls::ServerConfig::builder_with_provider(provider)
        .with_safe_default_protocol_versions()
        .unwrap()
        .with_client_cert_verifier(verifier)
        .with_single_cert(
            vec![cert.der().clone()],
            PrivateKeyDer::from_pem_slice(key.serialize_pem().as_bytes()).unwrap(),
        )
        .unwrap();
    let acceptor = tokio_rustls::TlsAcceptor::from(std::sync::Arc::new(config));
    let tcp = tokio::net::TcpListener::bind("127.0.0.1:0").await.unwrap();
    let addr = tcp.local_addr().unwrap();
    tokio::spawn(async move {
        while let Ok((stream, _)) = tcp.accept().await {
            let acceptor = acceptor.clone();
            tokio::spawn(async move {
                let Ok(mut tls) = acceptor.accept(stream).await else {
                    return;
                };
                let mut buf = vec![0u8; 4096];
                let mut seen = Vec::new();
                while !seen.windows(4).any(|w| w == b"\r\n\r\n") {
                    match tls.read(&mut buf).await {
                        Ok(0) | Err(_) => return,
                        Ok(n) => seen.extend_from_slice(&buf[..n]),
                    }
                }
                let _ = tls
                    .write_all(
                        b"HTTP/1.1 200 OK\r\nContent-Length: 2\r\nConnection: close\r\n\r\nok",
                    )
                    .await;
                let _ = tls.shutdown().await;
            });
        }
    });
    addr
}

#[tokio::test]
async fn a_client_certificate_is_presented_when_asked_for() {
    let server_ca = Ca::new("server CA");
    let client_ca = Ca::new("client CA");
    let addr = mtls_server(&server_ca, &client_ca).await;
    let url = format!("https://127.0.0.1:{}/", addr.port());

    // Without one: a handshake failure that names the flags.
    let clients = Clients::with_tls(timeouts(), server_ca.trusted());
    let c = clients.for_source(None).unwrap();
    let e = tessera::client::http::send(&c, &PreparedRequest::get(&url))
        .await
        .unwrap_err();
    assert!(
        matches!(
            e,
            TransportError::Tls(tessera::client::TlsFailure::Handshake, _)
        ),
        "{e:?}"
    );
    assert!(e.to_string().contains("--client-cert"), "{e}");

    // With one the client CA signed: answered.
    let key = rcgen::KeyPair::generate().unwrap();
    let mut params = rcgen::CertificateParams::new(Vec::<String>::new()).unwrap();
    params
        .distinguished_name
        .push(rcgen::DnType::CommonName, "tessera client");
    let issuer = rcgen::Issuer::from_params(&client_ca.params, &client_ca.key);
    let cert = params.signed_by(&key, &issuer).unwrap();
    let mut tls = server_ca.trusted();
    tls.set_client_identity_pem(
        "client.pem",
        cert.pem().as_bytes(),
        key.serialize_pem().as_bytes(),
    )
    .unwrap();
    let clients = Clients::with_tls(timeouts(), tls);
    let c = clients.for_source(None).unwrap();
    let r = tessera::client::http::send(&c, &PreparedRequest::get(&url))
        .await
        .unwrap();
    assert_eq!((r.status, r.body.as_str()), (200, "ok"));
}
