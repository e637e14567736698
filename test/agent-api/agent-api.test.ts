/**
 * The agent pull API over HTTPS: identity (cluster-key JWTs; cross-cluster 403; unknown, deleted,
 * wrong key, expired, over-long and malformed tokens 401; a replaced key refused at once), desired
 * state (JWE-sealed secrets that open to what was sent, ETag/304, long-poll wake-up, tombstones),
 * reports (stale ignored, status becomes the ARM resource's, tombstone removal, heartbeat and Offline),
 * and a 304 poll that touches no store.
 */
import { compactDecrypt } from "jose";
import t from "tap";
import { startServer, type TestServer } from "../helpers/server.js";
import { client } from "../helpers/http.js";
import { testAgent, type TestAgent } from "../helpers/agent-token.js";
import { clusterBody, clusterPath, configurationBody, configurationPath, knownHostsB64, sshPrivateKeyB64 } from "../helpers/fixtures.js";
import { ManualClock } from "../../src/ports/clock.js";
import { sshPublicKeyLine } from "../helpers/ssh-public-keys.js";

const V = "api-version=2024-11-01";
const CV = "api-version=2024-01-01";
const agentBase = (cluster: string) => `/agent/v1${clusterPath(cluster)}`;

let server: TestServer;
let arm: ReturnType<typeof client>;
let raw: ReturnType<typeof client>;
const clock = new ManualClock(Date.now());

t.before(async () => {
  server = await startServer({ clock, agent: { stalenessMs: 60_000, offlineAfterMs: 120_000 } });
  arm = client(server.url, server.ca, server.token);
  raw = client(server.url, server.ca);
});
t.teardown(() => server.close());

async function register(name: string, agent: TestAgent) {
  const res = await arm(`${clusterPath(name)}?${CV}`, { method: "PUT", body: clusterBody(agent.publicKeyB64) });
  if (res.status !== 201 && res.status !== 200) throw new Error(`${res.status} ${res.text}`);
}

const poll = async (cluster: string, agent: TestAgent, headers: Record<string, string> = {}, query = "") =>
  raw(`${agentBase(cluster)}/configurations${query}`, { token: await agent.token(clusterPath(cluster), { iat: Math.floor(clock.now() / 1000) }), headers });

t.test("identity", async (t) => {
  const a = testAgent("ec");
  const b = testAgent("rsa");
  await register("id-a", a);
  await register("id-b", b);
  t.equal((await poll("id-a", a)).status, 200, "ES256 agent");
  t.equal((await poll("id-b", b)).status, 200, "RS256 agent");

  const crossToken = await a.token(clusterPath("id-a"));
  const cross = await raw(`${agentBase("id-b")}/configurations`, { token: crossToken });
  t.equal(cross.status, 403, "cluster A's token on cluster B");
  t.equal(cross.json.error.code, "AuthorizationFailed");
  const crossWrite = await raw(`${agentBase("id-b")}/heartbeat`, { method: "POST", token: crossToken, body: { agentVersion: "1", kubernetesVersion: "1.30", totalNodeCount: 1 } });
  t.equal(crossWrite.status, 403, "and cannot write there either");

  const cases: Array<[string, Promise<string> | string]> = [
    ["no token", ""],
    ["malformed", "not.a.jwt"],
    ["wrong key", testAgent("ec").token(clusterPath("id-a"))],
    ["unknown cluster", a.token(clusterPath("never-registered"))],
    ["wrong audience", a.token(clusterPath("id-a"), { audience: "someone-else" })],
    ["expired", a.token(clusterPath("id-a"), { iat: Math.floor(Date.now() / 1000) - 3600, lifetimeSeconds: 300 })],
    ["lifetime over 10 minutes", a.token(clusterPath("id-a"), { lifetimeSeconds: 3600 })],
    ["iat in the future (a token good for years)", a.token(clusterPath("id-a"), { iat: Math.floor(Date.now() / 1000) + 5 * 365 * 86_400 })],
  ];
  for (const [label, token] of cases) {
    const res = await raw(`${agentBase("id-a")}/configurations`, { token: (await token) || null });
    t.equal(res.status, 401, label);
    t.ok(res.headers["www-authenticate"], `${label}: WWW-Authenticate`);
    // only a signature by another key than the registered one has a code of its own (the agent names the fix)
    if (label !== "no token") t.equal(res.json.error.code, label === "wrong key" ? "AgentKeyMismatch" : "InvalidAuthenticationToken", `${label}: error code`);
  }

  // a replaced key stops working at once, even for a token verified (and cached) a moment ago
  const oldToken = await a.token(clusterPath("id-a"));
  t.equal((await raw(`${agentBase("id-a")}/configurations`, { token: oldToken })).status, 200);
  const next = testAgent("ec");
  await register("id-a", next);
  t.equal((await raw(`${agentBase("id-a")}/configurations`, { token: oldToken })).status, 401, "old key refused after the cluster PUT");
  t.equal((await poll("id-a", next)).status, 200, "the new key works");
  // a deleted cluster
  t.equal((await arm(`${clusterPath("id-b")}?${CV}`, { method: "DELETE" })).status, 200);
  t.equal((await poll("id-b", b)).status, 401, "deleted cluster");
});

