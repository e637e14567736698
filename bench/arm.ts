/**
 * npm run bench:arm — the service's hot paths beside bare fastify baselines, measured in one run
 * (issue #13). The service is the BUILT service (dist/src/main.js) in its own process with its SHIPPED
 * DEFAULTS: embedded SQLite, local sealing, log level info (LOG_LEVEL is passed through only if you set
 * it; the header says which level ran). Its log lines go to a file in its data directory, as a log
 * collector would take them off stdout. The baselines are bench/bare-server.ts, in a process of its own.
 *
 * Four pairs, each run A B B A (baseline, service, service, baseline), autocannon over HTTPS on
 * 127.0.0.1, BENCH_SECONDS (default 6) x BENCH_CONNECTIONS (default 32) per run, after a short warm-up
 * of both sides:
 * 1. ARM GET of one configuration          vs GET /bare answering the same JSON body;
 * 2. agent poll answered 304 (one cluster) vs GET /bare304 (same Authorization and If-None-Match sizes);
 * 3. ARM PUT of a configuration, no secrets vs PUT /bare/... doing ONE DURABLE SQLite write of the body
 *    (WAL, synchronous=FULL) and answering it;
 * 4. the same PUT carrying secrets (configurationProtectedSettings.sshPrivateKey + sshKnownHostsContents)
 *    vs the same durable bare PUT with that body.
 * PUTs: EACH CONNECTION PUTS ITS OWN CONFIGURATION (created before the runs; the bare PUT likewise
 * writes one row per connection), and every request alternates operatorParams between two values, so
 * each PUT is a real change. 32 connections PUTting one configuration would measure the optimistic
 * concurrency's 409s, not the write path; set BENCH_PUT_SHARED=1 to measure that instead.
 *
 * Printed per run and as the mean of the two runs of each side: req/s, p50/p99, responses other than
 * the expected status (2xx; 304 for polls), errors/timeouts, the ratio service/baseline, and STORE
 * CALLS PER REQUEST from the service's /metrics (store_calls_total summed over its labels, scraped
 * before and after each run, divided by the requests autocannon completed), with the calls by
 * operation. The store's background calls (change watcher, sweeper, reconciler) are measured while
 * idle and printed so they can be told apart; they are not subtracted.
 * Options: BENCH_SECONDS (default 6), BENCH_CONNECTIONS (default 32), BENCH_PUT_SHARED=1, LOG_LEVEL.
 */
import { spawn, execFileSync, type ChildProcess } from "node:child_process";
import fs from "node:fs";
import https from "node:https";
import os from "node:os";
import path from "node:path";
import autocannon from "autocannon";
import { testAgent } from "../test/helpers/agent-token.js";
import { clusterBody, clusterPath, configurationBody, configurationPath, knownHostsB64, sshPrivateKeyB64 } from "../test/helpers/fixtures.js";
import { client } from "../test/helpers/http.js";
import { lines, sleep } from "./harness.js";

const SECONDS = Number(process.env.BENCH_SECONDS ?? 6);
const CONNECTIONS = Number(process.env.BENCH_CONNECTIONS ?? 32);
const WARMUP_SECONDS = Math.min(2, SECONDS);
const PUT_SHARED = process.env.BENCH_PUT_SHARED === "1";
const root = path.resolve(import.meta.dirname, "..");
const V = "api-version=2024-11-01";
const CV = "api-version=2024-01-01";
const PARAMS = ["--git-readonly", "--git-readonly --git-branch=main"] as const;

async function waitReady(url: string, ca: string): Promise<void> {
  const http = client(url, ca);
  for (let i = 0; i < 300; i++) {
    try {
      if ((await http("/readyz")).status === 200) return;
    } catch {
      // not listening yet
    }
    await sleep(100);
  }
  throw new Error("service did not become ready");
}

/** store_calls_total from the service's /metrics, summed, and by operation */
async function storeCalls(url: string, ca: string): Promise<{ total: number; byOp: Map<string, number> }> {
  const text = await new Promise<string>((resolve, reject) => {
    https
      .get(new URL("/metrics", url), { ca }, (res) => {
        let data = "";
        res.setEncoding("utf8");
        res.on("data", (c: string) => (data += c));
        res.on("end", () => (res.statusCode === 200 ? resolve(data) : reject(new Error(`/metrics: ${res.statusCode}`))));
      })
      .on("error", reject);
  });
  const byOp = new Map<string, number>();
  let total = 0;
  for (const line of text.split("\n")) {
    if (!line.startsWith("store_calls_total{")) continue;
    const value = Number(line.slice(line.lastIndexOf(" ") + 1));
    const op = /op="([^"]*)"/.exec(line)?.[1] ?? "?";
    byOp.set(op, (byOp.get(op) ?? 0) + value);
    total += value;
  }
  return { total, byOp };
}

