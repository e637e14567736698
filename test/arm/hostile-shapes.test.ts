/**
 * Hostile names and shapes, over HTTPS against the real server: ARM's subscription id, resource group,
 * tag and location rules on every route that takes them; fastify's and node's own refusals in ARM's
 * shape; 405 with Allow; responses bounded whatever the request; error bodies in the shape of the
 * requested api-version (checked with oav); DELETE conditions; operation ids bound to their resource.
 */
import fs from "node:fs";
import path from "node:path";
import tls from "node:tls";
import t, { type Test } from "tap";
import { startServer, tempDir, type TestServer } from "../helpers/server.js";
import { client, type HttpResponse } from "../helpers/http.js";
import { clusterBody, clusterPath, configurationBody, configurationPath, configurationsPath, SUB } from "../helpers/fixtures.js";
import { assignmentBody, assignmentPath, assignmentsPath, withApi } from "../helpers/assignments.js";
import { SCC_2021, validateTraffic } from "../helpers/oav.js";
import { ConfigError, loadConfig } from "../../src/config.js";
import type { TrafficPair } from "../helpers/traffic.js";
import { settle } from "../helpers/reconciler.js";

const V = "api-version=2024-11-01";
const V2021 = "api-version=2021-03-01";
const CV = "api-version=2024-01-01";
const CLUSTER = "c-hostile";

let server: TestServer;
let http: ReturnType<typeof client>;

t.before(async () => {
  server = await startServer();
  http = client(server.url, server.ca, server.token);
  const res = await http(`${clusterPath(CLUSTER)}?${CV}`, { method: "PUT", body: clusterBody() });
  if (res.status !== 201) throw new Error(`cluster create: ${res.status} ${res.text}`);
});
t.teardown(() => server.close());

/** an ARM error: status, {"error":{"code","message",...}} and nothing else at the top, code as given */
function assertArmError(t: Test, label: string, res: HttpResponse, status: number, code?: string): void {
  t.equal(res.status, status, `${label}: status (${res.text.slice(0, 200)})`);
  t.same(Object.keys(res.json ?? {}), ["error"], `${label}: one top-level 'error'`);
  t.type(res.json?.error?.code, "string", `${label}: error.code`);
  t.type(res.json?.error?.message, "string", `${label}: error.message`);
  if (code !== undefined) t.equal(res.json?.error?.code, code, `${label}: code`);
}

// ---- subscription ids ----------------------------------------------------------------------

t.test("a subscription id that is not a GUID is InvalidSubscriptionId on every route", async (t) => {
  const bad = ["subId1", "not-a-guid", "00000000-0000-0000-0000-00000000000g", "00000000000000000000000000000001", `${SUB}x`];
  for (const sub of bad) {
    const routes: Array<[string, string, unknown?]> = [
      ["GET", `${clusterPath(CLUSTER, sub)}?${CV}`],
      ["PUT", `${clusterPath("c1", sub)}?${CV}`, clusterBody()],
      ["GET", `/subscriptions/${sub}/providers/Microsoft.Kubernetes/connectedClusters?${CV}`],
      ["GET", `${configurationsPath(CLUSTER, sub)}?${V}`],
      ["DELETE", `${configurationPath(CLUSTER, "cfg", sub)}?${V}`],
      ["PUT", withApi(assignmentPath("a1", undefined, sub)), assignmentBody()],
      ["GET", withApi(assignmentsPath("rg1", sub))],
      ["GET", withApi(`${assignmentPath("a1", undefined, sub)}/operationResults/00000000-0000-0000-0000-000000000000`)],
      ["PUT", `/subscriptions/${sub}?api-version=2.0`, { state: "Registered", registrationDate: new Date().toUTCString() }],
    ];
    for (const [method, url, body] of routes) {
      const res = await http(url, { method, ...(body !== undefined ? { body } : {}) });
      assertArmError(t, `${method} ${url.split("?")[0]}`, res, 400, "InvalidSubscriptionId");
    }
  }
  // the rule needs an authenticated caller first: an anonymous one learns nothing about the path
  const anonymous = await http(`${clusterPath(CLUSTER, "subId1")}?${CV}`, { token: null });
  t.equal(anonymous.status, 401);
  // upper-case GUIDs are GUIDs
  const upper = await http(`${clusterPath("nope", SUB.toUpperCase())}?${CV}`);
  t.equal(upper.status, 404, "an upper-case GUID passes the rule");
});

