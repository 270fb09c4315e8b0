//! Test helpers: a server state on a virtual clock and seeded randomness,
//! requests sent through the router with `oneshot` and a fake peer address.

use std::net::SocketAddr;
use std::sync::Arc;

use axum::body::Body;
use axum::extract::connect_info::MockConnectInfo;
use axum::http::{HeaderMap, Request, StatusCode};
use serde_json::Value;
use tower::ServiceExt as _;

use super::{
    AppState, Config, Deviation, SeededEntropy, ServerOptions, Variants, VirtualClock, router,
};

pub const T0: i64 = 1_700_000_000_000;
pub const MIN: i64 = 60_000;
pub const ALICE: (&str, &str) = ("alice", "alice-secret-1");
pub const BOB: (&str, &str) = ("bob", "bob-secret-2");
pub const SECURED: &str = "/arcgis/rest/services/SampleWorldCities/MapServer";
pub const GT: &str = "/arcgis/tokens/generateToken";
pub const PGT: &str = "/sharing/rest/generateToken";
pub const ARCWEB: &str = "/services/v2006_1/restmap";
pub const START: &str = "/arcgis/rest/services/styles/v2/sessions/start";
pub const STYLE_ARCGIS: &str = "/arcgis/rest/services/styles/v2/styles/arcgis/navigation";
pub const STYLE_OPEN: &str = "/arcgis/rest/services/styles/v2/styles/open/osm-style";

pub struct Kit {
    pub st: AppState,
    pub clock: Arc<VirtualClock>,
}

pub struct Req {
    method: &'static str,
    uri: String,
    headers: Vec<(String, String)>,
    form: Option<String>,
    json: Option<String>,
    peer: SocketAddr,
}

impl Req {
    pub fn get(uri: &str) -> Req {
        Req {
            method: "GET",
            uri: uri.into(),
            headers: vec![],
            form: None,
            json: None,
            peer: "127.0.0.1:40000".parse().unwrap(),
        }
    }
    pub fn post(uri: &str, form: &str) -> Req {
        Req {
            method: "POST",
            form: Some(form.into()),
            ..Req::get(uri)
        }
    }
    pub fn post_json(uri: &str, json: &str) -> Req {
        Req {
            method: "POST",
            json: Some(json.into()),
            ..Req::get(uri)
        }
    }
    pub fn header(mut self, k: &str, v: &str) -> Req {
        self.headers.push((k.into(), v.into()));
        self
    }
    pub fn peer(mut self, ip: &str) -> Req {
        self.peer = SocketAddr::new(ip.parse().unwrap(), 40000);
        self
    }
}

#[derive(Debug)]
pub struct Resp {
    pub status: StatusCode,
    pub headers: HeaderMap,
    pub text: String,
}

impl Resp {
    pub fn json(&self) -> Value {
        serde_json::from_str(&self.text).unwrap_or(Value::Null)
    }
    /// `error.code`, if the body is an error.
    pub fn code(&self) -> Option<i64> {
        self.json()["error"]["code"].as_i64()
    }
    /// Success: HTTP 200 and no error body.
    pub fn ok(&self) -> bool {
        self.status == StatusCode::OK && self.code().is_none()
    }
}