interface Run {
  side: "baseline" | "service";
  rps: number;
  p50: number;
  p99: number;
  requests: number;
  /** responses other than the expected status */
  unexpected: number;
  unexpectedMix: string;
  errors: number;
  timeouts: number;
  storePerRequest?: number;
  storeByOp?: string;
}

interface Target {
  url: string;
  method: "GET" | "PUT";
  /** per connection: path, headers and body of its next request */
  request: (connection: number, n: number) => { path: string; headers: Record<string, string>; body?: string };
  expected: (status: number) => boolean;
}

async function load(target: Target, seconds: number): Promise<autocannon.Result> {
  let nextConnection = 0;
  return autocannon({
    url: target.url,
    method: target.method,
    connections: CONNECTIONS,
    duration: seconds,
    tlsOptions: { ca: caOf(target) },
    requests: [
      {
        setupRequest: (req: autocannon.Request, context: object) => {
          const ctx = context as { connection?: number; n?: number };
          if (ctx.connection === undefined) ctx.connection = nextConnection++;
          ctx.n = (ctx.n ?? 0) + 1;
          const r = target.request(ctx.connection, ctx.n);
          req.method = target.method;
          req.path = r.path;
          req.headers = r.headers;
          if (r.body !== undefined) req.body = r.body;
          return req;
        },
      },
    ],
  });
}

const cas = new Map<string, string>();
const caOf = (t: Target) => cas.get(new URL(t.url).origin) ?? "";

async function measure(side: Run["side"], target: Target, serviceUrl?: string): Promise<Run> {
  const before = serviceUrl ? await storeCalls(serviceUrl, caOf(target)) : undefined;
  const result = await load(target, SECONDS);
  const after = serviceUrl ? await storeCalls(serviceUrl, caOf(target)) : undefined;
  const codes = result.statusCodeStats as unknown as Record<string, { count: number }>;
  let unexpected = 0;
  const mix: string[] = [];
  for (const [code, { count }] of Object.entries(codes)) {
    if (target.expected(Number(code))) continue;
    unexpected += count;
    mix.push(`${code} x${count}`);
  }
  const requests = result.requests.total;
  const run: Run = {
    side,
    rps: requests / SECONDS,
    p50: result.latency.p50,
    p99: result.latency.p99,
    requests,
    unexpected,
    unexpectedMix: mix.join(", "),
    errors: result.errors,
    timeouts: result.timeouts,
  };
  if (before && after) {
    run.storePerRequest = (after.total - before.total) / Math.max(1, requests);
    run.storeByOp = [...after.byOp]
      .map(([op, n]) => [op, n - (before.byOp.get(op) ?? 0)] as const)
      .filter(([, n]) => n > 0)
      .sort((a, b) => b[1] - a[1])
      .map(([op, n]) => `${op} ${(n / Math.max(1, requests)).toFixed(2)}`)
      .join(", ");
  }
  return run;
}