// ---- resource group names ------------------------------------------------------------------

t.test("resource group names follow ARM's rules on every route that takes one", async (t) => {
  const valid = ["rg-é(1)", "日本語", "a", "A.b_c-(d)", "r".repeat(90)];
  for (const rg of valid) {
    const enc = encodeURIComponent(rg);
    const res = await http(`${clusterPath("c-rg", SUB, enc)}?${CV}`, { method: "PUT", body: clusterBody() });
    t.equal(res.status, 201, `'${rg.slice(0, 20)}' accepted (${res.text.slice(0, 200)})`);
    t.equal(res.json?.id, `/subscriptions/${SUB}/resourceGroups/${rg}/providers/Microsoft.Kubernetes/connectedClusters/c-rg`, "the id names the group");
    t.equal((await http(`${clusterPath("c-rg", SUB, enc)}?${CV}`)).status, 200, "readable");
  }
  const invalid = ["rg.", "r".repeat(91), "a%2Fb", "rg*", "rg%20x", "rg!", "%E2%80%8B"];
  for (const enc of invalid) {
    const routes: Array<[string, string, unknown?]> = [
      ["PUT", `${clusterPath("c1", SUB, enc)}?${CV}`, clusterBody()],
      ["GET", `/subscriptions/${SUB}/resourceGroups/${enc}/providers/Microsoft.Kubernetes/connectedClusters?${CV}`],
      ["PUT", `${configurationPath(CLUSTER, "cfg", SUB, enc)}?${V}`, configurationBody()],
      ["GET", `${configurationsPath(CLUSTER, SUB, enc)}?${V}`],
      ["PUT", withApi(assignmentPath("a1", enc)), assignmentBody()],
      ["GET", withApi(assignmentsPath(enc))],
    ];
    for (const [method, url, body] of routes) {
      const res = await http(url, { method, ...(body !== undefined ? { body } : {}) });
      assertArmError(t, `${method} rg '${enc.slice(0, 20)}'`, res, 400, "InvalidResourceGroupName");
      t.ok(res.text.length < 1000, "small");
    }
  }
});

// ---- tags ----------------------------------------------------------------------------------

t.test("tags: at most 50, names up to 512 characters without reserved ones, values up to 256", async (t) => {
  const many = (n: number) => Object.fromEntries(Array.from({ length: n }, (_, i) => [`t${i}`, "v"]));
  const cases: Array<[string, Record<string, string>, string]> = [
    ["51 tags", many(51), "InvalidTagCount"],
    ["a 513-character name", { ["n".repeat(513)]: "v" }, "InvalidTagName"],
    ["a 257-character value", { env: "v".repeat(257) }, "InvalidTagValueLength"],
    ["'/' in a name", { "a/b": "v" }, "InvalidTagNameCharacters"],
    ["'<' in a name", { "a<b": "v" }, "InvalidTagNameCharacters"],
    ["'%' in a name", { "50%": "v" }, "InvalidTagNameCharacters"],
    ["'?' in a name", { "why?": "v" }, "InvalidTagNameCharacters"],
    ["a control character in a name", { "a\u0001b": "v" }, "InvalidTagNameCharacters"],
  ];
  for (const [label, tags, code] of cases) {
    const name = `c-tags-${code.length}-${label.length}`;
    const res = await http(`${clusterPath(name)}?${CV}`, { method: "PUT", body: clusterBody(undefined, { tags }) });
    assertArmError(t, label, res, 400, code);
    t.ok(res.text.length < 2000, `${label}: the answer does not echo the tag (${res.text.length} bytes)`);
    t.equal((await http(`${clusterPath(name)}?${CV}`)).status, 404, `${label}: nothing written`);
  }
  const limits = { ...many(49), ["n".repeat(512)]: "v".repeat(256) };
  const ok = await http(`${clusterPath("c-tags-ok")}?${CV}`, { method: "PUT", body: clusterBody(undefined, { tags: limits }) });
  t.equal(ok.status, 201, `50 tags at the length limits are accepted (${ok.text.slice(0, 200)})`);
  t.equal(Object.keys(ok.json.tags).length, 50);
});

