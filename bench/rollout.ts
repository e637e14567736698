/**
 * npm run bench:rollout — one subscription-scope configuration assignment rolled out to a fleet, measured
 * in one run:
 * 1. the service (bench/serve.ts, own process, local sealing, the assignment reconciler started as in
 *    production); setup over HTTPS: ROLLOUT_CLUSTERS clusters in one subscription across 4 resource
 *    groups, all tagged ring=prod, each with its own P-256 agent key; one token and one poll per agent
 *    for its ETag (empty desired state);
 * 2. baselines in the same run, before the rollout: 8 connections GETting random clusters (ARM API
 *    latency) alone, then the same with the agents polling round-robin (all 304s);
 * 3. t0 = PUT of the assignment (selector ring=prod); until both are done: the assignment is polled
 *    every 500 ms (progress, time until rollout.status is Completed), the agents poll round-robin
 *    (If-None-Match, no long-poll) until each has received the configuration, and the 8-connection GET
 *    loop runs until the rollout completes (ratio of its p99 to the baseline's);
 * 4. service CPU, RSS and store calls (SIGUSR2, and /metrics by operation) around the rollout; 200
 *    random configurations checked;
 * 5. the same rollout alone: a fresh service, the same clusters, nothing else running - the rollout's
 *    own rate, CPU and store calls per cluster, and how much the load above slowed it.
 * 6. a staged rollout alone on that same fresh service (issue #15): a second assignment (its own
 *    configuration name, the same clusters) with a three-stage policy (1 %, 10 % of the rest, the rest;
 *    bake time 0, gates that need no agent report: minInstalledPercentage 0, maxFailures 0), printed
 *    beside today's rollout alone: the overhead of freezing membership, three walks and three gate judgements.
 * ROLLOUT_MODE=alone runs only 5 and 6 (a fresh service, no agents, no probe): quick to iterate.
 * The GET loop runs in a child process of its own (this file with --probe), so the agent pollers'
 * work in this process does not queue its requests; the machine's cores are still shared.
 * Options: ROLLOUT_CLUSTERS (default 10000), BENCH_CONNECTIONS (agent pollers, default 64),
 * SETUP_CONCURRENCY (default 64).
 */
import { spawn, type ChildProcess } from "node:child_process";
import https from "node:https";
import os from "node:os";
import path from "node:path";
import { performance } from "node:perf_hooks";
import { fileURLToPath } from "node:url";
import { client, type HttpResponse } from "../test/helpers/http.js";
import { testAgent, type TestAgent } from "../test/helpers/agent-token.js";
import { clusterBody, clusterPath, configurationPath, SUB } from "../test/helpers/fixtures.js";
import { assignmentBody, assignmentPath, withApi } from "../test/helpers/assignments.js";
import { header, pool, quantile, serve, sleep, type Stats } from "./harness.js";

const CLUSTERS = Number(process.env.ROLLOUT_CLUSTERS ?? 10_000);
const MODE = process.env.ROLLOUT_MODE ?? "full";
const STAGED_ASSIGNMENT = "bench-staged";
/** three stages, bake 0, gates judged but needing no agent report (nothing polls in the alone phase) */
const STAGED_POLICY = {
  stages: [
    { name: "canary", percentage: 1, bakeTime: "PT0S", gates: { minInstalledPercentage: 0, maxFailures: 0 } },
    { name: "early", percentage: 10, bakeTime: "PT0S", gates: { minInstalledPercentage: 0, maxFailures: 0 } },
    { name: "broad", bakeTime: "PT0S", gates: { minInstalledPercentage: 0, maxFailures: 0 } },
  ],
};
const CONNECTIONS = Number(process.env.BENCH_CONNECTIONS ?? 64);
const SETUP_CONCURRENCY = Number(process.env.SETUP_CONCURRENCY ?? 64);
const PROBE_CONNECTIONS = 8;
const BASELINE_SECONDS = 5;
const VERIFY_SAMPLES = 200;
const ROLLOUT_DEADLINE_MS = 30 * 60_000;
const RECEIPT_GRACE_MS = 5 * 60_000;
const TOKEN_LIFETIME_S = 600; // the agent API's maximum
const CV = "api-version=2024-01-01";
const V = "api-version=2024-11-01";
const ASSIGNMENT = "bench-baseline";
const CONFIG_NAME = "baseline";
const RGS = ["rollout-a", "rollout-b", "rollout-c", "rollout-d"];
const root = path.resolve(import.meta.dirname, "..");
const self = fileURLToPath(import.meta.url);


interface Member {
  name: string;
  rg: string;
  id: string;
  agent: TestAgent;
  auth: string;
  /** expiry of `auth`, seconds */
  exp: number;
  path: string;
  etag: string;
  /** ms after t0 when a poll first returned the assigned configuration */
  receivedAt?: number;
  /** a poll of this agent is in flight (a worker never polls an agent another worker is polling) */
  polling?: boolean;
}

interface ProbeSummary {
  n: number;
  seconds: number;
  rps: number;
  p50: number;
  p99: number;
  max: number;
  errors: number;
  non200: number;
  /** CPU time of the probe process over the window */
  cpuMs: number;
  /** 5 s windows: p99 over time */
  windows: { from: number; n: number; p50: number; p99: number }[];
}

const s1 = (ms: number) => `${(ms / 1000).toFixed(1)} s`;
const ms2 = (x: number) => `${x.toFixed(2)} ms`;
const mib = (b: number) => `${(b / 2 ** 20).toFixed(0)} MiB`;
const pct = (x: number) => `${(x * 100).toFixed(0)} %`;

// --- the ARM latency probe (child process) ----------------------------------------------------------