async function main(): Promise<void> {
  execFileSync("npm", ["run", "--silent", "build"], { cwd: root, stdio: "inherit" });
  const dataDir = fs.mkdtempSync(path.join(os.tmpdir(), "bench-arm-"));
  const port = 20000 + Math.floor(Math.random() * 20000);
  // the shipped defaults: whatever the user's environment says, nothing added but where to listen
  const logFile = path.join(dataDir, "service.log");
  const logFd = fs.openSync(logFile, "a");
  const service = spawn(process.execPath, [path.join(root, "dist/src/main.js")], {
    env: { ...process.env, DATA_DIR: dataDir, PORT: String(port) },
    stdio: ["ignore", logFd, "inherit"],
  });
  const url = `https://127.0.0.1:${port}`;
  const children: ChildProcess[] = [service];
  try {
    for (let i = 0; i < 300 && !fs.existsSync(path.join(dataDir, "dev-token")); i++) await sleep(100);
    const ca = fs.readFileSync(path.join(dataDir, "tls/cert.pem"), "utf8");
    cas.set(new URL(url).origin, ca);
    await waitReady(url, ca);
    const token = fs.readFileSync(path.join(dataDir, "dev-token"), "utf8").trim();
    const http = client(url, ca, token);
    const agent = testAgent("ec");
    const cluster = await http(`${clusterPath("bench")}?${CV}`, { method: "PUT", body: clusterBody(agent.publicKeyB64) });
    if (cluster.status !== 201) throw new Error(`cluster: ${cluster.status} ${cluster.text}`);

    // the GET's configuration (no secrets), the PUTs' configurations (one per connection unless shared)
    const plain = (n: number) => JSON.stringify(configurationBody({ operatorParams: PARAMS[n % 2] }));
    const sshKey = sshPrivateKeyB64();
    const knownHosts = knownHostsB64();
    const secret = (n: number) =>
      JSON.stringify(configurationBody({ operatorParams: PARAMS[n % 2], configurationProtectedSettings: { sshPrivateKey: sshKey }, sshKnownHostsContents: knownHosts }));
    const put = async (name: string, body: string) => {
      const res = await http(`${configurationPath("bench", name)}?${V}`, { method: "PUT", rawBody: body, headers: { "content-type": "application/json" } });
      if (res.status !== 201 && res.status !== 200) throw new Error(`configuration ${name}: ${res.status} ${res.text}`);
      return res.text;
    };
    await put("cfg", plain(0));
    const putName = (kind: "plain" | "secret", connection: number) => (PUT_SHARED ? `put-${kind}` : `put-${kind}-${connection}`);
    for (let c = 0; c < (PUT_SHARED ? 1 : CONNECTIONS); c++) {
      await put(putName("plain", c), plain(0));
      await put(putName("secret", c), secret(0));
    }
    const configPath = `${configurationPath("bench", "cfg")}?${V}`;
    // the GET's body as the service answers it, for the bare GET
    const shown = await http(configPath);
    if (shown.status !== 200) throw new Error(`GET: ${shown.status}`);

    // the agent: a token for the cluster and the ETag of its desired state
    const agentPath = `/agent/v1${clusterPath("bench")}/configurations`;
    const agentAuth = `Bearer ${await agent.token(clusterPath("bench"), { lifetimeSeconds: 600 })}`;
    const first = await client(url, ca)(agentPath, { headers: { authorization: agentAuth } });
    if (first.status !== 200) throw new Error(`agent GET: ${first.status} ${first.text}`);
    const etag = String(first.headers.etag);

    const bodyFile = path.join(dataDir, "bare-body.json");
    fs.writeFileSync(bodyFile, shown.text);
    const barePort = port + 1;
    const bare = spawn(
      process.execPath,
      ["--import", "tsx", path.join(root, "bench/bare-server.ts"), path.join(dataDir, "tls/cert.pem"), path.join(dataDir, "tls/key.pem"), String(barePort), bodyFile, path.join(dataDir, "bare.db")],
      { cwd: root, stdio: ["ignore", "pipe", "inherit"] },
    );
    children.push(bare);
    await new Promise<void>((resolve, reject) => {
      lines(bare, (line) => line.includes("ready") && resolve());
      bare.on("exit", (code) => reject(new Error(`bare server exited (${code})`)));
    });
    const bareUrl = `https://127.0.0.1:${barePort}`;
    cas.set(new URL(bareUrl).origin, ca);
    const auth = { authorization: `Bearer ${token}` };
    const json = { ...auth, "content-type": "application/json" };
    const ok = (s: number) => s >= 200 && s < 300;
    const notModified = (s: number) => s === 304;
    // the bare 304 gets the same Authorization header as the agent poll
    const bareEtag = '"bare-etag-1"';

    const pairs: { name: string; baseline: Target; service: Target }[] = [
      {
        name: "ARM GET configuration",
        baseline: { url: bareUrl, method: "GET", request: () => ({ path: "/bare", headers: auth }), expected: ok },
        service: { url, method: "GET", request: () => ({ path: configPath, headers: auth }), expected: ok },
      },
      {
        name: "agent poll 304 (1 cluster)",
        baseline: { url: bareUrl, method: "GET", request: () => ({ path: "/bare304", headers: { authorization: agentAuth, "if-none-match": bareEtag } }), expected: notModified },
        service: { url, method: "GET", request: () => ({ path: agentPath, headers: { authorization: agentAuth, "if-none-match": etag } }), expected: notModified },
      },
      {
        name: "ARM PUT, no secrets",
        baseline: { url: bareUrl, method: "PUT", request: (c, n) => ({ path: `/bare/${putName("plain", c)}`, headers: json, body: plain(n) }), expected: ok },
        service: { url, method: "PUT", request: (c, n) => ({ path: `${configurationPath("bench", putName("plain", c))}?${V}`, headers: json, body: plain(n) }), expected: ok },
      },
      {
        name: "ARM PUT, with secrets",
        baseline: { url: bareUrl, method: "PUT", request: (c, n) => ({ path: `/bare/${putName("secret", c)}`, headers: json, body: secret(n) }), expected: ok },
        service: { url, method: "PUT", request: (c, n) => ({ path: `${configurationPath("bench", putName("secret", c))}?${V}`, headers: json, body: secret(n) }), expected: ok },
      },
    ];

    // background store calls (change watcher, sweeper, reconciler) while idle
    const idleBefore = await storeCalls(url, ca);
    const idleStart = performance.now();
    await sleep(2000);
    const idleAfter = await storeCalls(url, ca);
    const backgroundPerSecond = (idleAfter.total - idleBefore.total) / ((performance.now() - idleStart) / 1000);

    const logSize = () => fs.statSync(logFile).size;
    const results: { name: string; runs: Run[]; logBytes: number; serviceRequests: number }[] = [];
    for (const pair of pairs) {
      process.stderr.write(`  ${pair.name}: warm-up, then A B B A ...\n`);
      await load(pair.baseline, WARMUP_SECONDS);
      await load(pair.service, WARMUP_SECONDS);
      const runs: Run[] = [];
      const logBefore = logSize();
      runs.push(await measure("baseline", pair.baseline));
      runs.push(await measure("service", pair.service, url));
      runs.push(await measure("service", pair.service, url));
      runs.push(await measure("baseline", pair.baseline));
      const serviceRequests = runs.filter((r) => r.side === "service").reduce((s, r) => s + r.requests, 0);
      results.push({ name: pair.name, runs, logBytes: logSize() - logBefore, serviceRequests });
    }

    // --- report --------------------------------------------------------------------------------------
    const mean = (xs: number[]) => xs.reduce((a, b) => a + b, 0) / xs.length;
    const level = process.env.LOG_LEVEL ? `LOG_LEVEL=${process.env.LOG_LEVEL} (set by you)` : "log level info (shipped default)";
    console.log(
      `\nbench:arm  ${SECONDS}s x ${CONNECTIONS} connections per run, A B B A, HTTPS on 127.0.0.1, ${os.cpus().length} cores, node ${process.version}; service: dist/src/main.js, SQLite, local sealing, ${level}, logs to a file; PUTs: ${PUT_SHARED ? "all connections PUT one configuration" : "one configuration per connection"}`,
    );
    console.log(`store background (idle, not subtracted): ${backgroundPerSecond.toFixed(1)} calls/s`);
    const head = `${"pair".padEnd(27)} ${"run".padEnd(10)} ${"req/s".padStart(7)} ${"p50 ms".padStart(7)} ${"p99 ms".padStart(7)} ${"unexpected".padStart(10)} ${"err/t-o".padStart(8)} ${"vs base".padStart(8)} ${"store/req".padStart(9)}`;
    console.log(head);
    console.log("-".repeat(head.length));
    const row = (name: string, run: string, rps: number, p50: number, p99: number, unexpected: string, errs: string, ratio: string, store: string) =>
      console.log(`${name.padEnd(27)} ${run.padEnd(10)} ${rps.toFixed(0).padStart(7)} ${p50.toFixed(1).padStart(7)} ${p99.toFixed(1).padStart(7)} ${unexpected.padStart(10)} ${errs.padStart(8)} ${ratio.padStart(8)} ${store.padStart(9)}`);
    const notes: string[] = [];
    for (const r of results) {
      const base = r.runs.filter((x) => x.side === "baseline");
      const svc = r.runs.filter((x) => x.side === "service");
      r.runs.forEach((x, i) => {
        const label = `${"ABBA"[i]} ${x.side}`;
        row(i === 0 ? r.name : "", label, x.rps, x.p50, x.p99, String(x.unexpected), `${x.errors}/${x.timeouts}`, "", x.storePerRequest === undefined ? "" : x.storePerRequest.toFixed(2));
        if (x.unexpectedMix) notes.push(`${r.name}, run ${i + 1} (${x.side}): unexpected statuses ${x.unexpectedMix}`);
      });
      const baseRps = mean(base.map((x) => x.rps));
      const svcRps = mean(svc.map((x) => x.rps));
      row("", "mean base", baseRps, mean(base.map((x) => x.p50)), mean(base.map((x) => x.p99)), String(base.reduce((s, x) => s + x.unexpected, 0)), "", "", "");
      row(
        "",
        "mean svc",
        svcRps,
        mean(svc.map((x) => x.p50)),
        mean(svc.map((x) => x.p99)),
        String(svc.reduce((s, x) => s + x.unexpected, 0)),
        "",
        (svcRps / baseRps).toFixed(3),
        mean(svc.map((x) => x.storePerRequest ?? 0)).toFixed(2),
      );
      notes.push(`${r.name}: store calls per request by op: ${svc.map((x) => x.storeByOp || "none").join("  |  ")}; service log ${(r.logBytes / Math.max(1, r.serviceRequests)).toFixed(0)} bytes per request`);
    }
    console.log("");
    for (const n of notes) console.log(n);
  } finally {
    for (const c of children) c.kill("SIGTERM");
    fs.closeSync(logFd);
  }
}

await main();