// ---- locations -----------------------------------------------------------------------------

t.test("locations: a known region (normalized as ARM does) or LocationNotAvailableForResourceType", async (t) => {
  const eastUs = await http(`${clusterPath("c-loc-1")}?${CV}`, { method: "PUT", body: clusterBody(undefined, { location: "East US" }) });
  t.equal(eastUs.status, 201);
  t.equal(eastUs.json.location, "eastus", "stored as ARM normalizes it");
  t.equal((await http(`${clusterPath("c-loc-1")}?${CV}`)).json.location, "eastus", "read back normalized");
  const again = await http(`${clusterPath("c-loc-1")}?${CV}`, { method: "PUT", body: clusterBody(undefined, { location: "EASTUS" }) });
  t.equal(again.status, 200, "the same region spelled otherwise is no change");
  for (const location of ["mars", "east-us", "eastus ", "x".repeat(5000)]) {
    const res = await http(`${clusterPath("c-loc-2")}?${CV}`, { method: "PUT", body: clusterBody(undefined, { location }) });
    if (location === "eastus ") {
      t.equal(res.status, 201, "trailing space normalizes away");
      continue;
    }
    assertArmError(t, `location '${location.slice(0, 10)}'`, res, 400, "LocationNotAvailableForResourceType");
    t.equal(res.json.error.target, "location");
    t.ok(res.text.length < 1000, "the location is quoted at most 80 characters");
  }
  // ALLOWED_LOCATIONS: normalized, the public regions by default, refused when not region names
  t.same(loadConfig({ ALLOWED_LOCATIONS: "East US, westeurope" }).allowedLocations, ["eastus", "westeurope"]);
  t.ok(loadConfig({}).allowedLocations.includes("swedencentral"), "the Azure public regions by default");
  t.throws(() => loadConfig({ ALLOWED_LOCATIONS: "east/us" }), ConfigError);
  const configured = await startServer({ allowedLocations: ["westeurope", "Sweden Central"] });
  try {
    const h = client(configured.url, configured.ca, configured.token);
    const refused = await h(`${clusterPath("c1")}?${CV}`, { method: "PUT", body: clusterBody(undefined, { location: "eastus" }) });
    assertArmError(t, "eastus outside the configured list", refused, 400, "LocationNotAvailableForResourceType");
    const accepted = await h(`${clusterPath("c2")}?${CV}`, { method: "PUT", body: clusterBody(undefined, { location: "West Europe" }) });
    t.equal(accepted.status, 201, "a configured region");
    t.equal(accepted.json.location, "westeurope");
    const normalizedList = await h(`${clusterPath("c3")}?${CV}`, { method: "PUT", body: clusterBody(undefined, { location: "swedencentral" }) });
    t.equal(normalizedList.status, 201, "the configured list is normalized too");
  } finally {
    await configured.close();
  }
});

// ---- fastify's and node's refusals ---------------------------------------------------------

/** one raw HTTP/1.1 exchange over TLS: whatever the server writes until it closes */
function rawExchange(request: string | Buffer): Promise<{ status: number; headers: Record<string, string>; body: string; raw: string }> {
  const url = new URL(server.url);
  return new Promise((resolve, reject) => {
    const socket = tls.connect({ host: url.hostname, port: Number(url.port), ca: server.ca, servername: "localhost" }, () => socket.end(request));
    const chunks: Buffer[] = [];
    socket.on("data", (c: Buffer) => chunks.push(c));
    socket.on("error", (err: NodeJS.ErrnoException) => (err.code === "ECONNRESET" ? undefined : reject(err)));
    socket.on("close", () => {
      const raw = Buffer.concat(chunks).toString("utf8");
      const [head = "", body = ""] = raw.split("\r\n\r\n");
      const [statusLine = "", ...lines] = head.split("\r\n");
      const headers = Object.fromEntries(lines.map((l) => [l.slice(0, l.indexOf(":")).toLowerCase(), l.slice(l.indexOf(":") + 1).trim()]));
      resolve({ status: Number(statusLine.split(" ")[1]), headers, body, raw });
    });
  });
}

