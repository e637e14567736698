/**
 * An agent poll answered 304 makes no store call at all — every operation of the store's counter
 * (src/store/instrumented.ts) is compared, not a subset — with a token seen before, with a new token of
 * the same key, over a fleet of clusters, in any If-None-Match form, and past the staleness bound while
 * the change watcher is healthy. The same counter shows where a store read is due and happens: a
 * replaced key (refused at once, one read), past the bound with no healthy watcher (one marker read).
 */
import t from "tap";
import { startServer, type TestServer } from "../helpers/server.js";
import { client } from "../helpers/http.js";
import { testAgent, type TestAgent } from "../helpers/agent-token.js";
import { clusterBody, clusterPath, configurationBody, configurationPath, fluxConfigurationBody, fluxConfigurationPath } from "../helpers/fixtures.js";
import { ManualClock } from "../../src/ports/clock.js";

const V = "api-version=2024-11-01";
const CV = "api-version=2024-01-01";
const STALENESS = 10_000;

let server: TestServer;
let arm: ReturnType<typeof client>;
let raw: ReturnType<typeof client>;
const clock = new ManualClock(Date.now());

t.before(async () => {
  server = await startServer({ clock, agent: { stalenessMs: STALENESS } });
  arm = client(server.url, server.ca, server.token);
  raw = client(server.url, server.ca);
});
t.teardown(() => server.close());

/** every store operation counted so far, by name (ping and migrationsApplied included) */
const calls = () => JSON.stringify([...server.store.calls].sort());

interface Member {
  name: string;
  agent: TestAgent;
  token: string;
  etag: string;
}

/** a cluster with one configuration: Flux v1, or a Flux v2 fluxConfiguration (issue #16: one more kind, same poll path) */
async function member(name: string, flux = false): Promise<Member> {
  const agent = testAgent("ec");
  const put = await arm(`${clusterPath(name)}?${CV}`, { method: "PUT", body: clusterBody(agent.publicKeyB64) });
  if (put.status !== 201) throw new Error(`${put.status} ${put.text}`);
  const cfg = flux
    ? await arm(`${fluxConfigurationPath(name, "cfg")}?${V}`, { method: "PUT", body: fluxConfigurationBody() })
    : await arm(`${configurationPath(name, "cfg")}?${V}`, { method: "PUT", body: configurationBody() });
  if (cfg.status !== 201) throw new Error(`${cfg.status} ${cfg.text}`);
  const token = await agent.token(clusterPath(name), { iat: Math.floor(clock.now() / 1000), lifetimeSeconds: 600 });
  const first = await poll(name, token);
  if (first.status !== 200) throw new Error(`${first.status} ${first.text}`);
  return { name, agent, token, etag: first.headers.etag as string };
}

const poll = (name: string, token: string, headers: Record<string, string> = {}) =>
  raw(`/agent/v1${clusterPath(name)}/configurations`, { token, headers });

t.test("a 304 poll makes no store call", async (t) => {
  const fleet: Member[] = [];
  // half of them carry a Flux v2 fluxConfiguration (with sealed protected settings) instead of a v1 one
  for (let i = 0; i < 20; i++) fleet.push(await member(`zero-${i}`, i % 2 === 1));
  const auth = server.agentServices.authenticator;
  const desired = server.agentServices.desired;

  // the same token again and again, over the whole fleet
  let before = calls();
  const verifications = auth.verifications;
  const builds = desired.builds;
  for (let round = 0; round < 3; round++) {
    for (const m of fleet) t.equal((await poll(m.name, m.token, { "if-none-match": m.etag })).status, 304);
  }
  t.equal(calls(), before, "60 polls of 20 clusters answered 304: no store call of any kind");
  t.equal(auth.verifications, verifications, "no signature verified again (the token was verified once)");
  t.equal(desired.builds, builds, "no snapshot rebuilt");

  // a fresh token of the same key: one signature check, still no store call (the key is cached)
  const m0 = fleet[0] as Member;
  clock.advance(1000);
  const renewed = await m0.agent.token(clusterPath(m0.name), { iat: Math.floor(clock.now() / 1000), lifetimeSeconds: 600 });
  t.not(renewed, m0.token);
  t.equal((await poll(m0.name, renewed, { "if-none-match": m0.etag })).status, 304);
  t.equal(calls(), before, "a new token of a known cluster: no store call");
  t.equal(auth.verifications, verifications + 1, "and one signature check");

  // any form RFC 9110 allows for If-None-Match
  for (const form of [`W/${m0.etag}`, `"nope", ${m0.etag}`, "*", ` ${m0.etag} `]) t.equal((await poll(m0.name, m0.token, { "if-none-match": form })).status, 304, form);
  t.equal(calls(), before, "list, weak and * forms: no store call");
  t.equal((await poll(m0.name, m0.token, { "if-none-match": '"other"' })).status, 200, "a tag that does not match: the body");
  t.equal(calls(), before, "served from the snapshot too");

  // past the staleness bound, the watcher healthy: entries stay trusted (it would have announced a change)
  // (its first look replays the writes made above, as it would another replica's: one rebuild each)
  await server.changeWatcher.runOnce();
  for (const m of fleet) t.equal((await poll(m.name, m.token, { "if-none-match": m.etag })).status, 304);
  before = calls();
  clock.advance(STALENESS * 2);
  t.ok(server.changeWatcher.healthy());
  for (const m of fleet) t.equal((await poll(m.name, m.token, { "if-none-match": m.etag })).status, 304);
  t.equal(calls(), before, "past the staleness bound with a healthy watcher: no store call");

  // no healthy watcher: past the bound a poll checks the cluster's key and its marker (the cross-replica bound)
  clock.advance(STALENESS * 2);
  t.notOk(server.changeWatcher.healthy());
  const m1 = fleet[1] as Member;
  t.equal((await poll(m1.name, m1.token, { "if-none-match": m1.etag })).status, 304);
  const after = new Map(server.store.calls);
  const delta = (op: string) => (after.get(op) ?? 0) - (JSON.parse(before) as [string, number][]).reduce((n, [k, v]) => (k === op ? v : n), 0);
  t.equal(delta("get"), 2, "one read of the cluster (its key) and one of its version marker");
  t.equal((await poll(m1.name, m1.token, { "if-none-match": m1.etag })).status, 304);
  t.equal(server.store.calls.get("get"), after.get("get"), "and then none again until the bound passes");
});

t.test("a replaced key is refused at once, by the fast path too", async (t) => {
  await server.changeWatcher.runOnce();
  const m = await member("replaced");
  t.equal((await poll(m.name, m.token, { "if-none-match": m.etag })).status, 304);
  const next = testAgent("ec");
  t.equal((await arm(`${clusterPath(m.name)}?${CV}`, { method: "PUT", body: clusterBody(next.publicKeyB64) })).status, 200);
  const refused = await poll(m.name, m.token, { "if-none-match": m.etag });
  t.equal(refused.status, 401, "the old key's cached token is refused at once");
  const token = await next.token(clusterPath(m.name), { iat: Math.floor(clock.now() / 1000) });
  t.equal((await poll(m.name, token)).status, 200, "the new key works");
  t.equal((await arm(`${clusterPath(m.name)}?${CV}`, { method: "DELETE" })).status, 200);
  t.equal((await poll(m.name, token, { "if-none-match": m.etag })).status, 401, "a deleted cluster's cached token is refused at once");
});
