/**
 * The fuzz session: a real server (test/helpers/server.ts) holding resources with planted secrets,
 * hostile requests from ./arbitraries.ts sent over raw TLS for a time budget, every answer checked,
 * each class of failure replayed and shrunk by fast-check to a minimal reproduction.
 *
 * The rules every answer must keep (the proof of issue #10):
 *   - no 5xx, and an answer at all;
 *   - every 4xx is ARM's error shape {"error":{"code":string,"message":string}} with a JSON content type;
 *   - an error body is at most 16 KB whatever the request (an error never needs to echo it);
 *   - any other answer is at most max(64 KB, 2 x the request's size), except fixed documents (/openapi, /docs, /metrics);
 *   - no secret canary (protected settings, private keys, URL credentials, tokens; known_hosts in logs) in any
 *     answer's headers or body, or in any log line;
 *   - afterwards the service is healthy: /healthz and /readyz 200, a normal PUT/GET round trip works.
 * A request that blocks the event loop for 20 s is reported by a watchdog thread, which then ends the process.
 *
 * FUZZ_SEED fixes the sequence of generated requests (the default in CI, printed); FUZZ_SECONDS the budget;
 * FUZZ_RUNS a number of requests instead (the same seed and count send the same requests, whatever the
 * machine's speed: a time budget sends more on a fast machine, so a class first seen at request N is
 * replayed with FUZZ_SEED=<seed> FUZZ_RUNS=<N>, which each failure prints);
 * FUZZ_TRACE=<file> appends every request and answer to a file (for a human hunting a class).
 * Known classes (`knownAssignment`) name the issue #10 work item that fixes them; anything else is [NEW].
 */
import crypto from "node:crypto";
import fs from "node:fs";
import { Worker } from "node:worker_threads";
import fc from "fast-check";
import { startServer, type TestServer } from "../helpers/server.js";
import { testAgent, type TestAgent } from "../helpers/agent-token.js";
import { b64, clusterBody, clusterPath, configurationBody, configurationPath, knownHostsB64, SUB } from "../helpers/fixtures.js";
import { assignmentBody, assignmentPath } from "../helpers/assignments.js";
import { client } from "../helpers/http.js";
import { rawCase, routeCase, type FuzzCase, type Names, type Secrets } from "./arbitraries.js";
import { fuzzRoutes, type FuzzRoute } from "./routes.js";
import { endpointOf, rawRequest, send, type Endpoint, type WireResponse } from "./wire.js";

export const ERROR_BODY_LIMIT = 16 * 1024;
export const ANSWER_FLOOR = 64 * 1024;
export const DEFAULT_SEED = 10_1010;

export interface Canary {
  label: string;
  needle: string;
  /** false: may be shown back to ARM readers (known_hosts holds public host keys), never logged */
  secretInAnswers: boolean;
}

export interface Failure {
  /** the class: what went wrong, without the details of one request */
  cls: string;
  detail: string;
}

export interface ClassReport {
  cls: string;
  count: number;
  /** the request (1-based, in the seeded sequence) that first showed it: FUZZ_SEED and FUZZ_RUNS=firstRequest replay up to it */
  firstRequest: number;
  /** that request as it was sent, and what was wrong with its answer */
  firstExample: string;
  /** the reproduction after shrinking (or the first seen when shrinking could not replay it) */
  example: string;
  shrunk: boolean;
  /** the issue #10 work item that addresses it, when one was assigned */
  knownAssigned?: string;
}

export interface FuzzReport {
  seed: number;
  requests: number;
  /** the request count asked for (FUZZ_RUNS), when the run was not bounded by time */
  runs?: number;
  seconds: number;
  statusCounts: Record<string, number>;
  classes: ClassReport[];
  healthy: string[];
}

export interface FuzzSession {
  server: TestServer;
  endpoint: Endpoint;
  routes: FuzzRoute[];
  secrets: Secrets;
  names: Names;
  canaries: Canary[];
  /** the canary cluster's agent: its tokens live at most 10 minutes, so long runs mint new ones */
  agent: TestAgent;
  agentTokenAt: number;
  watchdog?: Watchdog;
}

const AGENT_TOKEN_SECONDS = 600;

