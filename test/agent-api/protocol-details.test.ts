/**
 * Issue #10 §6, agent protocol details:
 * - If-None-Match per RFC 9110 (weak comparison, lists, "*") on the agent poll, with the one parser of
 *   src/arm/etag.ts (also ARM If-Match: strong comparison);
 * - a heartbeat does not move the cluster's ARM ETag: an If-Match PUT/DELETE made from a GET before a
 *   heartbeat succeeds, one made before a user's change gets 412;
 * - store.db, -wal and -shm are owner-only (0600), created so and narrowed so when found looser.
 */
import fs from "node:fs";
import path from "node:path";
import Database from "better-sqlite3";
import t from "tap";
import { conditionMatches, parseTagCondition } from "../../src/arm/etag.js";
import { testAgent, type TestAgent } from "../helpers/agent-token.js";
import { clusterBody, clusterPath, configurationBody, configurationPath } from "../helpers/fixtures.js";
import { client } from "../helpers/http.js";
import { SQLITE_FILE } from "../helpers/raw-store.js";
import { startServer, tempDir, type TestServer } from "../helpers/server.js";

const CV = "api-version=2024-01-01";
const V = "api-version=2024-11-01";
const agentBase = (cluster: string) => `/agent/v1${clusterPath(cluster)}`;
const HEARTBEAT = { agentVersion: "1.2.3", kubernetesVersion: "1.30.1", totalNodeCount: 3 };

t.test("parseTagCondition / conditionMatches", async (t) => {
  const e = '"abc"';
  const weak = (h: string) => conditionMatches(parseTagCondition(h), e, "weak");
  const strong = (h: string) => conditionMatches(parseTagCondition(h), e, "strong");
  t.ok(weak('"abc"'));
  t.ok(weak('W/"abc"'), "weak comparison ignores W/");
  t.ok(weak('"x", "abc"'), "any member of a list");
  t.ok(weak('"x",W/"abc" , "y"'), "list without spaces, weak member in the middle");
  t.ok(weak("*"));
  t.ok(weak(" * "));
  t.ok(weak("abc"), "an unquoted tag is read leniently");
  t.notOk(weak('"x"'));
  t.notOk(weak('"x", "y"'));
  t.notOk(weak('"ab"'));
  t.notOk(weak('"abc'), "an unterminated tag is not a match");
  t.notOk(weak('"abcd"'), "tags are compared whole");
  t.ok(strong('"abc"'));
  t.ok(strong('"x", "abc"'));
  t.ok(strong("*"));
  t.notOk(strong('W/"abc"'), "strong comparison: a weak tag never matches");
  t.same(parseTagCondition('W/"a", "b"'), { any: false, tags: [{ weak: true, opaque: "a" }, { weak: false, opaque: "b" }] });
});

let server: TestServer;
let arm: ReturnType<typeof client>;
let raw: ReturnType<typeof client>;

async function register(name: string, agent: TestAgent) {
  const res = await arm(`${clusterPath(name)}?${CV}`, { method: "PUT", body: clusterBody(agent.publicKeyB64) });
  if (res.status !== 201 && res.status !== 200) throw new Error(`${res.status} ${res.text}`);
}