function assertRawArm(t: Test, label: string, res: Awaited<ReturnType<typeof rawExchange>>, status: number): void {
  t.equal(res.status, status, `${label}: status (${res.raw.slice(0, 200)})`);
  const parsed = JSON.parse(res.body) as { error?: { code?: unknown; message?: unknown } };
  t.same(Object.keys(parsed), ["error"], `${label}: ARM shape`);
  t.type(parsed.error?.code, "string");
  t.type(parsed.error?.message, "string");
  t.equal(Number(res.headers["content-length"]), Buffer.byteLength(res.body), `${label}: Content-Length is the body's`);
  t.match(res.headers["content-type"], /application\/json/);
  t.ok(res.body.length < 500, `${label}: small (${res.body.length} bytes)`);
}

t.test("fastify's and node's own refusals are small ARM errors", async (t) => {
  // 101 characters: fastify's default answer was 414 FST_ERR_MAX_PARAM_LENGTH; now the name rules answer
  const long = "c".repeat(101);
  const put = await http(`${clusterPath(long)}?${CV}`, { method: "PUT", body: clusterBody() });
  assertArmError(t, "PUT of a 101-character cluster name", put, 400, "InvalidResourceName");
  t.equal(put.json.error.target, "name");
  const get = await http(`${clusterPath(long)}?${CV}`);
  assertArmError(t, "GET of a 101-character cluster name", get, 404, "ResourceNotFound");
  const cfg = await http(`${configurationPath(CLUSTER, "n".repeat(101))}?${V}`, { method: "PUT", body: configurationBody() });
  assertArmError(t, "PUT of a 101-character configuration name", cfg, 400, "InvalidResourceName");
  const asg = await http(withApi(assignmentPath("n".repeat(101), "rg1")), { method: "PUT", body: assignmentBody() });
  assertArmError(t, "PUT of a 101-character assignment name", asg, 400, "InvalidResourceName");
  // beyond any routable length: refused before routing, still ARM
  const huge = await http(`${clusterPath("c".repeat(3000))}?${CV}`);
  assertArmError(t, "a 3000-character segment", huge, 400, "InvalidResourceName");
  t.ok(huge.text.length < 500, "the name is not echoed");

  // a bad percent-encoding
  for (const bad of ["%zz", "%E0%A4%A", "%"]) {
    const res = await http(`${clusterPath(`c${bad}`)}?${CV}`);
    assertArmError(t, `percent-encoding '${bad}'`, res, 400, "BadRequest");
    t.ok(res.headers["x-ms-request-id"], "a request id");
  }

  // a 60 KB header: node's parser refuses it before fastify
  const bigHeader = `GET ${clusterPath(CLUSTER)}?${CV} HTTP/1.1\r\nHost: localhost\r\nAuthorization: Bearer ${server.token}\r\nX-Big: ${"a".repeat(60_000)}\r\n\r\n`;
  const headerRes = await rawExchange(bigHeader);
  assertRawArm(t, "a 60 KB header", headerRes, 431);
  t.equal(JSON.parse(headerRes.body).error.code, "RequestHeaderFieldsTooLarge");
  t.equal(headerRes.headers.connection, "close");

  // an unknown method and a malformed request line
  for (const line of [`FOO ${clusterPath(CLUSTER)} HTTP/1.1`, "GARBAGE", `GET ${clusterPath(CLUSTER)} HTTP/9.9`]) {
    const res = await rawExchange(`${line}\r\nHost: localhost\r\n\r\n`);
    assertRawArm(t, `request line '${line.slice(0, 12)}'`, res, 400);
    t.equal(JSON.parse(res.body).error.code, "BadRequest");
  }
});