/** this file run with --probe: 8 connections GETting random clusters between "start" and "stop" */
async function probeProcess(): Promise<void> {
  let config: { url: string; ca: string; token: string; paths: string[]; connections: number } | undefined;
  let running: Promise<ProbeSummary> | undefined;
  let stopping = false;
  const run = async (): Promise<ProbeSummary> => {
    const c = config!;
    const agent = new https.Agent({ ca: c.ca, keepAlive: true, maxSockets: c.connections });
    const samples: number[] = [];
    const at: number[] = [];
    let errors = 0;
    let non200 = 0;
    const start = performance.now();
    const cpu0 = process.cpuUsage();
    const one = () =>
      new Promise<number>((resolve, reject) => {
        const p = c.paths[Math.floor(Math.random() * c.paths.length)] as string;
        const req = https.request(new URL(p, c.url), { agent, headers: { authorization: `Bearer ${c.token}` } }, (res) => {
          res.resume();
          res.on("end", () => resolve(res.statusCode ?? 0));
        });
        req.on("error", reject);
        req.end();
      });
    await Promise.all(
      Array.from({ length: c.connections }, async () => {
        while (!stopping) {
          const t = performance.now();
          try {
            const status = await one();
            if (status !== 200) non200++;
            samples.push(performance.now() - t);
            at.push(t - start);
          } catch {
            errors++;
            await sleep(10);
          }
        }
      }),
    );
    const seconds = (performance.now() - start) / 1000;
    const cpu = process.cpuUsage(cpu0);
    agent.destroy();
    const windows: ProbeSummary["windows"] = [];
    for (let from = 0; from < seconds; from += 5) {
      const xs = samples.filter((_, i) => (at[i] as number) >= from * 1000 && (at[i] as number) < (from + 5) * 1000);
      windows.push({ from, n: xs.length, p50: quantile(xs, 0.5), p99: quantile(xs, 0.99) });
    }
    return { n: samples.length, seconds, rps: samples.length / seconds, p50: quantile(samples, 0.5), p99: quantile(samples, 0.99), max: Math.max(...samples), errors, non200, cpuMs: (cpu.user + cpu.system) / 1000, windows };
  };
  process.on("disconnect", () => process.exit(0));
  process.on("message", (msg: { type: string } & Record<string, unknown>) => {
    if (msg.type === "config") {
      config = msg as unknown as typeof config;
      process.send?.({ type: "ready" });
    } else if (msg.type === "start") {
      stopping = false;
      running = run();
      process.send?.({ type: "started" });
    } else if (msg.type === "stop") {
      stopping = true;
      void running?.then((summary) => process.send?.({ type: "result", summary }));
    } else if (msg.type === "exit") process.exit(0);
  });
}

interface Probe {
  child: ChildProcess;
  start(): Promise<void>;
  stop(): Promise<ProbeSummary>;
}

async function startProbe(url: string, ca: string, token: string, paths: string[]): Promise<Probe> {
  const child = spawn(process.execPath, ["--import", "tsx", self, "--probe"], { cwd: root, stdio: ["ignore", "inherit", "inherit", "ipc"] });
  const next = (type: string) =>
    new Promise<Record<string, unknown>>((resolve, reject) => {
      const onMessage = (msg: { type: string } & Record<string, unknown>) => {
        if (msg.type !== type) return;
        child.off("message", onMessage);
        resolve(msg);
      };
      child.on("message", onMessage);
      child.once("exit", (code) => reject(new Error(`probe exited (${code})`)));
    });
  const ready = next("ready");
  child.send({ type: "config", url, ca, token, paths, connections: PROBE_CONNECTIONS });
  await ready;
  return {
    child,
    async start() {
      const started = next("started");
      child.send({ type: "start" });
      await started;
    },
    async stop() {
      const result = next("result");
      child.send({ type: "stop" });
      return (await result).summary as ProbeSummary;
    },
  };
}

// --- the service (as bench/fleet.ts) ----------------------------------------------------------------

/** runs fn over items with at most `limit` in flight */
/** CPU time of the whole machine, of this process and of the service, to tell what else ran meanwhile */
interface Meter {
  at: number;
  machineMs: number;
  benchMs: number;
  stats: Stats;
}

/** busy time of every core (os.cpus(), ms) */
const machineBusyMs = (): number => os.cpus().reduce((sum, c) => sum + c.times.user + c.times.nice + c.times.sys + c.times.irq, 0);

function meterWith(stats: Stats): Meter {
  const bench = process.cpuUsage();
  return { at: performance.now(), machineMs: machineBusyMs(), benchMs: (bench.user + bench.system) / 1000, stats };
}

const meter = async (stats: () => Promise<Stats>): Promise<Meter> => meterWith(await stats());

/** CPU used by other processes on the machine between two meters (fraction of one core): what the bench did not run itself */
const others = (a: Meter, b: Meter, probeMs = 0): number =>
  Math.max(0, b.machineMs - a.machineMs - (b.benchMs - a.benchMs) - (b.stats.cpuMicros - a.stats.cpuMicros) / 1000 - probeMs) / (b.at - a.at);

/** waits until the service uses < 5 % of a core over 2 s (the reconciler has drained the cluster outbox) */
async function quiesce(stats: () => Promise<Stats>): Promise<string> {
  const t = performance.now();
  let last = await stats();
  let share = 1;
  while (performance.now() - t < 180_000) {
    await sleep(2000);
    const now = await stats();
    share = (now.cpuMicros - last.cpuMicros) / 2_000_000;
    last = now;
    if (share < 0.05) break;
  }
  return `${s1(performance.now() - t)} until the service used < 5 % of a core (last 2 s: ${(share * 100).toFixed(1)} %)`;
}