/** a new agent token well before the current one expires; its signature becomes a canary too */
async function freshAgentToken(session: FuzzSession): Promise<void> {
  if (Date.now() - session.agentTokenAt < (AGENT_TOKEN_SECONDS / 3) * 1000) return;
  session.secrets.agentToken = await session.agent.token(clusterPath("fuzz-c1"), { lifetimeSeconds: AGENT_TOKEN_SECONDS });
  session.agentTokenAt = Date.now();
  session.canaries.push({ label: "agent token", needle: signature(session.secrets.agentToken), secretInAnswers: true });
}

// ---------------------------------------------------------------- session

const tag = (): string => crypto.randomBytes(6).toString("hex");
const signature = (jwt: string): string => jwt.split(".")[2] ?? jwt;

function privateKeys(): { values: string[]; needles: Canary[] } {
  const ec = crypto.generateKeyPairSync("ec", { namedCurve: "P-256" }).privateKey;
  const rsa = crypto.generateKeyPairSync("rsa", { modulusLength: 2048 }).privateKey;
  const ecDer = ec.export({ format: "der", type: "pkcs8" }).toString("base64");
  const ecPem = ec.export({ format: "pem", type: "pkcs8" }).toString();
  const rsaDer = rsa.export({ format: "der", type: "pkcs8" }).toString("base64");
  const rsaPem1 = rsa.export({ format: "pem", type: "pkcs1" }).toString();
  // the needles sit in the private parts: the EC scalar (DER bytes 36..67), RSA's private exponent and primes
  const rsaAt = Math.floor(rsaDer.length * 0.6);
  const rsa1Body = rsaPem1.split("\n").slice(1, -2).join("");
  const rsa1At = Math.floor(rsa1Body.length * 0.6);
  return {
    values: [ecDer, ecPem, rsaDer, rsaPem1, Buffer.from(ecPem).toString("base64")],
    needles: [
      { label: "private key (EC, DER/PEM)", needle: ecDer.slice(48, 60), secretInAnswers: true },
      { label: "private key (RSA PKCS#8)", needle: rsaDer.slice(rsaAt, rsaAt + 24), secretInAnswers: true },
      { label: "private key (RSA PKCS#1 PEM)", needle: rsa1Body.slice(rsa1At, rsa1At + 24), secretInAnswers: true },
      { label: "private key (EC PEM as base64)", needle: Buffer.from(ecPem).toString("base64").slice(120, 140), secretInAnswers: true },
    ],
  };
}

function sshKeyB64(): { value: string; needle: string } {
  const pem = crypto.generateKeyPairSync("ed25519").privateKey.export({ format: "pem", type: "pkcs8" }).toString();
  const body = pem.split("\n")[1] ?? "";
  // the ed25519 seed is the last 32 bytes of the 48-byte DER: base64 characters 22..64
  return { value: Buffer.from(pem).toString("base64"), needle: body.slice(24, 40) };
}

