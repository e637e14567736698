/**
 * npm run bench:crypto — what encryption at rest costs, measured in one run on this machine:
 * 1. seal/open of a typical configuration body (AES-256-GCM) against JSON encoding alone;
 * 2. the ARM service with sealing off (plain codec) and on (Key Vault provider, the local stand-in),
 *    GET and PUT of one configuration under autocannon, throughput ratio on/off;
 * 3. Key Vault calls per 1,000 requests at steady state (after one warm-up request).
 * Each comparison runs plain, sealed, sealed, plain and averages per mode (see main()).
 * Options: BENCH_SECONDS (default 8), BENCH_CONNECTIONS (default 32).
 */
import { spawn, type ChildProcess } from "node:child_process";
import crypto from "node:crypto";
import os from "node:os";
import path from "node:path";
import autocannon from "autocannon";
import { additionalData, open, seal } from "../src/crypto/envelope.js";
import { loadOrCreateTls } from "../src/server/tls.js";
import { FakeKeyVault } from "../test/keyvault/fake-key-vault.js";
import { tempDir } from "../test/helpers/server.js";
import { client } from "../test/helpers/http.js";
import { clusterBody, clusterPath, configurationBody, configurationPath } from "../test/helpers/fixtures.js";

const SECONDS = Number(process.env.BENCH_SECONDS ?? 8);
const CONNECTIONS = Number(process.env.BENCH_CONNECTIONS ?? 32);
const root = path.resolve(import.meta.dirname, "..");

function micro(): void {
  const body = Buffer.from(JSON.stringify({ ...configurationBody(), id: "/subscriptions/x/resourcegroups/rg/providers/microsoft.kubernetes/connectedclusters/c/providers/microsoft.kubernetesconfiguration/sourcecontrolconfigurations/n" }));
  const dek = crypto.randomBytes(32);
  const aad = additionalData("configuration", "/subscriptions/x/n");
  const n = 200_000;
  let t0 = performance.now();
  for (let i = 0; i < n; i++) JSON.parse(JSON.stringify(JSON.parse(body.toString())));
  const jsonMs = performance.now() - t0;
  t0 = performance.now();
  let sealed = "";
  for (let i = 0; i < n; i++) sealed = seal(dek, aad, body);
  const sealMs = performance.now() - t0;
  t0 = performance.now();
  for (let i = 0; i < n; i++) open(dek, aad, sealed);
  const openMs = performance.now() - t0;
  const per = (ms: number) => `${((ms * 1000) / n).toFixed(2)} µs`;
  console.log(`\n1. ${body.length}-byte configuration body, ${n} times`);
  console.log(`   JSON round trip ${per(jsonMs)}   seal ${per(sealMs)}   open ${per(openMs)}`);
}

interface Row {
  name: string;
  rps: number;
  /** server CPU time (user + system) per request, µs */
  cpuPerRequest: number;
  p50: number;
  p99: number;
  non2xx: number;
}

interface Served {
  url: string;
  ca: string;
  token: string;
  child: ChildProcess;
  cpu(): Promise<number>;
}

/** the service in its own process, so the load generator does not share its event loop */
async function serve(mode: "plain" | "sealed" | "local", env: Record<string, string>): Promise<Served> {
  const child = spawn(process.execPath, ["--import", "tsx", path.join(root, "bench/serve.ts")], { cwd: root, env: { ...process.env, ...env, MODE: mode, LOG_LEVEL: "warn" }, stdio: ["ignore", "pipe", "inherit"] });
  const line = await new Promise<string>((resolve, reject) => {
    let out = "";
    child.stdout?.on("data", (c: Buffer) => {
      out += c.toString();
      const nl = out.indexOf("\n");
      if (nl >= 0) resolve(out.slice(0, nl));
    });
    child.on("exit", (code) => reject(new Error(`${mode} server exited (${code})`)));
  });
  const lines: ((cpu: number) => void)[] = [];
  child.stdout?.on("data", (c: Buffer) => {
    for (const l of c.toString().split("\n")) if (l.includes("cpuMicros")) lines.shift()?.((JSON.parse(l) as { cpuMicros: number }).cpuMicros);
  });
  const cpu = () =>
    new Promise<number>((resolve) => {
      lines.push(resolve);
      child.kill("SIGUSR2");
    });
  return { ...(JSON.parse(line) as Omit<Served, "child" | "cpu">), child, cpu };
}