/** store_calls_total from /metrics, summed by operation */
async function storeCallsByOp(arm: ReturnType<typeof client>): Promise<Map<string, number>> {
  const res = await arm("/metrics");
  const out = new Map<string, number>();
  for (const line of res.text.split("\n")) {
    const m = /^store_calls_total\{([^}]*)\} (\S+)$/.exec(line);
    const op = m ? /op="([^"]*)"/.exec(m[1] as string)?.[1] : undefined;
    if (m && op) out.set(op, (out.get(op) ?? 0) + Number(m[2]));
  }
  return out;
}

const opDiff = (before: Map<string, number>, after: Map<string, number>): string =>
  [...after]
    .map(([op, n]) => [op, n - (before.get(op) ?? 0)] as const)
    .filter(([, n]) => n > 0)
    .sort((a, b) => b[1] - a[1])
    .map(([op, n]) => `${op} ${n}`)
    .join(", ");

/** registers the fleet's clusters (tag ring=prod, each its own agent key) on a service */
async function registerFleet(arm: ReturnType<typeof client>, fleet: Member[]): Promise<number> {
  const t = performance.now();
  const step = Math.max(1, Math.floor(fleet.length / 10));
  await pool(
    fleet,
    SETUP_CONCURRENCY,
    async (m) => {
      const res = await arm(`${clusterPath(m.name, SUB, m.rg)}?${CV}`, { method: "PUT", body: clusterBody(m.agent.publicKeyB64, { tags: { ring: "prod" } }) });
      if (res.status !== 200 && res.status !== 201) throw new Error(`cluster PUT ${m.name}: ${res.status} ${res.text}`);
    },
    (done) => {
      if (done % step === 0 || done === fleet.length) console.log(`  setup ${done}/${fleet.length} clusters, ${s1(performance.now() - t)}`);
    },
  );
  return performance.now() - t;
}

// --- the agents -------------------------------------------------------------------------------------

async function authOf(m: Member): Promise<string> {
  const now = Math.floor(Date.now() / 1000);
  if (m.exp - now < 60) {
    m.auth = `Bearer ${await m.agent.token(m.id, { lifetimeSeconds: TOKEN_LIFETIME_S, iat: now })}`;
    m.exp = now + TOKEN_LIFETIME_S;
  }
  return m.auth;
}

const hasAssigned = (res: HttpResponse): boolean => {
  const configurations = (res.json as { configurations?: { name?: string; deleted?: boolean }[] } | undefined)?.configurations;
  return Array.isArray(configurations) && configurations.some((c) => c.name === CONFIG_NAME && c.deleted !== true);
};

interface PollRun {
  polls: number;
  statuses: Record<string, number>;
  errors: number;
  /** round-robin passes over at least CONNECTIONS agents: duration and how many agents were still waiting (agents that received drop out) */
  cycles: { ms: number; agents: number }[];
}

const newPollRun = (): PollRun => ({ polls: 0, statuses: {}, errors: 0, cycles: [] });

/**
 * CONNECTIONS workers poll the agents round-robin (plain polls with If-None-Match), until stop() says
 * so; with onReceived, an agent drops out of the rotation on the first 200 carrying the assigned
 * configuration. One poll per agent in flight at a time: when fewer agents are left than workers,
 * the spare workers wait a moment instead of spinning.
 */
async function pollAgents(fleet: Member[], raw: ReturnType<typeof client>, stop: () => boolean, onReceived?: (m: Member) => void, run = newPollRun()): Promise<PollRun> {
  let rotation = fleet.filter((m) => m.receivedAt === undefined);
  let cursor = 0;
  let passStart = performance.now();
  /** the next agent to poll, or undefined when every waiting agent has a poll in flight */
  const take = (): Member | undefined => {
    for (let scanned = 0; scanned <= rotation.length; scanned++) {
      if (cursor >= rotation.length) {
        const now = performance.now();
        // below CONNECTIONS waiting agents each has a poll in flight all the time: no pass to speak of
        if (rotation.length >= CONNECTIONS) run.cycles.push({ ms: now - passStart, agents: rotation.length });
        passStart = now;
        rotation = rotation.filter((m) => m.receivedAt === undefined);
        cursor = 0;
        if (rotation.length === 0) return undefined;
      }
      const m = rotation[cursor++] as Member;
      if (m.receivedAt === undefined && !m.polling) return m;
    }
    return undefined;
  };
  const worker = async () => {
    while (!stop()) {
      const m = take();
      if (!m) {
        if (rotation.length === 0) return;
        await sleep(5);
        continue;
      }
      m.polling = true;
      try {
        const res = await raw(m.path, { headers: { authorization: await authOf(m), "if-none-match": m.etag } });
        run.polls++;
        run.statuses[res.status] = (run.statuses[res.status] ?? 0) + 1;
        if (res.status === 200) {
          const etag = header(res.headers, "etag");
          if (etag) m.etag = etag;
          if (onReceived && m.receivedAt === undefined && hasAssigned(res)) onReceived(m);
        }
      } catch {
        run.errors++;
        await sleep(10);
      } finally {
        m.polling = false;
      }
    }
  };
  await Promise.all(Array.from({ length: CONNECTIONS }, worker));
  return run;
}

interface RolloutView {
  status?: string;
  clustersProcessed?: number;
  clustersTotal?: number;
  generation?: number;
  startedAt?: string;
  completedAt?: string;
}

interface Followed {
  /** ms after t0 when a GET first showed the rollout Completed (undefined: not within the deadline) */
  doneMs?: number;
  rollout: RolloutView;
  /** provisioningState -> first seen, ms after t0 */
  states: Map<string, number>;
  gets: number;
  errors: number;
  /** clusters/s per progress line */
  rates: number[];
  peakRss: number;
  /** service stats when the completion was seen */
  atDone: Stats;
  /** distinct complianceSummary.evaluatedAt seen while the rollout ran (each evaluation walks every matching cluster) */
  summaries: number;
}

