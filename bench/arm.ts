/**
 * npm run bench:arm — autocannon against the running service (built, started as its own process on
 * the embedded SQLite default) for GET and PUT of one configuration, beside a bare fastify route
 * measured in the same run. Prints requests/s, p50/p99 latency and the ratio to the bare route.
 * Options: BENCH_SECONDS (default 10), BENCH_CONNECTIONS (default 32).
 */
import { spawn, execFileSync, type ChildProcess } from "node:child_process";
import fs from "node:fs";
import os from "node:os";
import path from "node:path";
import autocannon from "autocannon";
import { agentPublicKey, clusterBody, clusterPath, configurationBody, configurationPath, knownHostsB64 } from "../test/helpers/fixtures.js";
import { client } from "../test/helpers/http.js";

const SECONDS = Number(process.env.BENCH_SECONDS ?? 10);
const CONNECTIONS = Number(process.env.BENCH_CONNECTIONS ?? 32);
const root = path.resolve(path.dirname(new URL(import.meta.url).pathname), "..");

function waitForLine(child: ChildProcess, pattern: RegExp): Promise<void> {
  return new Promise((resolve, reject) => {
    const onData = (chunk: Buffer) => {
      if (pattern.test(chunk.toString())) resolve();
    };
    child.stdout?.on("data", onData);
    child.on("exit", (code) => reject(new Error(`process exited early (${code})`)));
  });
}

async function waitReady(url: string, ca: string): Promise<void> {
  const http = client(url, ca);
  for (let i = 0; i < 100; i++) {
    try {
      if ((await http("/readyz")).status === 200) return;
    } catch {
      // not listening yet
    }
    await new Promise((r) => setTimeout(r, 100));
  }
  throw new Error("service did not become ready");
}

interface Figures {
  name: string;
  rps: number;
  p50: number;
  p99: number;
  errors: number;
  non2xx: number;
}

async function measure(name: string, url: string, ca: string, options: { method: "GET" | "PUT"; headers?: Record<string, string>; body?: string }): Promise<Figures> {
  const result = await autocannon({
    url,
    method: options.method,
    headers: options.headers,
    body: options.body,
    connections: CONNECTIONS,
    duration: SECONDS,
    tlsOptions: { ca },
  });
  return { name, rps: result.requests.average, p50: result.latency.p50, p99: result.latency.p99, errors: result.errors, non2xx: result.non2xx };
}

async function main(): Promise<void> {
  execFileSync("npm", ["run", "--silent", "build"], { cwd: root, stdio: "inherit" });
  const dataDir = fs.mkdtempSync(path.join(os.tmpdir(), "bench-arm-"));
  const port = 20000 + Math.floor(Math.random() * 20000);
  const service = spawn(process.execPath, [path.join(root, "dist/src/main.js")], {
    env: { ...process.env, DATA_DIR: dataDir, PORT: String(port), LOG_LEVEL: "warn" },
    stdio: ["ignore", "pipe", "inherit"],
  });
  const url = `https://127.0.0.1:${port}`;
  const children: ChildProcess[] = [service];
  try {
    const ca = await (async () => {
      for (let i = 0; i < 100 && !fs.existsSync(path.join(dataDir, "dev-token")); i++) await new Promise((r) => setTimeout(r, 100));
      return fs.readFileSync(path.join(dataDir, "tls/cert.pem"), "utf8");
    })();
    await waitReady(url, ca);
    const token = fs.readFileSync(path.join(dataDir, "dev-token"), "utf8").trim();
    const http = client(url, ca, token);
    const cluster = await http(`${clusterPath("bench")}?api-version=2024-01-01`, { method: "PUT", body: clusterBody(agentPublicKey().publicKeyB64) });
    if (cluster.status !== 201) throw new Error(`cluster: ${cluster.status} ${cluster.text}`);
    const configUrl = `${url}${configurationPath("bench", "cfg")}?api-version=2024-11-01`;
    const body = JSON.stringify(configurationBody({ sshKnownHostsContents: knownHostsB64() }));
    const created = await http(configUrl, { method: "PUT", rawBody: body, headers: { "content-type": "application/json" } });
    if (created.status !== 201) throw new Error(`configuration: ${created.status} ${created.text}`);

    const bodyFile = path.join(dataDir, "bare-body.json");
    fs.writeFileSync(bodyFile, created.text);
    const barePort = port + 1;
    const bare = spawn(process.execPath, ["--import", "tsx", path.join(root, "bench/bare-server.ts"), path.join(dataDir, "tls/cert.pem"), path.join(dataDir, "tls/key.pem"), String(barePort), bodyFile], {
      cwd: root,
      stdio: ["ignore", "pipe", "inherit"],
    });
    children.push(bare);
    await waitForLine(bare, /ready/);
    const bareUrl = `https://127.0.0.1:${barePort}/bare`;
    const auth = { authorization: `Bearer ${token}` };
    const json = { ...auth, "content-type": "application/json" };

    const rows: Figures[] = [];
    rows.push(await measure("bare GET", bareUrl, ca, { method: "GET" }));
    rows.push(await measure("GET configuration", configUrl, ca, { method: "GET", headers: auth }));
    rows.push(await measure("bare PUT", bareUrl, ca, { method: "PUT", headers: json, body }));
    rows.push(await measure("PUT configuration", configUrl, ca, { method: "PUT", headers: json, body }));

    const baseline = (name: string) => rows.find((r) => r.name === (name.startsWith("GET") ? "bare GET" : "bare PUT"));
    console.log(`\nbench:arm  ${SECONDS}s x ${CONNECTIONS} connections, HTTPS on 127.0.0.1, ${os.cpus().length} cores, node ${process.version}`);
    console.log("scenario            req/s     p50 ms  p99 ms  errors  non-2xx  vs bare");
    for (const r of rows) {
      const base = r.name.startsWith("bare") ? undefined : baseline(r.name);
      const ratio = base ? `${((r.rps / base.rps) * 100).toFixed(1)} %` : "";
      console.log(`${r.name.padEnd(18)} ${r.rps.toFixed(0).padStart(7)}  ${String(r.p50).padStart(7)} ${String(r.p99).padStart(7)} ${String(r.errors).padStart(7)} ${String(r.non2xx).padStart(8)}  ${ratio}`);
    }
  } finally {
    for (const c of children) c.kill("SIGTERM");
  }
}

await main();