t.test("desired state: sealed secrets, ETag and 304 without store calls, long-poll, tombstones, reports", async (t) => {
  const agent = testAgent("ec");
  await register("ds", agent);
  const secret = sshPrivateKeyB64();
  const hosts = knownHostsB64();
  const put = await arm(`${configurationPath("ds", "cfg")}?${V}`, { method: "PUT", body: configurationBody({ configurationProtectedSettings: { sshPrivateKey: secret }, sshKnownHostsContents: hosts }) });
  t.equal(put.status, 201, put.text);

  const first = await poll("ds", agent);
  t.equal(first.status, 200);
  const etag = first.headers.etag as string;
  t.match(etag, /^"[^"]+"$/, "strong ETag");
  const cfg = first.json.configurations[0];
  t.match(cfg, { name: "cfg", generation: 1, deleted: false, properties: { operatorNamespace: "flux", operatorScope: "namespace" } });
  t.notOk("sshKnownHostsContents" in cfg.properties, "known_hosts travels sealed, not in clear");
  t.ok(first.json.pollIntervalSeconds >= 24 && first.json.pollIntervalSeconds <= 36, "poll interval with jitter");
  const opened = JSON.parse(new TextDecoder().decode((await compactDecrypt(cfg.protectedSettings, agent.privateKey)).plaintext));
  t.same(opened, { protectedSettings: { sshPrivateKey: secret }, sshKnownHostsContents: hosts }, "the JWE opens with the agent's key to exactly what was sent");
  t.notOk(first.text.includes(secret), "the response never holds the secret in clear");

  // the common case: nothing new, no store round trip
  const callsBefore = server.store.totalCalls();
  const unchanged = await poll("ds", agent, { "if-none-match": etag });
  t.equal(unchanged.status, 304);
  t.equal(unchanged.text, "", "no body");
  t.equal(server.store.totalCalls(), callsBefore, "a 304 poll touched no store");

  // long-poll wakes on change
  const started = Date.now();
  const waiting = poll("ds", agent, { "if-none-match": etag }, "?waitSeconds=20");
  await new Promise((r) => setTimeout(r, 200));
  t.equal((await arm(`${configurationPath("ds", "cfg")}?${V}`, { method: "PUT", body: configurationBody({ operatorParams: "--git-readonly --git-branch=release" }) })).status, 200);
  const woke = await waiting;
  t.equal(woke.status, 200, "the long poll answered with the change");
  t.ok(Date.now() - started < 5000, "as soon as it happened");
  t.equal(woke.json.configurations[0].generation, 2);
  t.notOk(woke.json.configurations[0].protectedSettings, "secrets replaced by a PUT without them are gone");
  const etag2 = woke.headers.etag as string;
  t.not(etag2, etag);
  const timedOut = await poll("ds", agent, { "if-none-match": etag2 }, "?waitSeconds=1");
  t.equal(timedOut.status, 304, "a long poll with nothing new ends in 304");
  t.equal((await poll("ds", agent, {}, "?waitSeconds=61")).status, 400, "waitSeconds is bounded");

  // reports
  const status = (body: unknown) => raw(`${agentBase("ds")}/configurations/cfg/status`, { method: "POST", body, token: null, headers: {} });
  const tokenHeaders = async () => ({ authorization: `Bearer ${await agent.token(clusterPath("ds"), { iat: Math.floor(clock.now() / 1000) })}` });
  const report = async (body: unknown) => raw(`${agentBase("ds")}/configurations/cfg/status`, { method: "POST", body, headers: await tokenHeaders() });
  t.equal((await status({ observedGeneration: 2, complianceState: "Installed" })).status, 401, "reports need the agent token");
  const stale = await report({ observedGeneration: 1, complianceState: "Failed", message: "old", messageLevel: "Error" });
  t.same(stale.json, { accepted: false, reason: "stale" }, "a report about an older generation is ignored");
  t.equal((await report({ observedGeneration: 2, complianceState: "Bogus" })).status, 400, "bad input: 400");
  t.equal((await report({ observedGeneration: 9, complianceState: "Installed" })).status, 400, "a generation from the future: 400");
  const deployKey = sshPublicKeyLine("ssh-ed25519", "deploy");
  const ok = await report({ observedGeneration: 2, complianceState: "Installed", message: "applied", messageLevel: "Information", lastConfigApplied: "2026-12-01T00:00:00Z", repositoryPublicKey: deployKey });
  t.same(ok.json, { accepted: true });
  const shown = await arm(`${configurationPath("ds", "cfg")}?${V}`);
  t.match(shown.json.properties, { repositoryPublicKey: deployKey, provisioningState: "Succeeded", complianceStatus: { complianceState: "Installed", message: "applied", lastConfigApplied: "2026-12-01T00:00:00.000Z" } });
  t.equal((await report({ observedGeneration: 1, complianceState: "Failed" })).json.accepted, false);
  t.equal((await arm(`${configurationPath("ds", "cfg")}?${V}`)).json.properties.complianceStatus.complianceState, "Installed", "the stale report did not overwrite");

  // delete: a tombstone reaches the agent; its removal report makes it disappear
  t.equal((await arm(`${configurationPath("ds", "cfg")}?${V}`, { method: "DELETE" })).status, 200);
  const tomb = await poll("ds", agent, { "if-none-match": etag2 });
  t.equal(tomb.status, 200);
  t.match(tomb.json.configurations[0], { name: "cfg", deleted: true, generation: 3 });
  t.same((await report({ observedGeneration: 3, complianceState: "Installed", removed: true })).json, { accepted: true });
  const after = await poll("ds", agent, { "if-none-match": tomb.headers.etag as string });
  t.equal(after.status, 200);
  t.same(after.json.configurations, [], "the tombstone is gone");
});