t.test("a request arriving while the server closes gets ARM's 503, not fastify's", async (t) => {
  const closing = await startServer();
  const h = client(closing.url, closing.ca, closing.token);
  t.equal((await h(`${clusterPath("c1")}?${CV}`, { method: "PUT", body: clusterBody() })).status, 201);
  // a slow first request (900 KB to parse), then a second pipelined behind it on the same connection
  const keys = Object.fromEntries(Array.from({ length: 50_000 }, (_, i) => [`key-${i}`, "dg=="]));
  const body = JSON.stringify(configurationBody({ configurationProtectedSettings: keys }));
  const auth = `Host: localhost\r\nAuthorization: Bearer ${closing.token}\r\n`;
  const first = `PUT ${configurationPath("c1", "x")}?${V} HTTP/1.1\r\n${auth}Content-Type: application/json\r\nContent-Length: ${Buffer.byteLength(body)}\r\n\r\n${body}`;
  const second = `GET ${clusterPath("c1")}?${CV} HTTP/1.1\r\n${auth}\r\n`;
  const url = new URL(closing.url);
  const raw = await new Promise<string>((resolve) => {
    const socket = tls.connect({ host: url.hostname, port: Number(url.port), ca: closing.ca, servername: "localhost" }, () => {
      socket.write(first + second);
      void closing.close();
    });
    const chunks: Buffer[] = [];
    socket.on("data", (c: Buffer) => chunks.push(c));
    socket.on("error", () => undefined);
    socket.on("close", () => resolve(Buffer.concat(chunks).toString("utf8")));
  });
  const last = raw.slice(raw.lastIndexOf("HTTP/1.1 "));
  t.match(last, /^HTTP\/1\.1 503 /, "the pipelined request is refused with 503");
  t.match(last, /\r\nconnection: close\r\n/i, "and the connection closes");
  const parsed = JSON.parse(last.slice(last.indexOf("\r\n\r\n") + 4)) as { error: { code: string } };
  t.equal(parsed.error.code, "ServiceUnavailable", "in ARM's shape");
});

// ---- 405 -----------------------------------------------------------------------------------

t.test("a method a path does not serve is 405 with Allow, from the route table", async (t) => {
  const cases: Array<[string, string, string]> = [
    ["PATCH", `${configurationPath(CLUSTER, "cfg")}?${V}`, "DELETE, GET, PUT"],
    ["POST", `${configurationPath(CLUSTER, "cfg")}?${V}`, "DELETE, GET, PUT"],
    ["POST", `${configurationsPath(CLUSTER)}?${V}`, "GET"],
    ["DELETE", `/subscriptions/${SUB}/providers/Microsoft.Kubernetes/connectedClusters?${CV}`, "GET"],
    ["PUT", `/providers/Microsoft.KubernetesConfiguration/operations?${V}`, "GET"],
    ["DELETE", withApi(`${assignmentPath("a1", "rg1")}/operationResults/x`), "GET"],
    ["POST", `/subscriptions/${SUB}?api-version=2.0`, "GET, PUT"],
  ];
  for (const [method, url, allow] of cases) {
    const res = await http(url, { method, ...(method === "POST" || method === "PATCH" ? { body: {} } : {}) });
    assertArmError(t, `${method} ${url.split("?")[0]?.slice(-40)}`, res, 405, "MethodNotAllowed");
    // another engineer may add methods (e.g. PATCH of connectedClusters): the header must list at least these
    for (const m of allow.split(", ")) t.match(String(res.headers.allow), new RegExp(`\\b${m}\\b`), `Allow names ${m}`);
    t.notMatch(String(res.headers.allow), new RegExp(`\\b${method}\\b`), `Allow does not name ${method}`);
  }
  // case-insensitive like the routes themselves
  const mixed = await http(`${configurationPath(CLUSTER, "cfg").toUpperCase().replace(SUB.toUpperCase(), SUB)}?${V}`, { method: "PATCH", body: {} });
  t.equal(mixed.status, 405);
  const unknown = await http(`/subscriptions/${SUB}/nothing-here?${V}`, { method: "PATCH", body: {} });
  assertArmError(t, "a path no row serves", unknown, 404, "NotFound");
});

// ---- response size -------------------------------------------------------------------------