impl Kit {
    pub fn new() -> Kit {
        Kit::with(Config::default(), &[])
    }
    /// With or without one deviation.
    pub fn maybe(d: Deviation, on: bool) -> Kit {
        let devs: Vec<Deviation> = if on { vec![d] } else { vec![] };
        Kit::with(Config::default(), &devs)
    }
    pub fn knob(name: &str, v: Value) -> Kit {
        let mut c = Config::default();
        c.knobs = c.knobs.with(name, &v).unwrap();
        Kit::with(c, &[])
    }
    /// With variants given as `RULE=NAME`.
    pub fn variant(specs: &[&str]) -> Kit {
        Kit::variant_with(Config::default(), specs)
    }
    pub fn variant_with(config: Config, specs: &[&str]) -> Kit {
        Kit::with_variants(config, Variants::from_specs(specs).unwrap())
    }
    pub fn with(config: Config, devs: &[Deviation]) -> Kit {
        Kit::build(config, devs, Variants::default())
    }
    pub fn with_variants(config: Config, variants: Variants) -> Kit {
        Kit::build(config, &[], variants)
    }
    fn build(config: Config, devs: &[Deviation], variants: Variants) -> Kit {
        let clock = Arc::new(VirtualClock::at(T0));
        let opts = ServerOptions {
            config,
            control: true,
            deviations: devs.to_vec(),
            variants,
        };
        let st =
            AppState::with_virtual_clock(opts, clock.clone(), Box::new(SeededEntropy::new(42)));
        Kit { st, clock }
    }
    pub fn advance(&self, ms: i64) {
        self.clock.advance(ms).unwrap();
    }
    pub async fn send(&self, r: Req) -> Resp {
        let mut b = Request::builder()
            .method(r.method)
            .uri(&r.uri)
            .header("host", "ref.test:8080");
        for (k, v) in &r.headers {
            b = b.header(k.as_str(), v.as_str());
        }
        let body = if let Some(f) = r.form {
            b = b.header("content-type", "application/x-www-form-urlencoded");
            Body::from(f)
        } else if let Some(j) = r.json {
            b = b.header("content-type", "application/json");
            Body::from(j)
        } else {
            Body::empty()
        };
        let resp = router(self.st.clone())
            .layer(MockConnectInfo(r.peer))
            .oneshot(b.body(body).unwrap())
            .await
            .unwrap();
        let status = resp.status();
        let headers = resp.headers().clone();
        let bytes = axum::body::to_bytes(resp.into_body(), 1 << 20)
            .await
            .unwrap();
        Resp {
            status,
            headers,
            text: String::from_utf8_lossy(&bytes).into_owned(),
        }
    }
    /// POST to the Portal's generateToken with `extra` form fields.
    pub async fn generate_portal(&self, user: (&str, &str), extra: &str) -> Resp {
        let form = format!("username={}&password={}&f=json{extra}", user.0, user.1);
        self.send(Req::post(PGT, &form)).await
    }
    /// POST generateToken (Server) with `extra` form fields; the JSON answer.
    pub async fn generate(&self, user: (&str, &str), extra: &str) -> Resp {
        let form = format!("username={}&password={}&f=json{extra}", user.0, user.1);
        self.send(Req::post(GT, &form)).await
    }
    /// A token for `user` (Server token service), default options.
    pub async fn token(&self, user: (&str, &str)) -> String {
        self.token_with(user, "").await
    }
    pub async fn token_with(&self, user: (&str, &str), extra: &str) -> String {
        let r = self.generate(user, extra).await;
        r.json()["token"]
            .as_str()
            .unwrap_or_else(|| panic!("{}", r.text))
            .to_owned()
    }
    /// GET the secured service with the token in the query.
    pub async fn use_token(&self, token: &str) -> Resp {
        self.send(Req::get(&format!("{SECURED}?f=json&token={token}")))
            .await
    }
    /// Starts a session; the JSON answer.
    pub async fn start(&self, token: &str, extra: &str) -> Resp {
        self.send(Req::get(&format!("{START}?f=json&token={token}{extra}")))
            .await
    }
    pub async fn session(&self, token: &str, extra: &str) -> String {
        let r = self.start(token, extra).await;
        r.json()["sessionToken"]
            .as_str()
            .unwrap_or_else(|| panic!("{}", r.text))
            .to_owned()
    }
    pub async fn arcweb(&self, q: &str) -> Resp {
        self.send(Req::get(&format!("{ARCWEB}?{q}"))).await
    }
    /// An ArcWeb token for alice (`extra` appends parameters: `&tout=5`).
    pub async fn arcweb_token(&self, extra: &str) -> String {
        self.arcweb(&format!(
            "actn=getToken&usr=alice&pswd=alice-secret-1{extra}"
        ))
        .await
        .text
    }
    pub async fn set_password(&self, user: &str, pw: &str) {
        let r = self
            .send(Req::post_json(
                &format!("/_tessera/users/{user}/password"),
                &format!(r#"{{"password":"{pw}"}}"#),
            ))
            .await;
        assert!(r.ok(), "{}", r.text);
    }
}