/** starts the server and plants resources holding canaries, so reads and lists could leak them */
export async function openSession(): Promise<FuzzSession> {
  const server = await startServer({ pageSize: 10 });
  const http = client(server.url, server.ca, server.token);
  const agent = testAgent("ec");
  const ssh = sshKeyB64();
  const storedSsh = sshKeyB64();
  const keys = privateKeys();
  const httpsUser = `fuzzuser${tag()}`;
  const httpsKey = `fuzzpass${tag()}`;
  const storedUser = `storeduser${tag()}`;
  const storedKey = `storedpass${tag()}`;
  const urlUser = `urluser${tag()}`;
  const urlPass = `urlpass${tag()}`;
  const khHost = `kh${tag()}.example`;
  const knownHosts = knownHostsB64(khHost);
  const storedHost = `khstored${tag()}.example`;

  const must = async (what: string, path: string, body: unknown, expect: number[]) => {
    const r = await http(path, { method: "PUT", body });
    if (!expect.includes(r.status)) throw new Error(`fuzz set-up: ${what} answered ${r.status}: ${r.text.slice(0, 300)}`);
  };
  await must("canary cluster", `${clusterPath("fuzz-c1")}?api-version=2024-01-01`, clusterBody(agent.publicKeyB64), [200, 201]);
  await must("ssh configuration", `${configurationPath("fuzz-c1", "fuzz-ssh")}?api-version=2024-11-01`, configurationBody({ configurationProtectedSettings: { sshPrivateKey: storedSsh.value }, sshKnownHostsContents: knownHostsB64(storedHost) }), [200, 201]);
  await must("https configuration", `${configurationPath("fuzz-c1", "fuzz-https")}?api-version=2024-11-01`, configurationBody({ repositoryUrl: "https://git.example.com/org/repo.git", configurationProtectedSettings: { httpsUser: b64(storedUser), httpsKey: b64(storedKey) } }), [200, 201]);
  await must("assignment", `${assignmentPath("fuzz-a1")}?api-version=2026-11-01-preview`, assignmentBody(), [200, 201]);

  const agentToken = await agent.token(clusterPath("fuzz-c1"), { lifetimeSeconds: AGENT_TOKEN_SECONDS });
  const secrets: Secrets = {
    armToken: server.token,
    agentToken,
    validPublicKeyB64: testAgent("ec").publicKeyB64,
    privateKeys: keys.values,
    sshPrivateKeyB64: ssh.value,
    httpsUserB64: b64(httpsUser),
    httpsKeyB64: b64(httpsKey),
    credentialUrls: [`https://${urlUser}:${urlPass}@github.com/example/repo.git`, `https://${urlPass}@github.com/example/repo.git`, `ssh://${urlUser}:${urlPass}@github.com/example/repo.git`],
    knownHostsB64: knownHosts,
  };
  const canaries: Canary[] = [
    { label: "ARM bearer token", needle: signature(server.token), secretInAnswers: true },
    { label: "agent token", needle: signature(agentToken), secretInAnswers: true },
    ...keys.needles,
    { label: "ssh private key (sent)", needle: ssh.needle, secretInAnswers: true },
    { label: "ssh private key (stored)", needle: storedSsh.needle, secretInAnswers: true },
    { label: "httpsUser (sent)", needle: httpsUser, secretInAnswers: true },
    { label: "httpsUser (sent, base64)", needle: b64(httpsUser), secretInAnswers: true },
    { label: "httpsKey (sent)", needle: httpsKey, secretInAnswers: true },
    { label: "httpsKey (sent, base64)", needle: b64(httpsKey), secretInAnswers: true },
    { label: "httpsUser (stored)", needle: storedUser, secretInAnswers: true },
    { label: "httpsKey (stored)", needle: storedKey, secretInAnswers: true },
    { label: "httpsKey (stored, base64)", needle: b64(storedKey), secretInAnswers: true },
    { label: "URL user", needle: urlUser, secretInAnswers: true },
    { label: "URL password", needle: urlPass, secretInAnswers: true },
    { label: "known_hosts (sent)", needle: khHost, secretInAnswers: false },
    { label: "known_hosts (sent, base64)", needle: knownHosts.slice(0, 40), secretInAnswers: false },
    { label: "known_hosts (stored)", needle: storedHost, secretInAnswers: false },
  ];
  const names: Names = {
    subscription: SUB,
    byParam: {
      clusterName: { kept: ["fuzz-c1"], free: ["fuzz-c2", "fuzz-c3"] },
      sourceControlConfigurationName: { kept: ["fuzz-ssh", "fuzz-https"], free: ["cfg-x", "cfg-y"] },
      configurationName: { kept: ["fuzz-ssh", "fuzz-https"], free: ["cfg-x"] },
      configurationAssignmentName: { kept: ["fuzz-a1"], free: ["fuzz-a2", "baseline"] },
      operationId: { kept: [], free: ["00000000-0000-0000-0000-0000000000ff", "op"] },
    },
  };
  return { server, endpoint: endpointOf(server.url, server.ca), routes: fuzzRoutes(), secrets, names, canaries, agent, agentTokenAt: Date.now() };
}

/** targets for malformed requests: one well-formed path per route */
export function sampleTargets(session: FuzzSession): string[] {
  return session.routes.map((r) => {
    const path = r.url.replace(/:([A-Za-z0-9_]+)/g, (_m, p: string) => (p === "subscriptionId" ? SUB : p === "resourceGroupName" ? "rg1" : p === "name" ? "agent.json" : "fuzz-c1"));
    return r.apiVersions[0] ? `${path}?api-version=${r.apiVersions[0]}` : path;
  });
}