/**
 * GETs the assignment every 500 ms until its rollout (of `generation`) is Completed; a progress line
 * every ~5 s with the rate since the last line and the service's CPU and RSS.
 */
async function followRollout(
  arm: ReturnType<typeof client>,
  stats: () => Promise<Stats>,
  name: string,
  generation: number | undefined,
  t0: number,
  start: Stats,
  extra: () => string = () => "",
): Promise<Followed> {
  const out: Followed = { rollout: {}, states: new Map(), gets: 0, errors: 0, rates: [], peakRss: start.rss, atDone: start, summaries: 0 };
  let evaluatedAt: string | undefined;
  let last = { at: 0, processed: 0, stats: start };
  while (performance.now() - t0 < ROLLOUT_DEADLINE_MS) {
    await sleep(500);
    let res: HttpResponse;
    try {
      res = await arm(withApi(assignmentPath(name)));
      out.gets++;
    } catch {
      out.errors++;
      continue;
    }
    const now = performance.now() - t0;
    if (res.status !== 200) {
      out.errors++;
      continue;
    }
    const p = (res.json as { properties: { provisioningState?: string; rollout?: RolloutView; complianceSummary?: { evaluatedAt?: string } } }).properties;
    const evaluated = p.complianceSummary?.evaluatedAt;
    if (evaluated !== undefined && evaluated !== evaluatedAt) {
      evaluatedAt = evaluated;
      out.summaries++;
    }
    if (p.provisioningState && !out.states.has(p.provisioningState)) out.states.set(p.provisioningState, now);
    const r = p.rollout ?? {};
    out.rollout = r;
    const processed = r.clustersProcessed ?? 0;
    const done = r.status === "Completed" && (generation === undefined || r.generation === generation);
    if (now - last.at >= 5000 || done) {
      const s = await stats();
      out.peakRss = Math.max(out.peakRss, s.rss);
      const rate = ((processed - last.processed) / (now - last.at)) * 1000;
      const cpu = (s.cpuMicros - last.stats.cpuMicros) / ((now - last.at) * 1000);
      out.rates.push(rate);
      console.log(
        `  ${s1(now).padStart(8)}  ${String(processed).padStart(6)}/${String(r.clustersTotal ?? "?")} clusters  ${rate.toFixed(0).padStart(5)} clusters/s (overall ${((processed / now) * 1000).toFixed(0).padStart(4)})  ${String(p.provisioningState).padEnd(9)}  service CPU ${String(Math.round(cpu * 100)).padStart(3)} %, RSS ${mib(s.rss)}, summaries ${out.summaries}${extra()}`,
      );
      last = { at: now, processed, stats: s };
      if (done) {
        out.doneMs = now;
        out.atDone = s;
        return out;
      }
    }
  }
  out.atDone = await stats();
  return out;
}

// --- staged rollout alone (issue #15) ---------------------------------------------------------------

interface AloneFigures {
  ms: number;
  cpuMicros: number;
  storeCalls: number;
  rollout: RolloutView & { stages?: { name: string; clustersTotal?: number; openedAt?: string; passedAt?: string }[] };
}

/** one assignment PUT on an otherwise idle service, followed until Completed: time, service CPU, store calls */
async function rolloutAlone(arm: ReturnType<typeof client>, svc: { stats: () => Promise<Stats> }, name: string, body: unknown, perGet: number): Promise<AloneFigures> {
  const before = await svc.stats();
  const t0 = performance.now();
  const put = await arm(withApi(assignmentPath(name)), { method: "PUT", body });
  if (put.status !== 200 && put.status !== 201) throw new Error(`assignment PUT ${name}: ${put.status} ${put.text}`);
  const followed = await followRollout(arm, svc.stats, name, (put.json as { properties?: { rollout?: RolloutView } }).properties?.rollout?.generation, t0, before);
  const res = await arm(withApi(assignmentPath(name)));
  const rollout = (res.json as { properties: { rollout: AloneFigures["rollout"] } }).properties.rollout;
  return {
    ms: followed.doneMs ?? NaN,
    cpuMicros: followed.atDone.cpuMicros - before.cpuMicros,
    storeCalls: followed.atDone.storeCalls - before.storeCalls - perGet * followed.gets,
    rollout,
  };
}

function printStagedBeside(today: AloneFigures, staged: AloneFigures): void {
  const row = (label: string, value: string) => console.log(`${label.padEnd(31)} ${value}`);
  const line = (f: AloneFigures) =>
    `${s1(f.ms)} = ${((CLUSTERS / f.ms) * 1000).toFixed(0)} clusters/s; service CPU ${(f.cpuMicros / 1e6).toFixed(1)} s = ${(f.cpuMicros / CLUSTERS / 1000).toFixed(2)} ms per cluster; ${(f.storeCalls / CLUSTERS).toFixed(2)} store calls per cluster`;
  console.log(`\nstaged rollout beside today's, each alone on the same fresh service (${CLUSTERS} clusters, sealing on, SQLite)`);
  row("today's rollout (no policy)", line(today));
  row("3 stages, bake 0, gates", line(staged));
  const stages = (staged.rollout.stages ?? []).map((s) => `${s.name} ${s.clustersTotal ?? "?"} clusters, ${s1(Date.parse(s.passedAt ?? "") - Date.parse(s.openedAt ?? ""))}`);
  row("  stages (opened -> passed)", stages.join("; "));
  row("  overhead", `${(staged.ms / today.ms).toFixed(2)}x the time, ${(staged.cpuMicros / today.cpuMicros).toFixed(2)}x the CPU, ${(staged.storeCalls / Math.max(1, today.storeCalls)).toFixed(2)}x the store calls (membership frozen by one walk, each stage a walk of the scope writing only its clusters, a gate judgement a walk reading its clusters' configurations)`);
}

