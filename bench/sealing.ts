/**
 * npm run bench:sealing — what sealing (encryption at rest) costs an ARM PUT, measured in one run
 * (issue #13: "encryption costs < 10 % against the same PUT with sealing off").
 *
 * Two services, both bench/serve.ts through bench/harness.ts serve() — the same app code, started the
 * same way (own process, tsx, log level info unless you set LOG_LEVEL, log lines to a file through the
 * production SafeLogSink, embedded SQLite, change watcher and reconciler running):
 * - plain:  MODE=plain, the plain codec (sealing OFF; production has no such switch, on purpose);
 * - sealed: MODE=local, sealing with the local key file (what bench:arm's service runs).
 * Both run for the whole bench; each pair is run A B B A (plain, sealed, sealed, plain) after a short
 * warm-up of both, autocannon over HTTPS on 127.0.0.1, BENCH_SECONDS (default 6) x BENCH_CONNECTIONS
 * (default 32) per run:
 * 1. ARM PUT of a configuration carrying secrets (configurationProtectedSettings.sshPrivateKey +
 *    sshKnownHostsContents, as bench/arm.ts): sealing of the record and of its secrets;
 * 2. the same PUT without secrets: sealing of the record only.
 * Each connection PUTs its own configuration (created before the runs), alternating operatorParams so
 * every request is a change, as bench/arm.ts does.
 *
 * Printed per run and as the mean of each side's two runs: req/s, p50/p99, non-2xx, errors/timeouts,
 * the service's CPU microseconds per PUT (process.cpuUsage() of the service, read before and after each
 * run, divided by the requests completed; the idle background is printed, not subtracted) and store
 * calls per PUT; then the sealing cost by throughput (1 - sealed/plain req/s) and by CPU
 * (1 - plain/sealed CPU per PUT: the throughput lost if the PUT were CPU-bound; steadier than req/s on a
 * shared machine).
 */
import os from "node:os";
import autocannon from "autocannon";
import { testAgent } from "../test/helpers/agent-token.js";
import { clusterBody, clusterPath, configurationBody, configurationPath, knownHostsB64, sshPrivateKeyB64 } from "../test/helpers/fixtures.js";
import { client } from "../test/helpers/http.js";
import { serve, sleep, type Stats } from "./harness.js";

const SECONDS = Number(process.env.BENCH_SECONDS ?? 6);
const CONNECTIONS = Number(process.env.BENCH_CONNECTIONS ?? 32);
const WARMUP_SECONDS = Math.min(2, SECONDS);
const V = "api-version=2024-11-01";
const CV = "api-version=2024-01-01";
const PARAMS = ["--git-readonly", "--git-readonly --git-branch=main"] as const;

type Side = "plain" | "sealed";
type Service = Awaited<ReturnType<typeof serve>>;

interface Run {
  side: Side;
  rps: number;
  p50: number;
  p99: number;
  requests: number;
  non2xx: number;
  errors: number;
  timeouts: number;
  cpuPerRequest: number;
  storePerRequest: number;
}

const sshKey = sshPrivateKeyB64();
const knownHosts = knownHostsB64();
const bodies = {
  secrets: (n: number) =>
    JSON.stringify(configurationBody({ operatorParams: PARAMS[n % 2], configurationProtectedSettings: { sshPrivateKey: sshKey }, sshKnownHostsContents: knownHosts })),
  none: (n: number) => JSON.stringify(configurationBody({ operatorParams: PARAMS[n % 2] })),
};
type Kind = keyof typeof bodies;
const putPath = (kind: Kind, connection: number) => `${configurationPath("bench", `put-${kind}-${connection}`)}?${V}`;

async function setup(svc: Service): Promise<void> {
  const http = client(svc.url, svc.ca, svc.token);
  const agent = testAgent("ec");
  const cluster = await http(`${clusterPath("bench")}?${CV}`, { method: "PUT", body: clusterBody(agent.publicKeyB64) });
  if (cluster.status !== 201) throw new Error(`cluster: ${cluster.status} ${cluster.text}`);
  for (let c = 0; c < CONNECTIONS; c++) {
    for (const kind of Object.keys(bodies) as Kind[]) {
      const res = await http(putPath(kind, c), { method: "PUT", rawBody: bodies[kind](0), headers: { "content-type": "application/json" } });
      if (res.status !== 201 && res.status !== 200) throw new Error(`configuration ${kind} ${c}: ${res.status} ${res.text}`);
    }
  }
}

function load(svc: Service, kind: Kind, seconds: number): Promise<autocannon.Result> {
  let nextConnection = 0;
  const headers = { authorization: `Bearer ${svc.token}`, "content-type": "application/json" };
  return autocannon({
    url: svc.url,
    method: "PUT",
    connections: CONNECTIONS,
    duration: seconds,
    tlsOptions: { ca: svc.ca },
    requests: [
      {
        setupRequest: (req: autocannon.Request, context: object) => {
          const ctx = context as { connection?: number; n?: number };
          if (ctx.connection === undefined) ctx.connection = nextConnection++;
          ctx.n = (ctx.n ?? 0) + 1;
          req.method = "PUT";
          req.path = putPath(kind, ctx.connection);
          req.headers = headers;
          req.body = bodies[kind](ctx.n);
          return req;
        },
      },
    ],
  });
}

async function measure(side: Side, svc: Service, kind: Kind): Promise<Run> {
  const before = await svc.stats();
  const result = await load(svc, kind, SECONDS);
  const after = await svc.stats();
  const requests = result.requests.total;
  return {
    side,
    rps: requests / SECONDS,
    p50: result.latency.p50,
    p99: result.latency.p99,
    requests,
    non2xx: result.non2xx,
    errors: result.errors,
    timeouts: result.timeouts,
    cpuPerRequest: (after.cpuMicros - before.cpuMicros) / Math.max(1, requests),
    storePerRequest: (after.storeCalls - before.storeCalls) / Math.max(1, requests),
  };
}