t.test("heartbeat: Connected with agent facts, Offline after silence", async (t) => {
  const agent = testAgent("ec");
  await register("hb", agent);
  t.equal((await arm(`${clusterPath("hb")}?${CV}`)).json.properties.connectivityStatus, "Connecting");
  const beat = await raw(`${agentBase("hb")}/heartbeat`, { method: "POST", headers: { authorization: `Bearer ${await agent.token(clusterPath("hb"), { iat: Math.floor(clock.now() / 1000) })}` }, body: { agentVersion: "1.2.3", kubernetesVersion: "1.30.2", totalNodeCount: 3 } });
  t.equal(beat.status, 204, beat.text);
  const connected = await arm(`${clusterPath("hb")}?${CV}`);
  t.match(connected.json.properties, { connectivityStatus: "Connected", agentVersion: "1.2.3", kubernetesVersion: "1.30.2", totalNodeCount: 3 });
  t.ok(connected.json.properties.lastConnectivityTime);
  const bad = await raw(`${agentBase("hb")}/heartbeat`, { method: "POST", headers: { authorization: `Bearer ${await agent.token(clusterPath("hb"), { iat: Math.floor(clock.now() / 1000) })}` }, body: { agentVersion: "1", kubernetesVersion: "1", totalNodeCount: -1 } });
  t.equal(bad.status, 400, "bad heartbeat: 400");
  clock.advance(121_000);
  t.equal((await arm(`${clusterPath("hb")}?${CV}`)).json.properties.connectivityStatus, "Offline", "silent beyond the threshold");
});

t.test("status reports: the deploy key must be an SSH public key, 'removed' only for a tombstone (ARM-shaped 400s, nothing recorded)", async (t) => {
  const agent = testAgent("ec");
  await register("rp", agent);
  t.equal((await arm(`${configurationPath("rp", "cfg")}?${V}`, { method: "PUT", body: configurationBody() })).status, 201);
  const report = async (body: unknown) =>
    raw(`${agentBase("rp")}/configurations/cfg/status`, { method: "POST", body, token: await agent.token(clusterPath("rp"), { iat: Math.floor(clock.now() / 1000) }) });
  const shown = async () => (await arm(`${configurationPath("rp", "cfg")}?${V}`)).json.properties;
  const before = await shown();

  const badKeys = [
    "not a key <b>",
    "ssh-ed25519 AAAAC3NzaC1lZDI1NTE5AAAAIA deploy",
    `ssh-rsa ${sshPublicKeyLine("ssh-ed25519").split(" ")[1]}`,
    `${sshPublicKeyLine("ssh-ed25519", undefined)} <img src=x>`,
    `${sshPublicKeyLine("ecdsa-sha2-nistp256", "a")}\nssh-ed25519 AAAA`,
  ];
  for (const key of badKeys) {
    const res = await report({ observedGeneration: 1, complianceState: "Installed", repositoryPublicKey: key });
    t.equal(res.status, 400, JSON.stringify(key.slice(0, 40)));
    t.match(res.json, { error: { code: "InvalidParameter", target: "repositoryPublicKey", message: /not an SSH public key/ } });
  }
  const removed = await report({ observedGeneration: 1, complianceState: "Installed", removed: true });
  t.equal(removed.status, 400, "removed: true for a live configuration");
  t.match(removed.json, { error: { code: "InvalidParameter", target: "removed" } });
  t.same(await shown(), before, "nothing recorded by a refused report");
  t.equal((await arm(`${configurationPath("rp", "cfg")}?${V}`)).status, 200, "the configuration is still there");

  for (const type of ["ssh-rsa", "ecdsa-sha2-nistp256", "ecdsa-sha2-nistp384", "ecdsa-sha2-nistp521", "ssh-ed25519"] as const) {
    const key = sshPublicKeyLine(type, `flux-${type}`);
    t.same((await report({ observedGeneration: 1, complianceState: "Installed", repositoryPublicKey: key })).json, { accepted: true }, type);
    t.equal((await shown()).repositoryPublicKey, key);
  }
});