t.test("a response is never much larger than its request", async (t) => {
  const keys = Object.fromEntries(Array.from({ length: 50_000 }, (_, i) => [`key-${i}`, "dg=="]));
  const body = configurationBody({ configurationProtectedSettings: keys });
  const sent = JSON.stringify(body).length;
  const res = await http(`${configurationPath(CLUSTER, "many-keys")}?${V}`, { method: "PUT", body });
  assertArmError(t, "50,000 unknown protected-setting keys", res, 400);
  t.ok(sent > 800_000, `request of ${sent} bytes`);
  t.ok(res.text.length < 20_000, `response of ${res.text.length} bytes`);
  const details = res.json.error.details as Array<{ code: string; message: string }>;
  t.equal(details.length, 21, "20 details and one line counting the rest");
  t.match(details[20]?.message, /^49980 more problem/, "the rest are counted");

  const params = `${"x".repeat(900_000)}`;
  const echo = await http(`${configurationPath(CLUSTER, "big-params")}?${V}`, { method: "PUT", body: configurationBody({ operatorParams: params }) });
  assertArmError(t, "900 KB operatorParams", echo, 400);
  t.ok(echo.text.length < 2000, `not echoed (${echo.text.length} bytes)`);
  t.notOk(echo.text.includes("x".repeat(81)), "at most 80 characters of the value are quoted");
  t.match(echo.text, /x{80}…/, "the quote is cut with an ellipsis");

  const flag = await http(`${configurationPath(CLUSTER, "big-flag")}?${V}`, { method: "PUT", body: configurationBody({ operatorParams: `--${"y".repeat(500_000)}` }) });
  assertArmError(t, "a 500 KB flag name", flag, 400);
  t.ok(flag.text.length < 2000, `not echoed (${flag.text.length} bytes)`);

  // schema errors (ajv, allErrors) are capped the same way
  const items = Object.fromEntries(Array.from({ length: 5000 }, (_, i) => [`p${i}`, 1]));
  const schema = await http(`${configurationPath(CLUSTER, "many-types")}?${V}`, { method: "PUT", body: configurationBody({ configurationProtectedSettings: items }) });
  assertArmError(t, "5,000 schema errors", schema, 400);
  t.ok(schema.text.length < 20_000, `schema errors bounded (${schema.text.length} bytes)`);
  t.ok((schema.json.error.details ?? []).length <= 21);
});

// ---- error shape per api-version -----------------------------------------------------------

t.test("error bodies follow the error schema of the api-version asked for (oav)", async (t) => {
  const bad = configurationBody({ operatorNamespace: "Bad_NS", operatorInstanceName: "Bad_Inst" });
  const old = await http(`${configurationPath(CLUSTER, "shape")}?${V2021}`, { method: "PUT", body: bad });
  assertArmError(t, "2021-03-01", old, 400);
  t.same(Object.keys(old.json.error).sort(), ["code", "message"], "2021-03-01 ErrorDefinition: code and message only");
  t.match(old.json.error.message, /more problem/, "the message says there was more");
  const latest = await http(`${configurationPath(CLUSTER, "shape")}?${V}`, { method: "PUT", body: bad });
  t.ok(latest.json.error.target, "2024-11-01 keeps target");
  t.ok(latest.json.error.details, "2024-11-01 keeps details");
  const missing = await http(`${configurationPath(CLUSTER, "absent")}?${V2021}`);
  t.same(Object.keys(missing.json.error).sort(), ["code", "message"], "a 404 at 2021-03-01 too");

  // the recorded exchange validates against the 2021-03-01 reference swagger; the same exchange with
  // the fields that version lacks does not (so the check can fail)
  const work = tempDir("kcrp-shape-");
  const pair = (body: unknown): TrafficPair => ({
    liveRequest: {
      method: "PUT",
      url: `${server.url}${configurationPath(CLUSTER, "shape")}?${V2021}`,
      headers: { "content-type": "application/json" },
      body: bad,
    },
    liveResponse: { statusCode: "400", headers: { "content-type": "application/json; charset=utf-8" }, body },
  });
  const write = (dir: string, body: unknown) => {
    fs.mkdirSync(dir, { recursive: true });
    fs.writeFileSync(path.join(dir, "000.json"), JSON.stringify(pair(body), null, 2));
    return dir;
  };
  const report = await validateTraffic(write(path.join(work, "ours"), old.json), SCC_2021, work);
  t.equal(report.coveredOperations, 1, "the operation was covered (not silently skipped)");
  t.same(report.errors, [], "no oav errors at 2021-03-01");
  const control = await validateTraffic(write(path.join(work, "control"), latest.json), SCC_2021, work);
  t.ok(control.errors.length > 0, "the 2024-11-01 body fails at 2021-03-01 (control)");
});