export function caseArbitrary(session: FuzzSession): fc.Arbitrary<FuzzCase> {
  const host = `${session.endpoint.host}:${session.endpoint.port}`;
  return fc.oneof({ weight: 12, arbitrary: routeCase(session.routes, session.secrets, session.names, host) }, { weight: 1, arbitrary: rawCase(sampleTargets(session), session.secrets, host) });
}

// ---------------------------------------------------------------- checks

const isArmError = (body: Buffer): boolean => {
  try {
    const parsed = JSON.parse(body.toString("utf8")) as { error?: { code?: unknown; message?: unknown } };
    return typeof parsed.error?.code === "string" && typeof parsed.error.message === "string" && parsed.error.code.length > 0;
  } catch {
    return false;
  }
};

/** fastify's own error bodies carry a `code` like FST_ERR_...; name it in the class so each source is one class */
function shapeOf(body: Buffer): string {
  if (body.length === 0) return "empty body";
  try {
    const parsed = JSON.parse(body.toString("utf8")) as Record<string, unknown>;
    const code = typeof parsed.code === "string" ? ` ${parsed.code}` : "";
    return `JSON {${Object.keys(parsed).slice(0, 4).join(",")}}${code}`;
  } catch {
    return "not JSON";
  }
}

export function failuresOf(c: FuzzCase, r: WireResponse, newLogLines: string[], canaries: Canary[]): Failure[] {
  const out: Failure[] = [];
  const where = c.label;
  if (r.status === 0) return [{ cls: `no answer (${where})`, detail: `the connection closed without a response (${r.head || "nothing received"})` }];
  if (r.status >= 500) out.push({ cls: `5xx: ${r.status} on ${where}`, detail: r.body.toString("utf8").slice(0, 300) });
  if (r.status >= 400 && c.method !== "HEAD") {
    const jsonType = /^application\/json\b/i.test(r.headers["content-type"] ?? "");
    if (!jsonType || !isArmError(r.body)) out.push({ cls: `not an ARM error: ${r.status} (${jsonType ? "" : `content-type '${r.headers["content-type"] ?? ""}', `}${shapeOf(r.body)})`, detail: r.body.toString("utf8").slice(0, 300) });
    if (r.body.length > ERROR_BODY_LIMIT) out.push({ cls: `error body over ${ERROR_BODY_LIMIT} bytes: ${r.status}`, detail: `${r.body.length} bytes: ${r.body.toString("utf8").slice(0, 200)}…` });
  } else if (!c.fixedContent && r.size > Math.max(ANSWER_FLOOR, 2 * c.wire.bytes.length)) {
    out.push({ cls: `answer over max(64 KB, 2 x request): ${where}`, detail: `${r.size} bytes for a ${c.wire.bytes.length}-byte request` });
  }
  const answer = `${r.head}\r\n\r\n${r.body.toString("utf8")}`;
  for (const canary of canaries) {
    if (canary.secretInAnswers && answer.includes(canary.needle)) out.push({ cls: `secret in answer: ${canary.label}`, detail: excerptAround(answer, canary.needle) });
    const line = newLogLines.find((l) => l.includes(canary.needle));
    if (line) out.push({ cls: `secret in log: ${canary.label}`, detail: excerptAround(line, canary.needle) });
  }
  return out;
}

const excerptAround = (text: string, needle: string): string => {
  const at = text.indexOf(needle);
  return `…${text.slice(Math.max(0, at - 120), at + needle.length + 40)}…`;
};

/**
 * The issue #10 work items being fixed in parallel: a class matching one is known and assigned,
 * anything else is new. The integrator checks after merging that these classes are gone.
 */
