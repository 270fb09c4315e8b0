// Official ArcGIS REST JS clients (4.10.2) against the reference server.
// Starts `tessera serve --control --listen 127.0.0.1:0`, then checks:
//  1. Portal sign-in through generateToken (ArcGISIdentityManager.signIn),
//  2. a secured request on the federated server (token exchange, TS-8),
//  3. a basemap session start (BasemapStyleSession) and a style fetch with it,
//  4. stand-alone server mode: refreshCredentials + secured request + session,
//  5. after the control API moves the clock past expiry, the client gets 498,
//     fetches a fresh token itself and its retry succeeds (RN-6).
// Only loopback is contacted. Exit 0 on success, 1 on any failure.
//
// Over HTTPS (`run.sh` does both): when TESSERA_URL is set, the server
// already runs there (`tessera serve --control --tls --tls-cert-out C.pem`,
// started by run.sh) and Node trusts its certificate through
// NODE_EXTRA_CA_CERTS=C.pem; the same checks then run over TLS, and the
// advertised token service URL must be https too.
import { spawn } from "node:child_process";
import { ArcGISIdentityManager, request } from "@esri/arcgis-rest-request";
import { BasemapStyleSession } from "@esri/arcgis-rest-basemap-sessions";

const BIN = process.env.TESSERA_BIN || "../../target/debug/tessera";
const USER = { username: "alice", password: "alice-secret-1" };
let failures = 0;

function check(name, cond, extra = "") {
  console.log(`${cond ? "PASS" : "FAIL"} ${name}${extra ? " — " + extra : ""}`);
  if (!cond) failures++;
}

async function step(name, fn) {
  try {
    await fn();
  } catch (e) {
    check(name, false, `${e?.name}: ${e?.message}`);
  }
}

function startServer() {
  if (process.env.TESSERA_URL) {
    return Promise.resolve({ child: null, base: process.env.TESSERA_URL.trim() });
  }
  return new Promise((resolve, reject) => {
    const child = spawn(BIN, ["serve", "--control", "--listen", "127.0.0.1:0"], {
      stdio: ["ignore", "pipe", "inherit"],
    });
    let out = "";
    child.stdout.on("data", (d) => {
      out += d;
      const m = out.match(/^(https?:\/\/127\.0\.0\.1:\d+)\s*$/m);
      if (m) resolve({ child, base: m[1] });
    });
    child.on("exit", (c) => reject(new Error(`tessera serve exited with ${c}`)));
    setTimeout(() => reject(new Error("tessera serve did not print its URL")), 10000);
  });
}

async function control(base, path, body) {
  const r = await fetch(base + path, {
    method: body ? "POST" : "GET",
    headers: { "content-type": "application/json" },
    body: body ? JSON.stringify(body) : undefined,
  });
  return r.json();
}

const { child, base } = await startServer();
const portal = `${base}/sharing/rest`;
console.log(`reference at ${base}`);

try {
  // 0. Advertised URLs use the scheme the client used.
  await step("advertised token service URL", async () => {
    const info = await fetch(`${base}/arcgis/rest/info?f=json`).then((r) => r.json());
    const url = info?.authInfo?.tokenServicesUrl ?? "";
    check("tokenServicesUrl uses the scheme of the request", url.startsWith(base + "/"), url);
  });

  // 1. Portal sign-in.
  let mgr;
  await step("portal sign-in", async () => {
    mgr = await ArcGISIdentityManager.signIn({ ...USER, portal, tokenDuration: 60 });
    const user = await mgr.getUser();
    check("portal sign-in (generateToken + community/self)", user.username === "alice" && !!mgr.token);
  });

  // 2. Secured request on the federated server.
  await step("federated secured request", async () => {
    const svc = await request(`${base}/federated/rest/services/SampleWorldCities/MapServer`, {
      authentication: mgr,
      httpMethod: "GET",
    });
    check("federated secured request (token exchange)", svc.mapName === "SampleWorldCities");
  });

  // 3. Basemap session on the federated mount.
  await step("basemap session (federated)", async () => {
    const session = await BasemapStyleSession.start({
      startSessionUrl: `${base}/federated/rest/services/styles/v2/sessions/start`,
      authentication: mgr,
      styleFamily: "arcgis",
      duration: 60,
    });
    const tok = session.token;
    session.destroy?.();
    check("basemap session start", typeof tok === "string" && tok.startsWith("AAST"));
    const r = await fetch(`${base}/federated/rest/services/styles/v2/styles/arcgis/navigation?token=${tok}`);
    check("style fetched with the session token", r.status === 200);
  });

  // 4. Stand-alone server mode.
  await step("stand-alone server mode", async () => {
    const sm = new ArcGISIdentityManager({ ...USER, server: `${base}/arcgis`, portal, tokenDuration: 60 });
    await sm.refreshCredentials();
    const svc = await request(`${base}/arcgis/rest/services/Restricted/MapServer`, {
      authentication: sm,
      httpMethod: "GET",
    });
    check("stand-alone sign-in + secured request", svc.mapName === "Restricted");
    const session = await BasemapStyleSession.start({
      startSessionUrl: `${base}/arcgis/rest/services/styles/v2/sessions/start`,
      authentication: sm,
      styleFamily: "open",
      duration: 30,
    });
    const tok = session.token;
    session.destroy?.();
    check("stand-alone basemap session start", typeof tok === "string" && tok.startsWith("AAST"));
  });

  // 5. Expiry: the server's clock moves past the token's expiry; the client's
  // clock does not, so it sends the stale token, gets 498, refreshes, retries.
  await step("fresh token after expiry", async () => {
    const before = mgr.token;
    const now = await control(base, "/_tessera/clock", { advance_ms: 61 * 60 * 1000 });
    check("control API advanced the clock", typeof now.now_ms === "number");
    const stale = await fetch(`${portal}/community/self?f=json&token=${before}`).then((r) => r.json());
    check("old token now answers 498", stale?.error?.code === 498, JSON.stringify(stale));
    const self = await request(`${portal}/community/self`, { authentication: mgr, httpMethod: "GET" });
    check(
      "client fetched a fresh token and its retry succeeded",
      self.username === "alice" && mgr.token !== before,
    );
  });
} finally {
  child?.kill("SIGINT");
}

const over = base.startsWith("https:") ? "HTTPS" : "HTTP";
console.log(failures === 0 ? `client-compat (${over}): all passed` : `client-compat (${over}): ${failures} failure(s)`);
process.exit(failures === 0 ? 0 : 1);