// ---- DELETE ---------------------------------------------------------------------------------

t.test("DELETE: no body is no body whatever the Content-Type; If-Match on an absent resource is 412", async (t) => {
  const json = { "content-type": "application/json" };
  const absentCfg = `${configurationPath(CLUSTER, "never")}?${V}`;
  t.equal((await http(absentCfg, { method: "DELETE", headers: json })).status, 204, "configuration, Content-Type and no body: 204");
  t.equal((await http(absentCfg, { method: "DELETE", headers: json, rawBody: "" })).status, 204, "with Content-Length: 0 too");
  const created = await http(`${configurationPath(CLUSTER, "del-me")}?${V}`, { method: "PUT", body: configurationBody() });
  t.equal(created.status, 201);
  t.equal((await http(`${configurationPath(CLUSTER, "del-me")}?${V}`, { method: "DELETE", headers: json })).status, 200, "an existing one: 200");
  const emptyPut = await http(`${configurationPath(CLUSTER, "empty")}?${V}`, { method: "PUT", headers: json, rawBody: "" });
  assertArmError(t, "PUT with no body", emptyPut, 400, "InvalidRequestContent");
  t.match(emptyPut.json.error.message, /missing/);

  const ifMatch = (etag: string) => ({ "if-match": etag });
  for (const [label, url] of [
    ["configuration", absentCfg],
    ["cluster", `${clusterPath("never")}?${CV}`],
    ["assignment (resource group)", withApi(assignmentPath("never", "rg1"))],
    ["assignment (subscription)", withApi(assignmentPath("never"))],
  ] as const) {
    assertArmError(t, `${label}: If-Match "x"`, await http(url, { method: "DELETE", headers: ifMatch('"x"') }), 412, "PreconditionFailed");
    assertArmError(t, `${label}: If-Match *`, await http(url, { method: "DELETE", headers: ifMatch("*") }), 412, "PreconditionFailed");
    t.equal((await http(url, { method: "DELETE" })).status, 204, `${label}: without a condition, 204`);
  }
});

// ---- operation ids -------------------------------------------------------------------------

t.test("an operationResults id answers only under the assignment it was issued for", async (t) => {
  for (const [scope, rg] of [["rg-ops-a", "rg-ops-a"], ["subscription", undefined]] as const) {
    const ours = assignmentPath("ours", rg);
    const theirs = assignmentPath("theirs", rg);
    for (const p of [ours, theirs]) t.equal((await http(withApi(p), { method: "PUT", body: assignmentBody() })).status, 201, `${scope}: created`);
    const del = await http(withApi(ours), { method: "DELETE" });
    t.equal(del.status, 202, `${scope}: delete accepted`);
    const operationId = /operationResults\/([0-9a-f-]+)/.exec(String(del.headers.location))?.[1] ?? "";
    t.ok(operationId, "an operation id");
    const elsewhere = [
      `${theirs}/operationResults/${operationId}`,
      `${assignmentPath("ours", rg === undefined ? "rg-other" : undefined)}/operationResults/${operationId}`,
      `${assignmentPath("ours", "rg-ops-b")}/operationResults/${operationId}`,
    ];
    const check = async (phase: string) => {
      for (const p of elsewhere) assertArmError(t, `${scope} ${phase}: ${p.slice(-70)}`, await http(withApi(p)), 404, "OperationNotFound");
    };
    t.equal((await http(withApi(`${ours}/operationResults/${operationId}`))).status, 202, `${scope}: running under its own assignment`);
    await check("running");
    await settle(server);
    t.equal((await http(withApi(`${ours}/operationResults/${operationId}`))).status, 200, `${scope}: finished under its own assignment`);
    await check("finished");
    t.equal((await http(withApi(theirs), { method: "DELETE" })).status, 202);
    await settle(server);
  }
});