t.test("with a server", async (t) => {
  server = await startServer();
  t.teardown(() => server.close());
  arm = client(server.url, server.ca, server.token);
  raw = client(server.url, server.ca);

  t.test("agent If-None-Match: RFC 9110 weak comparison, lists and *", async (t) => {
    const a = testAgent("ec");
    await register("inm", a);
    t.equal((await arm(`${configurationPath("inm", "c1")}?${V}`, { method: "PUT", body: configurationBody() })).status, 201);
    const token = await a.token(clusterPath("inm"));
    const first = await raw(`${agentBase("inm")}/configurations`, { token });
    t.equal(first.status, 200);
    const etag = first.headers.etag as string;
    t.match(etag, /^"[^"]+"$/, "a strong quoted tag");
    const cases: Array<[string, number]> = [
      [etag, 304],
      [`W/${etag}`, 304],
      [`"other", ${etag}`, 304],
      [`W/"other",W/${etag}`, 304],
      ["*", 304],
      ['"other"', 200],
      ['"other", W/"else"', 200],
    ];
    for (const [header, status] of cases) {
      const res = await raw(`${agentBase("inm")}/configurations`, { token, headers: { "if-none-match": header } });
      t.equal(res.status, status, `If-None-Match: ${header}`);
      if (status === 304) t.equal(res.headers.etag, etag, "304 carries the current tag");
    }
    // a long poll with a weak tag waits like one with the strong tag, and wakes on a change
    const waiting = raw(`${agentBase("inm")}/configurations?waitSeconds=10`, { token, headers: { "if-none-match": `"x", W/${etag}` } });
    await new Promise((r) => setTimeout(r, 200));
    t.equal((await arm(`${configurationPath("inm", "c2")}?${V}`, { method: "PUT", body: configurationBody() })).status, 201);
    const woke = await waiting;
    t.equal(woke.status, 200, "woken by the change");
    t.not(woke.headers.etag, etag);
  });

  t.test("a heartbeat does not fail a user's If-Match write; a user's change does", async (t) => {
    const a = testAgent("ec");
    await register("hb", a);
    const token = await a.token(clusterPath("hb"));
    const before = await arm(`${clusterPath("hb")}?${CV}`);
    const etag = before.headers.etag as string;

    t.equal((await raw(`${agentBase("hb")}/heartbeat`, { method: "POST", token, body: HEARTBEAT })).status, 204);
    const after = await arm(`${clusterPath("hb")}?${CV}`);
    t.equal(after.json.properties.connectivityStatus, "Connected", "the heartbeat was recorded");
    t.equal(after.json.properties.agentVersion, "1.2.3");
    t.equal(after.headers.etag, etag, "the ARM ETag did not move");

    const put = await arm(`${clusterPath("hb")}?${CV}`, { method: "PUT", body: clusterBody(a.publicKeyB64, { tags: { env: "one" } }), headers: { "if-match": etag } });
    t.equal(put.status, 200, `If-Match from before the heartbeat: ${put.text.slice(0, 200)}`);
    t.equal(put.json.properties.agentVersion, "1.2.3", "the agent's fields survive the PUT");
    const changed = put.headers.etag as string;
    t.not(changed, etag, "a user's write moves the ETag");

    // another heartbeat, then a user's change, then the If-Match write made from the earlier GET
    t.equal((await raw(`${agentBase("hb")}/heartbeat`, { method: "POST", token, body: { ...HEARTBEAT, totalNodeCount: 4 } })).status, 204);
    t.equal((await arm(`${clusterPath("hb")}?${CV}`, { method: "PUT", body: clusterBody(a.publicKeyB64, { tags: { env: "two" } }) })).status, 200);
    const stale = await arm(`${clusterPath("hb")}?${CV}`, { method: "PUT", body: clusterBody(a.publicKeyB64, { tags: { env: "three" } }), headers: { "if-match": changed } });
    t.equal(stale.status, 412, "a user's change in between: 412");
    t.equal(stale.json.error.code, "PreconditionFailed");

    // DELETE with If-Match across a heartbeat
    const current = (await arm(`${clusterPath("hb")}?${CV}`)).headers.etag as string;
    t.equal((await raw(`${agentBase("hb")}/heartbeat`, { method: "POST", token, body: HEARTBEAT })).status, 204);
    t.equal((await arm(`${clusterPath("hb")}?${CV}`, { method: "DELETE", headers: { "if-match": `W/${current}` } })).status, 412, "If-Match compares strongly");
    t.equal((await arm(`${clusterPath("hb")}?${CV}`, { method: "DELETE", headers: { "if-match": current } })).status, 200, "DELETE with the tag from before the heartbeat");
  });

  t.test("heartbeats racing If-Match PUTs never fail them", async (t) => {
    const a = testAgent("ec");
    await register("race", a);
    const token = await a.token(clusterPath("race"));
    for (let i = 0; i < 10; i++) {
      const etag = (await arm(`${clusterPath("race")}?${CV}`)).headers.etag as string;
      const [put] = await Promise.all([
        arm(`${clusterPath("race")}?${CV}`, { method: "PUT", body: clusterBody(a.publicKeyB64, { tags: { round: String(i) } }), headers: { "if-match": etag } }),
        raw(`${agentBase("race")}/heartbeat`, { method: "POST", token, body: { ...HEARTBEAT, totalNodeCount: i + 1 } }),
        raw(`${agentBase("race")}/heartbeat`, { method: "POST", token, body: { ...HEARTBEAT, totalNodeCount: i + 1 } }),
      ]);
      t.equal(put.status, 200, `round ${i}: ${put.text.slice(0, 120)}`);
    }
  });
});

const modeOf = (file: string) => fs.statSync(file).mode & 0o777;

t.test("store.db, -wal and -shm are 0600", async (t) => {
  const dataDir = tempDir();
  const s = await startServer({ dataDir });
  try {
    const http = client(s.url, s.ca, s.token);
    t.equal((await http(`${clusterPath("files")}?${CV}`, { method: "PUT", body: clusterBody() })).status, 201);
    for (const suffix of ["", "-wal", "-shm"]) {
      const file = path.join(dataDir, `${SQLITE_FILE}${suffix}`);
      t.ok(fs.existsSync(file), `${SQLITE_FILE}${suffix} exists (WAL mode)`);
      t.equal(modeOf(file).toString(8), "600", `${SQLITE_FILE}${suffix} is owner-only`);
    }
  } finally {
    await s.close();
  }
});

t.test("a store left world-readable by an older version is narrowed to 0600", async (t) => {
  const dataDir = tempDir();
  const file = path.join(dataDir, SQLITE_FILE);
  const previous = process.umask(0o022);
  try {
    const db = new Database(file);
    db.pragma("journal_mode = WAL");
    db.exec("CREATE TABLE t (x)");
    fs.chmodSync(file, 0o644);
    db.close();
  } finally {
    process.umask(previous);
  }
  t.equal(modeOf(file).toString(8), "644", "the stand-in of an old store is readable by others");
  const s = await startServer({ dataDir });
  try {
    const http = client(s.url, s.ca, s.token);
    t.equal((await http(`${clusterPath("old-files")}?${CV}`, { method: "PUT", body: clusterBody() })).status, 201);
    for (const suffix of ["", "-wal", "-shm"]) {
      const f = `${file}${suffix}`;
      if (fs.existsSync(f)) t.equal(modeOf(f).toString(8), "600", `${SQLITE_FILE}${suffix} narrowed`);
      else t.fail(`${SQLITE_FILE}${suffix} missing`);
    }
  } finally {
    await s.close();
  }
});