async function stagedBeside(arm: ReturnType<typeof client>, svc: { stats: () => Promise<Stats> }, today: AloneFigures, perGet: number): Promise<void> {
  console.log(`\nstaged rollout alone: a second assignment ('${STAGED_ASSIGNMENT}', its own configuration name) over the same ${CLUSTERS} clusters, 3 stages, bake 0`);
  const staged = await rolloutAlone(arm, svc, STAGED_ASSIGNMENT, assignmentBody({ configurationName: "staged", clusterSelector: { tags: { ring: "prod" } }, rolloutPolicy: STAGED_POLICY }), perGet);
  printStagedBeside(today, staged);
}

/** ROLLOUT_MODE=alone: a fresh service, the fleet registered, today's rollout alone, then the staged one */
async function mainAlone(children: ChildProcess[]): Promise<void> {
  const svc = await serve();
  children.push(svc.child);
  const arm = client(svc.url, svc.ca, svc.token);
  const fleet: Member[] = Array.from({ length: CLUSTERS }, (_, i) => {
    const rg = RGS[i % RGS.length] as string;
    const name = `c${String(i).padStart(6, "0")}`;
    const id = clusterPath(name, SUB, rg);
    return { name, rg, id, agent: testAgent("ec"), auth: "", exp: 0, path: `/agent/v1${id}/configurations`, etag: "" };
  });
  const setupMs = await registerFleet(arm, fleet);
  console.log(`setup: ${s1(setupMs)}; quiesce: ${await quiesce(svc.stats)}`);
  const cal = await svc.stats();
  for (let i = 0; i < 20; i++) await arm(withApi(assignmentPath("none")));
  const perGet = ((await svc.stats()).storeCalls - cal.storeCalls) / 20;
  console.log(`\ntoday's rollout alone ('${ASSIGNMENT}')`);
  const today = await rolloutAlone(arm, svc, ASSIGNMENT, assignmentBody({ clusterSelector: { tags: { ring: "prod" } } }), perGet);
  await stagedBeside(arm, svc, today, perGet);
}

// --- the bench --------------------------------------------------------------------------------------