/** CPU µs per second and store calls per second of a service left alone for two seconds */
async function idle(svc: Service): Promise<{ cpu: number; store: number }> {
  const a: Stats = await svc.stats();
  const t0 = performance.now();
  await sleep(2000);
  const b: Stats = await svc.stats();
  const s = (performance.now() - t0) / 1000;
  return { cpu: (b.cpuMicros - a.cpuMicros) / s, store: (b.storeCalls - a.storeCalls) / s };
}

async function main(): Promise<void> {
  const services: Service[] = [];
  try {
    const plain = await serve({ mode: "plain" });
    services.push(plain);
    const sealed = await serve({ mode: "local" });
    services.push(sealed);
    const sides: Record<Side, Service> = { plain, sealed };
    await setup(plain);
    await setup(sealed);
    const idlePlain = await idle(plain);
    const idleSealed = await idle(sealed);

    const results: { kind: Kind; name: string; runs: Run[] }[] = [];
    for (const [kind, name] of [
      ["secrets", "ARM PUT, with secrets"],
      ["none", "ARM PUT, no secrets"],
    ] as const) {
      process.stderr.write(`  ${name}: warm-up, then A B B A (plain, sealed, sealed, plain) ...\n`);
      await load(plain, kind, WARMUP_SECONDS);
      await load(sealed, kind, WARMUP_SECONDS);
      const runs: Run[] = [];
      for (const side of ["plain", "sealed", "sealed", "plain"] as const) runs.push(await measure(side, sides[side], kind));
      results.push({ kind, name, runs });
    }

    // --- report --------------------------------------------------------------------------------------
    const mean = (xs: number[]) => xs.reduce((a, b) => a + b, 0) / xs.length;
    const pct = (x: number) => `${(100 * x).toFixed(1)} %`;
    const level = process.env.LOG_LEVEL ? `LOG_LEVEL=${process.env.LOG_LEVEL} (set by you)` : "log level info (shipped default)";
    console.log(
      `\nbench:sealing  ${SECONDS}s x ${CONNECTIONS} connections per run, A B B A (plain, sealed, sealed, plain), HTTPS on 127.0.0.1, ${os.cpus().length} cores, node ${process.version}; both services: bench/serve.ts (same app code, own process), SQLite, ${level}, logs to a file; plain = MODE=plain (sealing off), sealed = MODE=local (local key file); one configuration per connection`,
    );
    console.log(
      `idle background (not subtracted): plain ${idlePlain.cpu.toFixed(0)} CPU µs/s, ${idlePlain.store.toFixed(1)} store calls/s; sealed ${idleSealed.cpu.toFixed(0)} CPU µs/s, ${idleSealed.store.toFixed(1)} store calls/s`,
    );
    const head = `${"pair".padEnd(22)} ${"run".padEnd(12)} ${"req/s".padStart(7)} ${"p50 ms".padStart(7)} ${"p99 ms".padStart(7)} ${"non-2xx".padStart(7)} ${"err/t-o".padStart(8)} ${"CPU µs/req".padStart(10)} ${"store/req".padStart(9)}`;
    console.log(head);
    console.log("-".repeat(head.length));
    const row = (name: string, run: string, r: Omit<Run, "side" | "requests" | "errors" | "timeouts">, errs: string) =>
      console.log(
        `${name.padEnd(22)} ${run.padEnd(12)} ${r.rps.toFixed(0).padStart(7)} ${r.p50.toFixed(1).padStart(7)} ${r.p99.toFixed(1).padStart(7)} ${String(r.non2xx).padStart(7)} ${errs.padStart(8)} ${r.cpuPerRequest.toFixed(0).padStart(10)} ${r.storePerRequest.toFixed(2).padStart(9)}`,
      );
    const verdicts: string[] = [];
    for (const r of results) {
      r.runs.forEach((x, i) => row(i === 0 ? r.name : "", `${"ABBA"[i]} ${x.side}`, x, `${x.errors}/${x.timeouts}`));
      const m = (side: Side) => {
        const xs = r.runs.filter((x) => x.side === side);
        return {
          rps: mean(xs.map((x) => x.rps)),
          p50: mean(xs.map((x) => x.p50)),
          p99: mean(xs.map((x) => x.p99)),
          non2xx: xs.reduce((s, x) => s + x.non2xx, 0),
          cpuPerRequest: mean(xs.map((x) => x.cpuPerRequest)),
          storePerRequest: mean(xs.map((x) => x.storePerRequest)),
        };
      };
      const p = m("plain");
      const s = m("sealed");
      row("", "mean plain", p, "");
      row("", "mean sealed", s, "");
      verdicts.push(
        `${r.name}: sealing costs ${pct(1 - s.rps / p.rps)} of the PUT's throughput (1 - sealed/plain req/s: ${s.rps.toFixed(0)}/${p.rps.toFixed(0)}); ` +
          `by CPU ${pct(1 - p.cpuPerRequest / s.cpuPerRequest)} (1 - plain/sealed CPU per PUT: ${p.cpuPerRequest.toFixed(0)}/${s.cpuPerRequest.toFixed(0)} µs, sealing adds ${(s.cpuPerRequest - p.cpuPerRequest).toFixed(0)} µs per PUT)`,
      );
    }
    console.log("");
    for (const v of verdicts) console.log(v);
  } finally {
    for (const s of services) s.child.kill("SIGTERM");
  }
}

await main();
