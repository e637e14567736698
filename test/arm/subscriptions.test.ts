import crypto from "node:crypto";
import t from "tap";
import { startServer, type TestServer } from "../helpers/server.js";
import { ChangeBus } from "../../src/domain/changes.js";
import { ChangeWatcher } from "../../src/jobs/change-watcher.js";
import { Changes } from "../../src/persistence/changes.js";
import { systemClock } from "../../src/ports/clock.js";
import { client } from "../helpers/http.js";
import { clusterBody, clusterPath, configurationBody, configurationPath } from "../helpers/fixtures.js";

const V = "api-version=2024-11-01";
const CV = "api-version=2024-01-01";
const LIFECYCLE = "api-version=2.0";

t.test("lifecycle states gate what may be done (production-like: no auto-registration)", async (t) => {
  const server: TestServer = await startServer({ autoRegisterSubscriptions: false });
  t.teardown(() => server.close());
  const http = client(server.url, server.ca, server.token);
  const sub = crypto.randomUUID();
  const notify = (state: string, tenantId = server.identity.tenantId) =>
    http(`/subscriptions/${sub}?${LIFECYCLE}`, {
      method: "PUT",
      body: { state, registrationDate: new Date().toUTCString(), properties: { tenantId, accountOwner: { email: "owner@example.com" }, quotaId: "q" } },
    });
  const putCluster = () => http(`${clusterPath("c1", sub)}?${CV}`, { method: "PUT", body: clusterBody() });

  const refused = await putCluster();
  t.equal(refused.status, 409, "an unknown subscription cannot be written to");
  t.equal(refused.json.error.code, "SubscriptionNotRegistered");
  t.equal((await http(`${clusterPath("c1", sub)}?${CV}`)).status, 404, "reads of an unknown subscription find nothing");

  const registered = await notify("Registered");
  t.equal(registered.status, 200);
  t.equal(registered.json.state, "Registered", "the notification is echoed");
  const stored = await http(`/subscriptions/${sub}?${LIFECYCLE}`);
  t.equal(stored.json.state, "Registered");
  t.notMatch(stored.text, /owner@example\.com/, "account owner (PII) is not stored");
  t.equal((await notify("Registered")).status, 200, "idempotent");

  t.equal((await putCluster()).status, 201);
  t.equal((await http(`${configurationPath("c1", "cfg", sub)}?${V}`, { method: "PUT", body: configurationBody() })).status, 201);

  for (const state of ["Warned", "Suspended"]) {
    t.equal((await notify(state)).status, 200);
    const put = await putCluster();
    t.equal(put.status, 409, `${state}: no PUT`);
    t.equal(put.json.error.code, "ReadOnlyDisabledSubscription");
    t.equal((await http(`${clusterPath("c1", sub)}?${CV}`)).status, 200, `${state}: GET works`);
  }
  t.equal((await http(`${configurationPath("c1", "cfg", sub)}?${V}`, { method: "DELETE" })).status, 200, "Suspended: DELETE works");

  t.equal((await notify("Unregistered")).status, 200);
  t.equal((await http(`${configurationPath("c1", "cfg2", sub)}?${V}`, { method: "DELETE" })).status, 409, "Unregistered: GET only");
  t.equal((await http(`${clusterPath("c1", sub)}?${CV}`)).status, 200);

  t.equal((await notify("Registered")).status, 200);
  t.equal((await http(`${configurationPath("c1", "cfg3", sub)}?${V}`, { method: "PUT", body: configurationBody() })).status, 201);
  t.equal((await notify("Deleted")).status, 200);
  t.equal((await http(`${clusterPath("c1", sub)}?${CV}`)).status, 404, "Deleted: cascade removed the cluster");
  const listed = await http(`/subscriptions/${sub}/providers/Microsoft.Kubernetes/connectedClusters?${CV}`);
  t.same(listed.json.value, []);
  t.equal((await putCluster()).status, 404, "Deleted: no writes");

  const bad = await http(`/subscriptions/${sub}?${LIFECYCLE}`, { method: "PUT", body: { state: "Sleeping" } });
  t.equal(bad.status, 400);
  const wrongVersion = await http(`/subscriptions/${sub}?${V}`, { method: "PUT", body: { state: "Registered" } });
  t.equal(wrongVersion.status, 400);
});