async function load(name: string, server: Served, method: "GET" | "PUT", body: string | undefined, seconds: number): Promise<Row> {
  const url = `${server.url}${configurationPath("bench", "cfg")}?api-version=2024-11-01`;
  const cpuBefore = await server.cpu();
  const result = await autocannon({
    url,
    method,
    body,
    headers: { authorization: `Bearer ${server.token}`, "content-type": "application/json" },
    connections: CONNECTIONS,
    duration: seconds,
    tlsOptions: { ca: server.ca },
  });
  const cpuAfter = await server.cpu();
  return { name, rps: result.requests.average, cpuPerRequest: (cpuAfter - cpuBefore) / Math.max(1, result.requests.total), p50: result.latency.p50, p99: result.latency.p99, non2xx: result.non2xx };
}

async function main(): Promise<void> {
  micro();
  const workDir = tempDir("bench-kv-");
  const tls = await loadOrCreateTls(workDir, {});
  const kv = new FakeKeyVault(tls);
  await kv.start();
  kv.rotate("bench-kek");
  const plain = await serve("plain", {});
  const sealed = await serve(process.env.BENCH_SEALED_MODE === "local" ? "local" : "sealed", { KV_URL: kv.url, KV_TOKEN: kv.token, KV_CA_FILE: path.join(workDir, "tls", "cert.pem") });
  // a PUT without protected settings or known_hosts: the secrets case costs one wrapKey per PUT by design
  const body = JSON.stringify(configurationBody());
  for (const s of [plain, sealed]) {
    const http = client(s.url, s.ca, s.token);
    await http(`${clusterPath("bench")}?api-version=2024-01-01`, { method: "PUT", body: clusterBody() });
    await http(`${configurationPath("bench", "cfg")}?api-version=2024-11-01`, { method: "PUT", rawBody: body, headers: { "content-type": "application/json" } });
    // warm-up: JIT, TLS sessions, caches
    await load("warm-up", s, "GET", undefined, 2);
  }
  kv.resetCalls();
  const rows: Row[] = [];
  // The second of two back-to-back runs measures slower on this machine whichever mode it is, so each
  // pair runs twice, in both orders (ABBA), and each mode's figures are the mean of its two runs.
  for (const method of ["GET", "PUT"] as const) {
    const runs: Row[] = [];
    for (const mode of ["plain", "sealed", "sealed", "plain"] as const) {
      runs.push(await load(`${method} ${mode}`, mode === "plain" ? plain : sealed, method, method === "PUT" ? body : undefined, SECONDS));
    }
    for (const mode of ["plain", "sealed"] as const) {
      const mine = runs.filter((r) => r.name === `${method} ${mode}`);
      const mean = (f: (r: Row) => number) => mine.reduce((a, r) => a + f(r), 0) / mine.length;
      rows.push({ name: `${method} ${mode}`, rps: mean((r) => r.rps), cpuPerRequest: mean((r) => r.cpuPerRequest), p50: mean((r) => r.p50), p99: mean((r) => r.p99), non2xx: mean((r) => r.non2xx) });
    }
  }
  const sealedRequests = rows.filter((r) => r.name.endsWith("sealed")).reduce((a, r) => a + r.rps * SECONDS * 2, 0);
  const kvCalls = kv.calls.getKey + kv.calls.wrapKey + kv.calls.unwrapKey;

  console.log(`\n2. ARM service, ${SECONDS}s x ${CONNECTIONS} connections, HTTPS on 127.0.0.1, ${os.cpus().length} cores, node ${process.version}, SQLite store, service in its own process`);
  console.log("scenario        req/s   p50 ms  p99 ms  non-2xx  CPU µs/req  throughput vs plain   CPU/req vs plain");
  for (const r of rows) {
    const base = r.name.endsWith("sealed") ? rows.find((x) => x.name === r.name.replace("sealed", "plain")) : undefined;
    const ratio = base ? `${((r.rps / base.rps) * 100).toFixed(1)} %`.padEnd(20) + ` +${((r.cpuPerRequest / base.cpuPerRequest - 1) * 100).toFixed(1)} %` : "";
    console.log(`${r.name.padEnd(14)} ${r.rps.toFixed(0).padStart(6)}  ${String(r.p50).padStart(6)}  ${String(r.p99).padStart(6)}  ${String(r.non2xx).padStart(7)}  ${r.cpuPerRequest.toFixed(0).padStart(10)}  ${ratio}`);
  }
  console.log(`\n3. Key Vault calls at steady state: ${kvCalls} for ~${Math.round(sealedRequests)} sealed requests = ${((kvCalls / Math.max(1, sealedRequests)) * 1000).toFixed(3)} per 1,000 (getKey ${kv.calls.getKey}, wrapKey ${kv.calls.wrapKey}, unwrapKey ${kv.calls.unwrapKey})`);
  plain.child.kill("SIGTERM");
  sealed.child.kill("SIGTERM");
  await kv.stop();
}

await main();