export function knownAssignment(cls: string, example: FuzzCase | undefined): string | undefined {
  if (/secret in (answer|log): private key/.test(cls)) return "private keys accepted as agentPublicKeyCertificate";
  if (/secret in (answer|log): URL (user|password)/.test(cls)) return "repositoryUrl injection/credentials";
  if (/^error body over/.test(cls)) return "huge error responses echoing input";
  if (/^not an ARM error: (400|404|405|413|414|431)\b/.test(cls)) return "fastify's own 404/405/413/414/431/400 bodies not ARM-shaped";
  if (example?.method === "PATCH" && /connectedClusters/i.test(example.target)) return "connectedClusters PATCH";
  // a cluster PUT stores a 70 KB location or tag value, and every later read and list serves it back
  if (/^answer over max.*ConnectedCluster_/.test(cls)) return "ARM name/shape/location rules (location and tag lengths)";
  return undefined;
}

// ---------------------------------------------------------------- running

export function describeCase(c: FuzzCase): string {
  const cut = (s: string, n: number) => (s.length > n ? `${s.slice(0, n)}… (${s.length} chars)` : s);
  const printable = (s: string) => JSON.stringify(s).slice(1, -1);
  const lines = [`${c.label}: ${c.method} ${printable(cut(c.target, 300))}`];
  for (const [n, v] of c.headers.slice(0, 12)) lines.push(`  ${n}: ${printable(cut(v, 120))}`);
  if (c.headers.length > 12) lines.push(`  … ${c.headers.length - 12} more headers like the last`);
  if (c.body !== undefined) lines.push(`  body (${c.body.length} bytes): ${printable(cut(c.body.toString("utf8"), 400))}`);
  return lines.join("\n");
}

export interface Exchange {
  response: WireResponse;
  failures: Failure[];
}

/** sends one case and checks the answer and the log lines written meanwhile */
export async function exchange(session: FuzzSession, c: FuzzCase): Promise<Exchange> {
  await freshAgentToken(session);
  session.watchdog?.note(describeCase(c).slice(0, 4000));
  const logsBefore = session.server.logs.length;
  if (process.env.FUZZ_TRACE) fs.appendFileSync(process.env.FUZZ_TRACE, `${describeCase(c).slice(0, 2000)}\n`);
  const response = await send(session.endpoint, c.wire);
  // the completion log line is written as the answer leaves: give it a turn of the event loop
  await new Promise((resolve) => setImmediate(resolve));
  const failures = failuresOf(c, response, session.server.logs.slice(logsBefore), session.canaries);
  if (process.env.FUZZ_TRACE) fs.appendFileSync(process.env.FUZZ_TRACE, `  => ${response.status} ${response.body.toString("utf8").slice(0, 200)}\n`);
  return { response, failures };
}

interface Seen {
  count: number;
  firstRun: number;
  first: FuzzCase;
  firstDetail: string;
}

/** replays run `index` of the seeded sequence and lets fast-check shrink it while the class persists */
async function shrinkClass(session: FuzzSession, seed: number, index: number, cls: string, budgetMs: number): Promise<{ example: FuzzCase; detail: string } | undefined> {
  let detail = "";
  const details = await fc.check(
    fc.asyncProperty(caseArbitrary(session), async (c) => {
      const { failures } = await exchange(session, c);
      const hit = failures.find((f) => f.cls === cls);
      if (hit) detail = hit.detail;
      return hit === undefined;
    }),
    { seed, path: String(index), interruptAfterTimeLimit: budgetMs, markInterruptAsFailure: false, endOnFailure: false },
  );
  const example = details.counterexample?.[0];
  return details.failed && example ? { example, detail } : undefined;
}

/**
 * The server shares the fuzzer's event loop: a request that blocks it (an endless synchronous loop) would
 * hang the run with no report. A worker thread watches a heartbeat and, when it stops for
 * BLOCKED_LOOP_SECONDS, prints the request being served and ends the process.
 */
const BLOCKED_LOOP_SECONDS = 20;

const WATCHDOG = `
const { parentPort, workerData } = require("node:worker_threads");
const fs = require("node:fs");
const beat = new Int32Array(workerData.beat);
let current = "(none)";
parentPort.on("message", (m) => { current = m; });
setInterval(() => {
  const now = Math.floor(Date.now() / 1000);
  if (now - Atomics.load(beat, 0) < workerData.limit) return;
  fs.writeSync(2, "\\nFUZZ FAILURE CLASS [NEW] event loop blocked for " + workerData.limit + " s (the service stopped answering everyone) while serving:\\n" + current + "\\n");
  process.kill(process.pid, "SIGKILL");
}, 1000);
`;