t.test("tenant check and trusted callers", async (t) => {
  const server = await startServer({ autoRegisterSubscriptions: true });
  t.teardown(() => server.close());
  const http = client(server.url, server.ca, server.token);
  const sub = crypto.randomUUID();
  t.equal((await http(`${clusterPath("c1", sub)}?${CV}`, { method: "PUT", body: clusterBody() })).status, 201, "dev mode registers on first write");
  const reg = await http(`/subscriptions/${sub}?${LIFECYCLE}`);
  t.equal(reg.json.state, "Registered");
  t.equal(reg.json.properties.tenantId, server.identity.tenantId, "registered to the caller's tenant");

  const otherTenant = await server.identity.mint({ claims: { tid: crypto.randomUUID() } });
  const foreign = await http(`${clusterPath("c1", sub)}?${CV}`, { token: otherTenant });
  t.equal(foreign.status, 403);
  t.equal(foreign.json.error.code, "InvalidAuthenticationTokenTenant");
  const foreignList = await http(`/subscriptions/${sub}/providers/Microsoft.Kubernetes/connectedClusters?${CV}`, { token: otherTenant });
  t.equal(foreignList.status, 403, "lists are guarded too");

  const stranger = await server.identity.mint({ claims: { oid: crypto.randomUUID() } });
  const notTrusted = await http(`/subscriptions/${sub}?${LIFECYCLE}`, { method: "PUT", token: stranger, body: { state: "Suspended" } });
  t.equal(notTrusted.status, 403);
  t.equal(notTrusted.json.error.code, "AuthorizationFailed");
});

t.test("authentication: missing, malformed, forged and expired tokens get 401 with WWW-Authenticate", async (t) => {
  const server = await startServer();
  t.teardown(() => server.close());
  const http = client(server.url, server.ca);
  const path = `/providers/Microsoft.KubernetesConfiguration/operations?${V}`;
  const missing = await http(path, { token: null });
  t.equal(missing.status, 401);
  t.match(String(missing.headers["www-authenticate"]), /^Bearer/);
  t.equal(missing.json.error.code, "AuthenticationFailed");
  const garbage = await http(path, { token: "not-a-jwt" });
  t.equal(garbage.status, 401);
  t.equal(garbage.json.error.code, "InvalidAuthenticationToken");
  const { privateKey } = crypto.generateKeyPairSync("ec", { namedCurve: "P-256" });
  const { SignJWT } = await import("jose");
  const forged = await new SignJWT({ tid: server.identity.tenantId, oid: server.identity.objectId })
    .setProtectedHeader({ alg: "ES256" })
    .setIssuer("https://dev.kubernetesconfiguration.local/")
    .setAudience("https://management.azure.com/")
    .setExpirationTime("1h")
    .sign(privateKey);
  t.equal((await http(path, { token: forged })).status, 401, "a token signed by another key");
  const expired = await server.identity.mint({ now: Date.now() - 3 * 3600_000, lifetimeSeconds: 3600 });
  const res = await http(path, { token: expired });
  t.equal(res.status, 401);
  t.match(res.json.error.message, /expired/);
  t.equal((await http(path, { token: server.token })).status, 200);
});

t.test("a second subscription's Deleted notification answers (its every-cluster marker is its own)", async (t) => {
  // the Deleted cascade's marker once had one key for all subscriptions: the second Deleted looped forever on the event loop
  const server: TestServer = await startServer();
  t.teardown(() => server.close());
  const http = client(server.url, server.ca, server.token);
  const bus = new ChangeBus();
  const seen: string[] = [];
  bus.on((change) => seen.push(change.clusterKey));
  const watcher = new ChangeWatcher(new Changes(server.store), bus, systemClock, { intervalMs: 1000, overlapMs: 60_000, limit: 100 });
  const subs = [crypto.randomUUID(), crypto.randomUUID(), crypto.randomUUID()];
  for (const sub of subs) {
    const deleted = await http(`/subscriptions/${sub}?${LIFECYCLE}`, { method: "PUT", body: { state: "Deleted" } });
    t.equal(deleted.status, 200, `Deleted for ${sub.slice(0, 8)} answers`);
  }
  const markers = await server.store.inner.changedSince({ kinds: ["system"], since: 0, limit: 100 });
  const everyCluster = markers.items.filter((d) => d.key.startsWith("desired:*"));
  t.ok(subs.every((sub) => everyCluster.some((d) => d.key.endsWith(sub.toLowerCase()))), "one every-cluster marker per deleted subscription, naming it");
  await watcher.runOnce();
  t.ok(seen.length >= 3 && seen.every((k) => k === "*"), "other replicas read each as a change of every cluster");
});
