/**
 * GET of a configuration against a bare fastify GET of the same JSON, A B B A (bare, service, service, bare),
 * the service started as its own process with its shipped defaults (log level info). A quick check for the
 * read path; `npm run bench:arm` measures every pair. Options: BENCH_SECONDS (default 6), BENCH_CONNECTIONS
 * (default 32), BENCH_SECRETS=1 (the configuration carries known_hosts: one more store read), CPU_PROF=<dir>
 * (the service writes a .cpuprofile there; only the service phases run).
 */
import { spawn, execFileSync, type ChildProcess } from "node:child_process";
import fs from "node:fs";
import os from "node:os";
import path from "node:path";
import autocannon from "autocannon";
import { agentPublicKey, clusterBody, clusterPath, configurationBody, configurationPath, knownHostsB64 } from "../test/helpers/fixtures.js";
import { client } from "../test/helpers/http.js";

const SECONDS = Number(process.env.BENCH_SECONDS ?? 6);
const CONNECTIONS = Number(process.env.BENCH_CONNECTIONS ?? 32);
const PROFILE_DIR = process.env.CPU_PROF;
const root = path.resolve(path.dirname(new URL(import.meta.url).pathname), "..");

async function run(url: string, ca: string, headers?: Record<string, string>) {
  const r = await autocannon({ url, method: "GET", headers, connections: CONNECTIONS, duration: SECONDS, tlsOptions: { ca } });
  return { rps: r.requests.average, p50: r.latency.p50, p99: r.latency.p99, non2xx: r.non2xx, errors: r.errors };
}

async function main(): Promise<void> {
  if (!process.env.NO_BUILD) execFileSync("npm", ["run", "--silent", "build"], { cwd: root, stdio: "inherit" });
  const dataDir = fs.mkdtempSync(path.join(os.tmpdir(), "bench-get-"));
  const port = 20000 + Math.floor(Math.random() * 20000);
  const args = PROFILE_DIR ? ["--cpu-prof", "--cpu-prof-dir", PROFILE_DIR] : [];
  const service = spawn(process.execPath, [...args, path.join(root, "dist/src/main.js")], {
    env: { ...process.env, DATA_DIR: dataDir, PORT: String(port) },
    stdio: ["ignore", "ignore", "inherit"],
  });
  const children: ChildProcess[] = [service];
  const url = `https://127.0.0.1:${port}`;
  try {
    for (let i = 0; i < 200 && !fs.existsSync(path.join(dataDir, "dev-token")); i++) await new Promise((r) => setTimeout(r, 100));
    const ca = fs.readFileSync(path.join(dataDir, "tls/cert.pem"), "utf8");
    const token = fs.readFileSync(path.join(dataDir, "dev-token"), "utf8").trim();
    const http = client(url, ca, token);
    for (let i = 0; i < 100 && (await http("/readyz").catch(() => ({ status: 0 }))).status !== 200; i++) await new Promise((r) => setTimeout(r, 100));
    const cluster = await http(`${clusterPath("bench")}?api-version=2024-01-01`, { method: "PUT", body: clusterBody(agentPublicKey().publicKeyB64) });
    if (cluster.status !== 201) throw new Error(`cluster: ${cluster.status} ${cluster.text}`);
    const configUrl = `${url}${configurationPath("bench", "cfg")}?api-version=2024-11-01`;
    const body = JSON.stringify(configurationBody(process.env.BENCH_SECRETS ? { sshKnownHostsContents: knownHostsB64() } : {}));
    const created = await http(configUrl, { method: "PUT", rawBody: body, headers: { "content-type": "application/json" } });
    if (created.status !== 201) throw new Error(`configuration: ${created.status} ${created.text}`);
    const auth = { authorization: `Bearer ${token}` };
    const storeCalls = async () => {
      const text = (await http("/metrics")).text;
      let n = 0;
      for (const line of text.split("\n")) if (line.startsWith("store_calls_total{") && !/op="(ping|changedSince)"/.test(line)) n += Number(line.split(" ").pop());
      return n;
    };
    if (PROFILE_DIR) {
      await run(configUrl, ca, auth); // warm
      const r = await run(configUrl, ca, auth);
      console.log("GET configuration (profiled)", r);
      return;
    }
    const bodyFile = path.join(dataDir, "bare-body.json");
    fs.writeFileSync(bodyFile, created.text);
    const barePort = port + 1;
    const bare = spawn(process.execPath, ["--import", "tsx", path.join(root, "bench/bare-server.ts"), path.join(dataDir, "tls/cert.pem"), path.join(dataDir, "tls/key.pem"), String(barePort), bodyFile], {
      cwd: root,
      stdio: ["ignore", "pipe", "inherit"],
    });
    children.push(bare);
    await new Promise<void>((resolve) => bare.stdout?.on("data", (c: Buffer) => c.toString().includes("ready") && resolve()));
    const bareUrl = `https://127.0.0.1:${barePort}/bare`;
    await run(configUrl, ca, auth); // warm the service's caches and JIT
    const before = await storeCalls();
    const rows: [string, Awaited<ReturnType<typeof run>>][] = [];
    rows.push(["bare GET", await run(bareUrl, ca)]);
    rows.push(["GET configuration", await run(configUrl, ca, auth)]);
    rows.push(["GET configuration", await run(configUrl, ca, auth)]);
    rows.push(["bare GET", await run(bareUrl, ca)]);
    const served = rows.filter(([n]) => n !== "bare GET").reduce((s, [, r]) => s + r.rps * SECONDS, 0);
    const calls = (await storeCalls()) - before;
    console.log(`GET A B B A, ${SECONDS}s x ${CONNECTIONS} connections, ${os.cpus().length} cores, node ${process.version}, secrets: ${process.env.BENCH_SECRETS ? "known_hosts" : "none"}`);
    for (const [name, r] of rows) console.log(`${name.padEnd(18)} ${r.rps.toFixed(0).padStart(7)} req/s  p50 ${r.p50} ms  p99 ${r.p99} ms  non-2xx ${r.non2xx}  errors ${r.errors}`);
    const avg = (n: string) => rows.filter(([x]) => x === n).reduce((s, [, r]) => s + r.rps, 0) / 2;
    console.log(`ratio service/bare: ${(avg("GET configuration") / avg("bare GET")).toFixed(3)}   store calls per GET ~ ${(calls / served).toFixed(2)}`);
  } finally {
    for (const c of children) c.kill("SIGTERM");
    await new Promise((r) => setTimeout(r, 1500));
  }
}

await main();