interface Watchdog {
  note(description: string): void;
  stop(): Promise<void>;
}

function startWatchdog(): Watchdog {
  const beat = new Int32Array(new SharedArrayBuffer(4));
  const tick = () => Atomics.store(beat, 0, Math.floor(Date.now() / 1000));
  tick();
  const timer = setInterval(tick, 250);
  const worker = new Worker(WATCHDOG, { eval: true, workerData: { beat: beat.buffer, limit: BLOCKED_LOOP_SECONDS } });
  worker.unref();
  return {
    note: (description) => worker.postMessage(description),
    stop: async () => {
      clearInterval(timer);
      await worker.terminate();
    },
  };
}

export interface RunOptions {
  seconds: number;
  seed: number;
  /** a number of requests: the run sends exactly these (bounded by `seconds` too, as a safety net) */
  runs?: number;
  /** time for shrinking all classes together */
  shrinkSeconds: number;
  log?: (line: string) => void;
}

export async function runFuzz(session: FuzzSession, options: RunOptions): Promise<FuzzReport> {
  const log = options.log ?? (() => undefined);
  session.watchdog = startWatchdog();
  try {
    return await explore(session, options, log);
  } finally {
    await session.watchdog.stop();
    session.watchdog = undefined;
  }
}

async function explore(session: FuzzSession, options: RunOptions, log: (line: string) => void): Promise<FuzzReport> {
  const seen = new Map<string, Seen>();
  const statusCounts: Record<string, number> = {};
  let run = 0;
  const started = Date.now();
  // exploration: the property never fails, so the whole budget is spent and every class is counted
  await fc.check(
    fc.asyncProperty(caseArbitrary(session), async (c) => {
      const index = run++;
      const { response, failures } = await exchange(session, c);
      statusCounts[String(response.status)] = (statusCounts[String(response.status)] ?? 0) + 1;
      for (const f of failures) {
        const s = seen.get(f.cls);
        if (s) s.count++;
        else {
          seen.set(f.cls, { count: 1, firstRun: index, first: c, firstDetail: f.detail });
          log(`new failure class after ${index + 1} requests: ${f.cls}`);
        }
      }
      return true;
    }),
    { seed: options.seed, numRuns: options.runs ?? 1_000_000_000, interruptAfterTimeLimit: options.seconds * 1000, markInterruptAsFailure: false },
  );
  const seconds = (Date.now() - started) / 1000;
  const requests = run;

  const classes: ClassReport[] = [];
  const perClassMs = seen.size === 0 ? 0 : Math.max(2_000, (options.shrinkSeconds * 1000) / seen.size);
  for (const [cls, s] of seen) {
    log(`shrinking: ${cls}`);
    const shrunk = await shrinkClass(session, options.seed, s.firstRun, cls, perClassMs).catch(() => undefined);
    const example = shrunk?.example ?? s.first;
    const detail = shrunk?.detail || s.firstDetail;
    classes.push({
      cls,
      count: s.count,
      firstRequest: s.firstRun + 1,
      firstExample: `${describeCase(s.first)}\n  -> ${s.firstDetail}`,
      example: `${describeCase(example)}\n  -> ${detail}`,
      shrunk: shrunk !== undefined,
      knownAssigned: knownAssignment(cls, example),
    });
  }
  // late log lines (written after their answer was checked) still count
  const allLogs = session.server.logs.join("\n");
  for (const canary of session.canaries) {
    const cls = `secret in log: ${canary.label}`;
    if (allLogs.includes(canary.needle) && !classes.some((c) => c.cls === cls)) {
      const example = excerptAround(allLogs, canary.needle);
      classes.push({ cls, count: 1, firstRequest: requests, firstExample: example, example, shrunk: false, knownAssigned: knownAssignment(cls, undefined) });
    }
  }
  return { seed: options.seed, requests, ...(options.runs !== undefined ? { runs: options.runs } : {}), seconds, statusCounts, classes, healthy: await healthProblems(session) };
}