async function main(children: ChildProcess[]): Promise<void> {
  const benchCpu0 = process.cpuUsage();
  const svc = await serve();
  children.push(svc.child);
  const arm = client(svc.url, svc.ca, svc.token);
  const raw = client(svc.url, svc.ca);

  // --- setup ---------------------------------------------------------------------------------------
  let t = performance.now();
  const fleet: Member[] = Array.from({ length: CLUSTERS }, (_, i) => {
    const rg = RGS[i % RGS.length] as string;
    const name = `c${String(i).padStart(6, "0")}`;
    const id = clusterPath(name, SUB, rg);
    return { name, rg, id, agent: testAgent("ec"), auth: "", exp: 0, path: `/agent/v1${id}/configurations`, etag: "" };
  });
  const keysMs = performance.now() - t;
  const setupMs = await registerFleet(arm, fleet);
  t = performance.now();
  await Promise.all(fleet.map((m) => authOf(m)));
  const signMs = performance.now() - t;
  t = performance.now();
  let notEmpty = 0;
  await pool(fleet, SETUP_CONCURRENCY, async (m) => {
    const res = await raw(m.path, { headers: { authorization: m.auth } });
    if (res.status !== 200) throw new Error(`agent GET ${m.name}: ${res.status} ${res.text}`);
    m.etag = String(res.headers.etag);
    if (hasAssigned(res)) notEmpty++;
  });
  const firstGetMs = performance.now() - t;
  console.log(
    `setup: ${CLUSTERS} agent keys ${s1(keysMs)}; ${CLUSTERS} clusters (1 subscription, ${RGS.length} resource groups, tag ring=prod) over HTTPS, ${SETUP_CONCURRENCY} in flight: ${s1(setupMs)} (${(CLUSTERS / (setupMs / 1000)).toFixed(0)} PUT/s); tokens ${s1(signMs)}; first poll per agent ${s1(firstGetMs)}${notEmpty ? ` (${notEmpty} already had '${CONFIG_NAME}'!)` : ""}`,
  );

  // the reconciler drains the outbox the cluster PUTs wrote (no assignment yet): wait until the service idles
  console.log(`quiesce: ${await quiesce(svc.stats)}`);

  // --- baselines -----------------------------------------------------------------------------------
  const probe = await startProbe(
    svc.url,
    svc.ca,
    svc.token,
    fleet.map((m) => `${clusterPath(m.name, SUB, m.rg)}?${CV}`),
  );
  children.push(probe.child);
  // warm-up (JIT, TLS, the probe's connections)
  await probe.start();
  await sleep(1000);
  await probe.stop();
  let m0 = await meter(svc.stats);
  await probe.start();
  await sleep(BASELINE_SECONDS * 1000);
  const baseline = await probe.stop();
  let m1 = await meter(svc.stats);
  const storeCallsPerGet = (m1.stats.storeCalls - m0.stats.storeCalls) / Math.max(1, baseline.n);
  const baselineCpu = (m1.stats.cpuMicros - m0.stats.cpuMicros) / (baseline.seconds * 1e6);
  const othersBaseline = others(m0, m1, baseline.cpuMs);
  console.log(
    `baseline: cluster GET x ${PROBE_CONNECTIONS} connections alone, ${baseline.seconds.toFixed(1)} s: ${baseline.rps.toFixed(0)} req/s, p50 ${ms2(baseline.p50)}, p99 ${ms2(baseline.p99)}; other processes on the machine ${pct(othersBaseline)} of a core`,
  );

  m0 = await meter(svc.stats);
  await probe.start();
  let stopPolling = false;
  const pollTimer = setTimeout(() => (stopPolling = true), BASELINE_SECONDS * 1000);
  const t304 = performance.now();
  const idlePolls = await pollAgents(fleet, raw, () => stopPolling);
  const idlePollSeconds = (performance.now() - t304) / 1000;
  clearTimeout(pollTimer);
  const withPolling = await probe.stop();
  m1 = await meter(svc.stats);
  const storeCallsPer304 = Math.max(0, m1.stats.storeCalls - m0.stats.storeCalls - storeCallsPerGet * withPolling.n) / Math.max(1, idlePolls.polls);
  const othersPolling = others(m0, m1, withPolling.cpuMs);
  const idlePollRate = idlePolls.polls / idlePollSeconds;
  const idleCycleMs = CLUSTERS / idlePollRate * 1000;
  console.log(
    `baseline: the same with ${CONNECTIONS} agent pollers (no rollout), ${withPolling.seconds.toFixed(1)} s: ${withPolling.rps.toFixed(0)} req/s, p50 ${ms2(withPolling.p50)}, p99 ${ms2(withPolling.p99)}; agents ${idlePollRate.toFixed(0)} polls/s (${JSON.stringify(idlePolls.statuses)}, errors ${idlePolls.errors}) = one pass over ${CLUSTERS} agents every ${s1(idleCycleMs)}; ${storeCallsPer304.toFixed(3)} store calls per poll; other processes ${pct(othersPolling)} of a core`,
  );

  // --- the rollout ---------------------------------------------------------------------------------
  const opsBefore = await storeCallsByOp(arm);
  const rolloutBefore = await svc.stats();
  const mRollout = meterWith(rolloutBefore);
  const benchCpuBefore = process.cpuUsage();
  const t0 = performance.now();
  const wall0 = Date.now();
  const put = await arm(withApi(assignmentPath(ASSIGNMENT)), { method: "PUT", body: assignmentBody({ clusterSelector: { tags: { ring: "prod" } } }) });
  const putMs = performance.now() - t0;
  if (put.status !== 200 && put.status !== 201) throw new Error(`assignment PUT: ${put.status} ${put.text}`);
  const putProps = (put.json as { properties?: { provisioningState?: string; rollout?: RolloutView } }).properties;
  console.log(`\nrollout: PUT ${assignmentPath(ASSIGNMENT)} -> ${put.status} in ${ms2(putMs)} (provisioningState ${String(putProps?.provisioningState)})`);
  await probe.start();

  let received = 0;
  const receipts: number[] = [];
  let receiptDeadline = Number.POSITIVE_INFINITY;
  const rolloutPolls = newPollRun();
  const lastPass = () => {
    const c = rolloutPolls.cycles.at(-1);
    return c ? `, last pass ${s1(c.ms)} over ${c.agents}` : "";
  };
  const agents = pollAgents(
    fleet,
    raw,
    () => performance.now() > receiptDeadline || performance.now() - t0 > ROLLOUT_DEADLINE_MS + RECEIPT_GRACE_MS,
    (m) => {
      m.receivedAt = performance.now() - t0;
      receipts.push(m.receivedAt);
      received++;
    },
    rolloutPolls,
  );
  const main1 = await followRollout(arm, svc.stats, ASSIGNMENT, putProps?.rollout?.generation, t0, rolloutBefore, () => `, agents received ${received}${lastPass()}`);
  const mDone = meterWith(main1.atDone);
  const during = await probe.stop();
  const othersRollout = others(mRollout, mDone, during.cpuMs);
  const opsAtDone = await storeCallsByOp(arm);
  receiptDeadline = performance.now() + RECEIPT_GRACE_MS;
  await agents;
  const agentsDoneMs = performance.now() - t0;
  const allStats = await svc.stats();
  const benchCpu = process.cpuUsage(benchCpuBefore);

  // the compliance summary (computed every ~10 s) once it has seen the finished rollout
  let summary: Record<string, unknown> | undefined;
  let summaryMs: number | undefined;
  const summaryDeadline = performance.now() + 30_000;
  const completedAtWall = main1.rollout.completedAt ? Date.parse(main1.rollout.completedAt) : Date.now();
  while (performance.now() < summaryDeadline) {
    const res = await arm(withApi(assignmentPath(ASSIGNMENT)));
    const s = (res.json as { properties?: { complianceSummary?: Record<string, unknown> } } | undefined)?.properties?.complianceSummary;
    if (s) summary = s;
    if (s && Date.parse(String(s.evaluatedAt)) >= completedAtWall) {
      summaryMs = performance.now() - t0;
      break;
    }
    await sleep(1000);
  }

  // 200 random configurations: there, and managed by the assignment
  const sample = [...fleet].sort(() => Math.random() - 0.5).slice(0, Math.min(VERIFY_SAMPLES, CLUSTERS));
  let verified = 0;
  const verifyFailures: string[] = [];
  /** receipt (wall clock) minus the configuration's systemData.createdAt: how long it waited for a poll */
  const lags: number[] = [];
  await pool(sample, 8, async (m) => {
    const res = await arm(`${configurationPath(m.name, CONFIG_NAME, SUB, m.rg)}?${V}`);
    const body = res.json as { managedBy?: string; systemData?: { createdAt?: string } } | undefined;
    const managedBy = body?.managedBy;
    if (res.status === 200 && typeof managedBy === "string" && managedBy.toLowerCase().endsWith(`/configurationassignments/${ASSIGNMENT}`)) verified++;
    if (body?.systemData?.createdAt && m.receivedAt !== undefined) lags.push(wall0 + m.receivedAt - Date.parse(body.systemData.createdAt));
    else if (verifyFailures.length < 3) verifyFailures.push(`${m.name}: ${res.status} managedBy=${String(managedBy)}`);
  });

  const cal = await svc.stats();
  for (let i = 0; i < 20; i++) await arm(withApi(assignmentPath(ASSIGNMENT)));
  const storeCallsPerAssignmentGet = ((await svc.stats()).storeCalls - cal.storeCalls) / 20;

  // --- the same rollout alone: a fresh service, the same clusters, no agents polling, no probe ------
  probe.child.send({ type: "exit" });
  svc.child.kill("SIGTERM");
  await new Promise<void>((resolve) => (svc.child.exitCode !== null || svc.child.signalCode !== null ? resolve() : svc.child.once("exit", () => resolve())));
  console.log(`\nthe same rollout alone: a fresh service, the same ${CLUSTERS} clusters, no agents polling, no probe`);
  const svc2 = await serve();
  children.push(svc2.child);
  const arm2 = client(svc2.url, svc2.ca, svc2.token);
  const setup2Ms = await registerFleet(arm2, fleet);
  console.log(`setup: ${s1(setup2Ms)}; quiesce: ${await quiesce(svc2.stats)}`);
  const ops2Before = await storeCallsByOp(arm2);
  const aloneBefore = await svc2.stats();
  const ta = performance.now();
  const put2 = await arm2(withApi(assignmentPath(ASSIGNMENT)), { method: "PUT", body: assignmentBody({ clusterSelector: { tags: { ring: "prod" } } }) });
  if (put2.status !== 200 && put2.status !== 201) throw new Error(`assignment PUT (alone): ${put2.status} ${put2.text}`);
  const mAlone = meterWith(aloneBefore);
  const alone = await followRollout(arm2, svc2.stats, ASSIGNMENT, (put2.json as { properties?: { rollout?: RolloutView } }).properties?.rollout?.generation, ta, aloneBefore);
  const othersAlone = others(mAlone, meterWith(alone.atDone));
  const ops2AtDone = await storeCallsByOp(arm2);
  const aloneCpu = alone.atDone.cpuMicros - aloneBefore.cpuMicros;
  const aloneStoreCalls = alone.atDone.storeCalls - aloneBefore.storeCalls - storeCallsPerAssignmentGet * alone.gets;

  // --- report --------------------------------------------------------------------------------------
  const doneMs = main1.doneMs ?? NaN;
  const rs = main1.atDone;
  const rolloutCpu = rs.cpuMicros - rolloutBefore.cpuMicros;
  const storeCalls = rs.storeCalls - rolloutBefore.storeCalls;
  const server = main1.rollout;
  const serverMs = server.startedAt && server.completedAt ? Date.parse(server.completedAt) - Date.parse(server.startedAt) : NaN;
  const startLag = server.startedAt ? Date.parse(server.startedAt) - wall0 : NaN;
  const cycles = rolloutPolls.cycles;
  const firstCycle = cycles[0];
  const missing = CLUSTERS - received;
  const rateRange = (rates: number[]) => (rates.length ? `min ${Math.min(...rates).toFixed(0)}, median ${quantile(rates, 0.5).toFixed(0)}, max ${Math.max(...rates).toFixed(0)} clusters/s` : "-");
  const benchTotal = process.cpuUsage(benchCpu0);

  console.log(
    `\nrollout: ${CLUSTERS} clusters (1 subscription, ${RGS.length} resource groups), ${CONNECTIONS} agent pollers, ${PROBE_CONNECTIONS}-connection cluster GET probe, HTTPS on 127.0.0.1, ${os.cpus().length} cores, node ${process.version}, SQLite store, local sealing, service in its own process`,
  );
  const row = (label: string, value: string) => console.log(`${label.padEnd(31)} ${value}`);
  row("setup", `${s1(setupMs)} for ${CLUSTERS} cluster PUTs (${(CLUSTERS / (setupMs / 1000)).toFixed(0)}/s), keys ${s1(keysMs)}, tokens ${s1(signMs)}, first polls ${s1(firstGetMs)}`);
  row("assignment PUT", `${put.status} in ${ms2(putMs)}; rollout startedAt ${Number.isFinite(startLag) ? `${startLag} ms` : "?"} after t0 (server clock)`);
  row("rollout completed", `${s1(doneMs)} after t0 (seen by the 500 ms GET) = ${((CLUSTERS / doneMs) * 1000).toFixed(0)} clusters/s; ${String(server.clustersProcessed)}/${String(server.clustersTotal)} processed, generation ${String(server.generation)}`);
  row("  startedAt -> completedAt", `${s1(serverMs)} (server)`);
  row("  reconciler rate, 5 s lines", rateRange(main1.rates));
  row("  compliance summaries", `${main1.summaries} evaluated while the rollout ran (each walks every matching cluster)`);
  row("  provisioningState seen", [...main1.states].map(([s, at]) => `${s} at ${s1(at)}`).join(", "));
  row("  compliance summary", summary ? `${JSON.stringify(summary)}${summaryMs !== undefined ? ` (first evaluated after completion: ${s1(summaryMs)} after t0)` : " (none evaluated after completion within 30 s)"}` : "none within 30 s");
  row("  verified configurations", `${verified}/${sample.length} GET 200 with managedBy = the assignment${verifyFailures.length ? `; e.g. ${verifyFailures.join("; ")}` : ""}`);
  row("agents received", `${received}/${CLUSTERS}${missing ? ` (${missing} NOT within ${s1(RECEIPT_GRACE_MS)} after completion)` : ""}; every agent by ${s1(Math.max(...receipts))} after t0 (${s1(agentsDoneMs - doneMs)} after the rollout was seen completed)`);
  row("  receipt after t0", `p50 ${s1(quantile(receipts, 0.5))}, p90 ${s1(quantile(receipts, 0.9))}, p99 ${s1(quantile(receipts, 0.99))}, max ${s1(Math.max(...receipts))}`);
  row("  agent polls", `${rolloutPolls.polls} in ${s1(agentsDoneMs)} = ${((rolloutPolls.polls / agentsDoneMs) * 1000).toFixed(0)}/s; ${JSON.stringify(rolloutPolls.statuses)}, errors ${rolloutPolls.errors}`);
  row(
    "  round-robin pass",
    `first ${firstCycle ? `${s1(firstCycle.ms)} over ${firstCycle.agents} agents` : "-"}; ${cycles.length} passes over >= ${CONNECTIONS} waiting agents, median ${s1(quantile(cycles.map((c) => c.ms), 0.5))}, max ${s1(Math.max(0, ...cycles.map((c) => c.ms)))} (agents that received drop out; before the rollout one pass over all ${CLUSTERS} took ${s1(idleCycleMs)})`,
  );
  row("  receipt after creation", `${lags.length} sampled agents: receipt minus the configuration's systemData.createdAt p50 ${s1(quantile(lags, 0.5))}, p90 ${s1(quantile(lags, 0.9))}, max ${s1(Math.max(...lags))} (the polling cadence's share)`);
  row("cluster GET baseline", `${baseline.rps.toFixed(0)} req/s, p50 ${ms2(baseline.p50)}, p99 ${ms2(baseline.p99)}, max ${ms2(baseline.max)} (alone, ${baseline.seconds.toFixed(1)} s; service CPU ${pct(baselineCpu)})`);
  row("  with agents polling", `${withPolling.rps.toFixed(0)} req/s, p50 ${ms2(withPolling.p50)}, p99 ${ms2(withPolling.p99)}, max ${ms2(withPolling.max)} (${withPolling.seconds.toFixed(1)} s, no rollout, agents ${idlePollRate.toFixed(0)} polls/s)`);
  row("cluster GET during rollout", `${during.rps.toFixed(0)} req/s, p50 ${ms2(during.p50)}, p99 ${ms2(during.p99)}, max ${ms2(during.max)} (${during.seconds.toFixed(1)} s, ${during.n} GETs, non-200 ${during.non200}, errors ${during.errors})`);
  row("  p99 during / baseline", `${(during.p99 / baseline.p99).toFixed(2)}x the baseline alone; ${(during.p99 / withPolling.p99).toFixed(2)}x the baseline with agents polling; req/s ${pct(during.rps / baseline.rps)} of alone`);
  row("  p99 by 5 s window", `${during.windows.map((w) => w.p99.toFixed(0)).join(" ")} ms`);
  row("service CPU", `${(rolloutCpu / 1e6).toFixed(1)} s from t0 to completion = ${pct(rolloutCpu / (doneMs * 1000))} of one core (rollout + probe + agent polls); ${((allStats.cpuMicros - rolloutBefore.cpuMicros) / 1e6).toFixed(1)} s until every agent received`);
  row("service RSS", `${mib(rolloutBefore.rss)} before, ${mib(rs.rss)} at completion, peak sampled ${mib(main1.peakRss)}`);
  row("store calls", `${storeCalls} from t0 to completion = ${(storeCalls / CLUSTERS).toFixed(1)} per cluster (all traffic: rollout, probe GETs ${storeCallsPerGet.toFixed(1)} each, agent polls)`);
  row("  by operation", opDiff(opsBefore, opsAtDone));
  row(
    "other processes (machine)",
    `CPU not used by the service, this bench or its probe: ${pct(othersBaseline)} of a core during the baseline alone, ${pct(othersPolling)} with agents polling, ${pct(othersRollout)} during the rollout, ${pct(othersAlone)} during the rollout alone (a shared machine skews the ratios)`,
  );
  row("bench process CPU", `${((benchCpu.user + benchCpu.system) / 1e6).toFixed(1)} s from t0 until every agent received (it shares the ${os.cpus().length} cores); whole run ${((benchTotal.user + benchTotal.system) / 1e6).toFixed(1)} s`);
  row("rollout alone (fresh service)", `${s1(alone.doneMs ?? NaN)} = ${((CLUSTERS / (alone.doneMs ?? NaN)) * 1000).toFixed(0)} clusters/s (${rateRange(alone.rates)}); ${String(alone.rollout.clustersProcessed)}/${String(alone.rollout.clustersTotal)} processed; ${alone.summaries} compliance summaries evaluated meanwhile`);
  row("  service CPU", `${(aloneCpu / 1e6).toFixed(1)} s = ${pct(aloneCpu / ((alone.doneMs ?? NaN) * 1000))} of one core, ${(aloneCpu / CLUSTERS / 1000).toFixed(2)} ms per cluster; RSS peak sampled ${mib(alone.peakRss)}`);
  row("  store calls", `${aloneStoreCalls.toFixed(0)} = ${(aloneStoreCalls / CLUSTERS).toFixed(2)} per cluster (the ${alone.gets} progress GETs, ${storeCallsPerAssignmentGet.toFixed(1)} each, subtracted); by operation: ${opDiff(ops2Before, ops2AtDone)}`);
  row("  with load / alone", `the rollout took ${(doneMs / (alone.doneMs ?? NaN)).toFixed(2)}x as long with the probe and the agents polling`);

  // --- a staged rollout alone on the same service, beside today's -----------------------------------
  await stagedBeside(arm2, svc2, { ms: alone.doneMs ?? NaN, cpuMicros: aloneCpu, storeCalls: aloneStoreCalls, rollout: alone.rollout }, storeCallsPerAssignmentGet);
}

if (process.argv.includes("--probe")) await probeProcess();
else {
  const children: ChildProcess[] = [];
  const killAll = () => {
    for (const c of children) if (c.exitCode === null && c.signalCode === null) c.kill("SIGTERM");
  };
  process.on("SIGINT", () => {
    killAll();
    process.exit(130);
  });
  try {
    await (MODE === "alone" ? mainAlone(children) : main(children));
  } catch (err) {
    console.error(err);
    process.exitCode = 1;
  } finally {
    killAll();
  }
}