/** what is wrong with the service after the run (nothing, when healthy) */
export async function healthProblems(session: FuzzSession): Promise<string[]> {
  const problems: string[] = [];
  const host = `${session.endpoint.host}:${session.endpoint.port}`;
  const get = (path: string) => send(session.endpoint, rawRequest("GET", path, [["Host", host], ["Connection", "close"]]));
  for (const path of ["/healthz", "/readyz"]) {
    const r = await get(path);
    if (r.status !== 200) problems.push(`${path} answered ${r.status}: ${r.body.toString("utf8").slice(0, 200)}`);
  }
  const http = client(session.server.url, session.server.ca, session.server.token);
  // a cluster of its own: the run may have migrated fuzz-c1 to Flux v2, where a v1 PUT is rightly a 409
  const cluster = await http(`${clusterPath("fuzz-after")}?api-version=2024-01-01`, { method: "PUT", body: clusterBody(session.agent.publicKeyB64) });
  if (cluster.status !== 200 && cluster.status !== 201) problems.push(`cluster PUT after the run answered ${cluster.status}: ${cluster.text.slice(0, 200)}`);
  const path = `${configurationPath("fuzz-after", "after-fuzz")}?api-version=2024-11-01`;
  const put = await http(path, { method: "PUT", body: configurationBody() });
  if (put.status !== 200 && put.status !== 201) problems.push(`PUT after the run answered ${put.status}: ${put.text.slice(0, 200)}`);
  const got = await http(path);
  if (got.status !== 200 || got.json?.properties?.repositoryUrl !== configurationBody().properties.repositoryUrl) problems.push(`GET after the run answered ${got.status}: ${got.text.slice(0, 200)}`);
  return problems;
}

/** the run's summary; `examples` false leaves the reproductions out (the tap test shows them as diagnostics) */
export function formatReport(report: FuzzReport, examples = true): string {
  const lines = [
    `fuzz: seed ${report.seed}, ${report.requests} requests in ${report.seconds.toFixed(1)} s (${replayCommand(report.seed, report.requests)} sends the same requests)`,
    `fuzz: statuses ${Object.entries(report.statusCounts)
      .sort(([a], [b]) => a.localeCompare(b))
      .map(([s, n]) => `${s}: ${n}`)
      .join(", ")}`,
  ];
  for (const c of report.classes) {
    const headline = `FAILURE CLASS ${c.knownAssigned ? `[known, assigned: ${c.knownAssigned}]` : "[NEW]"} ${c.cls} — seen ${c.count} times`;
    const replay = `first at request ${c.firstRequest}: ${replayCommand(report.seed, c.firstRequest)} replays the sequence up to it`;
    if (examples) {
      lines.push(``, `${headline}; ${replay}; the request:`, c.firstExample);
      lines.push(`${c.shrunk ? "minimal reproduction" : "(not shrunk)"}:`, c.example);
    } else lines.push(`${headline}; ${replay}`);
  }
  if (report.healthy.length > 0) lines.push("", "SERVICE NOT HEALTHY AFTER THE RUN:", ...report.healthy);
  return lines.join("\n");
}

/** the command that sends the first `requests` requests of a seed's sequence again */
export const replayCommand = (seed: number, requests: number): string => `FUZZ_SEED=${seed} FUZZ_RUNS=${requests} npm run fuzz`;

/** a whole number from the environment, or the fallback; anything else is refused rather than read as NaN */
function wholeFromEnv(name: string, fallback: number | undefined, min: number): number | undefined {
  const raw = process.env[name];
  if (raw === undefined || raw === "") return fallback;
  const value = Number(raw);
  if (!Number.isSafeInteger(value) || value < min) throw new Error(`${name} must be a whole number of at least ${min}, not '${raw}'`);
  return value;
}

export const seedFromEnv = (): number => wholeFromEnv("FUZZ_SEED", DEFAULT_SEED, Number.MIN_SAFE_INTEGER) as number;
export const secondsFromEnv = (fallback: number): number => wholeFromEnv("FUZZ_SECONDS", fallback, 1) as number;
/** FUZZ_RUNS: a number of requests instead of a time budget (undefined: the time budget alone) */
export const runsFromEnv = (): number | undefined => wholeFromEnv("FUZZ_RUNS", undefined, 1);
