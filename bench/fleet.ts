/**
 * npm run bench:fleet — the agent pull API under a fleet's steady polling, measured in one run:
 * 1. the service (bench/serve.ts, own process, local sealing, agent staleness 5 s) and a bare fastify
 *    HTTPS route answering 304 (bench/bare-server.ts /bare304) as the baseline;
 * 2. setup over HTTPS: FLEET_CLUSTERS clusters across 4 subscriptions x 4 resource groups, each with its
 *    own P-256 agent key and one configuration (known_hosts on 10 %, so those carry a JWE); one token
 *    per agent (10 minutes) and one GET per agent for its ETag;
 * 3. autocannon polls round-robin over all agents with If-None-Match, while a changer PUTs a change to
 *    1 % of the clusters spread over the run, and 20 long-poll samples time PUT -> agent receipt;
 * 4. service CPU, RSS and store calls around the load; then a pure poll run (no changer, no samples) for
 *    the store calls per 304 poll and the p99 at BENCH_CONNECTIONS;
 * 5. the same load against the bare route, and the ratio.
 * Memory (RSS of the service process): base (right after start, before any cluster), after setup, at
 * the end of the polling load, each also after a forced GC (the service runs with --expose-gc; only the
 * bench's "gc" request calls it), and the slope in KB per registered cluster.
 * FLEET_SLOPE=1 measures the slope between two fleet sizes under polling load: after the above, a pure
 * poll run over the FLEET_CLUSTERS agents (RSS 1), then FLEET_SLOPE_MORE more clusters registered the
 * same way (default 4 x FLEET_CLUSTERS: 10,000 -> 50,000), a pure poll run over all of them (RSS 2), and
 * (RSS 2 - RSS 1) / FLEET_SLOPE_MORE. Tokens are signed again before each load (they live 10 minutes).
 * Setup goes through the ARM API over HTTPS (2 PUTs per cluster, SETUP_CONCURRENCY in flight) and is
 * timed; its rate decides what a large fleet costs: the bench prints the projection for 50,000.
 * The service runs with the shipped log level (info) unless LOG_LEVEL is set; its logs go to a file.
 * FLEET_SEED=direct (the default above 2,000 clusters in all; FLEET_SEED=https forces the API) writes
 * every cluster and configuration through the real domain services straight into the data directory
 * before the service starts on it (bench/seed.ts), and registers nothing over HTTPS; with FLEET_SLOPE=1
 * all FLEET_CLUSTERS + FLEET_SLOPE_MORE are stored from the start, the first poll run covers the first
 * FLEET_CLUSTERS agents, the second all of them (the slope is then per cluster polled, every one of
 * them registered throughout). FLEET_SEED_CACHE=<dir> keeps the seeded directory there and reuses it
 * (copied, never written) when it holds at least as many clusters.
 * FLEET_HEAP_SNAPSHOT=<dir>: a heap snapshot of the service after each measured poll run (gc first);
 * `npx tsx bench/heap-aggregate.ts <file>` sums one by constructor.
 * Options: FLEET_CLUSTERS (default 10000), BENCH_SECONDS (default 20), BENCH_CONNECTIONS (default 64),
 * SETUP_CONCURRENCY (default 64), FLEET_SLOPE=1, FLEET_SLOPE_MORE (default 4 x FLEET_CLUSTERS),
 * FLEET_SEED, FLEET_SEED_CACHE, FLEET_HEAP_SNAPSHOT.
 */
import { spawn, type ChildProcess } from "node:child_process";
import fs from "node:fs";
import https from "node:https";
import net from "node:net";
import os from "node:os";
import path from "node:path";
import autocannon from "autocannon";
import { loadOrCreateTls } from "../src/server/tls.js";
import { tempDir } from "../test/helpers/server.js";
import { client } from "../test/helpers/http.js";
import { testAgent, type TestAgent } from "../test/helpers/agent-token.js";
import { clusterBody, clusterPath, configurationBody, configurationPath, knownHostsB64 } from "../test/helpers/fixtures.js";
import { header, lines, pool, quantile, serve, sleep, type Stats } from "./harness.js";
import { copySeeded, placement, readSeeded, seededCount, seedFleet } from "./seed.js";

const CLUSTERS = Number(process.env.FLEET_CLUSTERS ?? 10_000);
const SECONDS = Number(process.env.BENCH_SECONDS ?? 20);
const CONNECTIONS = Number(process.env.BENCH_CONNECTIONS ?? 64);
const SETUP_CONCURRENCY = Number(process.env.SETUP_CONCURRENCY ?? 64);
const SLOPE = process.env.FLEET_SLOPE === "1";
const SLOPE_MORE = Number(process.env.FLEET_SLOPE_MORE ?? 4 * CLUSTERS);
const TOTAL = CLUSTERS + (SLOPE ? SLOPE_MORE : 0);
const SEED = process.env.FLEET_SEED ?? (TOTAL > 2000 ? "direct" : "https");
const SNAP_DIR = process.env.FLEET_HEAP_SNAPSHOT;
const PURE_SECONDS = Math.min(5, SECONDS);
const SAMPLES = 20;
const CV = "api-version=2024-01-01";
const V = "api-version=2024-11-01";
const PARAMS = ["--git-readonly", "--git-readonly --git-branch=main"] as const;
const root = path.resolve(import.meta.dirname, "..");


interface Member {
  name: string;
  sub: string;
  rg: string;
  id: string;
  agent: TestAgent;
  knownHosts?: string;
  /** index into PARAMS of the configuration's current operatorParams */
  params: number;
  auth: string;
  path: string;
  etag: string;
}

async function freePort(): Promise<number> {
  return new Promise((resolve, reject) => {
    const s = net.createServer();
    s.listen(0, "127.0.0.1", () => {
      const port = (s.address() as net.AddressInfo).port;
      s.close(() => resolve(port));
    });
    s.on("error", reject);
  });
}

async function bare(body: string): Promise<{ url: string; ca: string; child: ChildProcess }> {
  const dir = tempDir("bench-fleet-bare-");
  const tls = await loadOrCreateTls(dir, {});
  const bodyFile = path.join(dir, "body.json");
  fs.writeFileSync(bodyFile, body);
  const port = await freePort();
  const child = spawn(process.execPath, ["--import", "tsx", path.join(root, "bench/bare-server.ts"), tls.certFile, path.join(dir, "tls", "key.pem"), String(port), bodyFile], {
    cwd: root,
    stdio: ["ignore", "pipe", "inherit"],
  });
  await new Promise<void>((resolve, reject) => {
    lines(child, (line) => line.includes("ready") && resolve());
    child.on("exit", (code) => reject(new Error(`bare server exited (${code})`)));
  });
  return { url: `https://127.0.0.1:${port}`, ca: tls.cert, child };
}

const MiB = (b: number) => `${(b / 2 ** 20).toFixed(0)} MiB`;
const KB = (b: number) => `${(b / 1024).toFixed(2)} KB`;
const mem = (s: Stats) => `RSS ${MiB(s.rss)} (heap used ${MiB(s.heapUsed)}, external ${MiB(s.external)})`;

/** FLEET_SEED=direct: a data directory holding TOTAL clusters, seeded (or copied from FLEET_SEED_CACHE) */
async function seeded(): Promise<{ dataDir: string; stored: number }> {
  const dataDir = tempDir("bench-fleet-seeded-");
  const cache = process.env.FLEET_SEED_CACHE;
  const source = cache ?? dataDir;
  const have = seededCount(source);
  if (have < TOTAL) {
    const t0 = performance.now();
    const step = Math.max(1, Math.floor((TOTAL - have) / 10));
    const rate = await seedFleet(source, have, TOTAL - have, { progress: (done, s) => done % step === 0 && console.log(`  seed ${have + done}/${TOTAL} clusters+configurations, ${s.toFixed(1)} s`) });
    console.log(`seed: ${TOTAL - have} clusters + configurations written through the domain services into ${source} in ${((performance.now() - t0) / 1000).toFixed(1)} s (${rate.toFixed(0)} clusters/s)`);
  }
  if (cache) {
    const t0 = performance.now();
    copySeeded(cache, dataDir);
    console.log(`seed: copied ${cache} (${seededCount(cache)} clusters) in ${((performance.now() - t0) / 1000).toFixed(1)} s`);
  }
  return { dataDir, stored: seededCount(dataDir) };
}

async function main(): Promise<void> {
  const direct = SEED === "direct";
  const seed = direct ? await seeded() : undefined;
  const svc = await serve({ dataDir: seed?.dataDir });
  // a kept-alive socket the service closed while idle (its keep-alive timeout is 10 s; the bench idles
  // between phases) hangs up on reuse; the bench's PUTs and GETs are idempotent, so it is sent again
  const retrying =
    (send: ReturnType<typeof client>): ReturnType<typeof client> =>
    async (path, options) => {
      for (let attempt = 1; ; attempt++) {
        try {
          return await send(path, options);
        } catch (err) {
          if (attempt >= 3 || (err as NodeJS.ErrnoException).code !== "ECONNRESET") throw err;
        }
      }
    };
  const arm = retrying(client(svc.url, svc.ca, svc.token));
  const raw = retrying(client(svc.url, svc.ca));
  await sleep(1000);
  const baseRaw = await svc.stats();
  const base = await svc.stats({ gc: true });
  const snap = async (label: string) => {
    if (!SNAP_DIR) return;
    fs.mkdirSync(SNAP_DIR, { recursive: true });
    const t0 = performance.now();
    const file = await svc.snapshot(path.join(SNAP_DIR, `fleet-${label}.heapsnapshot`));
    console.log(`heap snapshot ${file} (${((performance.now() - t0) / 1000).toFixed(1)} s)`);
  };
  await snap("base");

  // --- setup ---------------------------------------------------------------------------------------
  const member = (i: number): Member => {
    const { name, sub, rg, id } = placement(i);
    return { name, sub, rg, id, agent: testAgent("ec"), knownHosts: i % 10 === 0 ? knownHostsB64() : undefined, params: 0, auth: "", path: `/agent/v1${id}/configurations`, etag: "" };
  };
  // the directly seeded agents, keys read back (their configurations carry operatorParams PARAMS[0])
  const seededMembers: Member[] = direct
    ? readSeeded(seed?.dataDir ?? "", TOTAL).map((a) => ({ name: a.name, sub: a.sub, rg: a.rg, id: a.id, agent: a.agent, knownHosts: a.knownHosts ? knownHostsB64() : undefined, params: 0, auth: "", path: `/agent/v1${a.id}/configurations`, etag: "" }))
    : [];
  if (direct) console.log(`seed: ${seed?.stored} clusters stored before the service started (FLEET_SEED=direct); ${TOTAL} of them polled in this run`);
  const configBody = (m: Member) => configurationBody({ operatorParams: PARAMS[m.params], ...(m.knownHosts ? { sshKnownHostsContents: m.knownHosts } : {}) });
  const putConfiguration = async (m: Member) => {
    const res = await arm(`${configurationPath(m.name, "cfg", m.sub, m.rg)}?${V}`, { method: "PUT", body: configBody(m) });
    if (res.status !== 200 && res.status !== 201) throw new Error(`configuration PUT ${m.name}: ${res.status} ${res.text}`);
  };
  const signTokens = async (members: Member[]) => {
    const t0 = performance.now();
    await Promise.all(members.map(async (m) => (m.auth = `Bearer ${await m.agent.token(m.id, { lifetimeSeconds: 600 })}`)));
    return performance.now() - t0;
  };
  let sampleBody = "";
  /** signs their tokens, one GET each for the ETag */
  const prepare = async (members: Member[]) => {
    const signMs = await signTokens(members);
    const t0 = performance.now();
    await pool(members, SETUP_CONCURRENCY, async (m) => {
      const res = await raw(m.path, { headers: { authorization: m.auth } });
      if (res.status !== 200) throw new Error(`agent GET ${m.name}: ${res.status} ${res.text}`);
      m.etag = String(res.headers.etag);
      if (!sampleBody || (m.knownHosts && sampleBody.length < res.text.length)) sampleBody = res.text;
    });
    return { signMs, firstGetMs: performance.now() - t0 };
  };
  /** registers members (cluster + configuration each, over HTTPS; or takes them from the direct seed), then prepare() */
  const register = async (from: number, count: number) => {
    if (direct) {
      const members = seededMembers.slice(from, from + count);
      const { signMs, firstGetMs } = await prepare(members);
      console.log(`setup: ${count} directly seeded agents; tokens ${(signMs / 1000).toFixed(1)} s; first GET per agent ${(firstGetMs / 1000).toFixed(1)} s`);
      return members;
    }
    let t0 = performance.now();
    const members = Array.from({ length: count }, (_, k) => member(from + k));
    const keysMs = performance.now() - t0;
    t0 = performance.now();
    const step = Math.max(1, Math.floor(count / 10));
    await pool(
      members,
      SETUP_CONCURRENCY,
      async (m) => {
        const res = await arm(`${clusterPath(m.name, m.sub, m.rg)}?${CV}`, { method: "PUT", body: clusterBody(m.agent.publicKeyB64) });
        if (res.status !== 200 && res.status !== 201) throw new Error(`cluster PUT ${m.name}: ${res.status} ${res.text}`);
        await putConfiguration(m);
      },
      (done) => {
        if (done % step === 0 || done === count) console.log(`  setup ${done}/${count} clusters+configurations, ${((performance.now() - t0) / 1000).toFixed(1)} s`);
      },
    );
    const setupMs = performance.now() - t0;
    const { signMs, firstGetMs } = await prepare(members);
    const perSecond = count / (setupMs / 1000);
    console.log(
      `setup: ${count} agent keys ${(keysMs / 1000).toFixed(1)} s; ${count} clusters + ${count} configurations (${members.filter((m) => m.knownHosts).length} with known_hosts) over HTTPS, ${SETUP_CONCURRENCY} in flight: ${(setupMs / 1000).toFixed(1)} s (${perSecond.toFixed(0)} clusters/s = ${(2 * perSecond).toFixed(0)} PUT/s; 50,000 clusters would take ~${(50_000 / perSecond / 60).toFixed(1)} min); tokens ${(signMs / 1000).toFixed(1)} s; first GET per agent ${(firstGetMs / 1000).toFixed(1)} s`,
    );
    return members;
  };
  const fleet: Member[] = await register(0, CLUSTERS);
  const setupRaw = await svc.stats();
  const setupGc = await svc.stats({ gc: true });

  // store calls of one configuration PUT, measured on a spare cluster outside the polled fleet
  const spare: Member = { ...(fleet[0] as Member), name: "calibration", id: clusterPath("calibration", (fleet[0] as Member).sub, (fleet[0] as Member).rg), agent: testAgent("ec"), knownHosts: undefined };
  await arm(`${clusterPath(spare.name, spare.sub, spare.rg)}?${CV}`, { method: "PUT", body: clusterBody(spare.agent.publicKeyB64) });
  await putConfiguration(spare);
  const calBefore = await svc.stats();
  for (let i = 0; i < 10; i++) {
    spare.params ^= 1;
    await putConfiguration(spare);
  }
  const storeCallsPerPut = ((await svc.stats()).storeCalls - calBefore.storeCalls) / 10;

  // round-robin over the members given, with If-None-Match; a 200 updates the member's ETag
  const pollRequest = (members: Member[]) => {
    let rr = 0;
    return {
      setupRequest: (req: autocannon.Request, context: object) => {
        const i = rr++ % members.length;
        (context as { i: number }).i = i;
        const m = members[i] as Member;
        req.path = m.path;
        req.headers = { authorization: m.auth, "if-none-match": m.etag };
        return req;
      },
      onResponse: (status: number, _body: string, context: object, headers: autocannon.Request["headers"]) => {
        if (status !== 200) return;
        const etag = header(headers ?? {}, "etag");
        if (etag) (members[(context as { i: number }).i] as Member).etag = etag;
      },
    };
  };
  type Poll = ReturnType<typeof pollRequest>;
  const run = (url: string, ca: string, request: Poll, seconds: number) => autocannon({ url, connections: CONNECTIONS, duration: seconds, tlsOptions: { ca }, requests: [request] });
  /** polls only (no changes): polls/s, p50/p99, 304 share, store calls per poll, RSS at the end */
  const purePoll = async (members: Member[], seconds: number) => {
    const before = await svc.stats();
    const result = await run(svc.url, svc.ca, pollRequest(members), seconds);
    const after = await svc.stats();
    const codes = result.statusCodeStats as unknown as Record<string, { count: number }>;
    const polls = result.requests.total;
    return { result, polls, notModified: codes["304"]?.count ?? 0, storePerPoll: (after.storeCalls - before.storeCalls) / Math.max(1, polls), after, seconds };
  };
  const describePure = (label: string, p: Awaited<ReturnType<typeof purePoll>>) =>
    `${label.padEnd(22)} ${(p.polls / p.seconds).toFixed(0)} polls/s, p50 ${p.result.latency.p50} ms, p99 ${p.result.latency.p99} ms at ${CONNECTIONS} connections; ${p.notModified} of ${p.polls} answered 304; store calls per poll ${p.storePerPoll.toFixed(4)}; errors ${p.result.errors}, timeouts ${p.result.timeouts}`;

  // warm-up: JIT, TLS, the agent token cache
  await run(svc.url, svc.ca, pollRequest(fleet), 2);

  // --- steady load with the changer and the receipt samples ----------------------------------------
  const changed = Math.max(1, Math.round(CLUSTERS / 100));
  const shuffled = [...fleet].sort(() => Math.random() - 0.5);
  const changeSet = shuffled.slice(0, changed);
  const sampleSet = shuffled.slice(changed, changed + SAMPLES);
  let puts = 0;
  let putErrors = 0;
  const changer = (async () => {
    const gap = (SECONDS * 1000 * 0.9) / changed;
    for (const m of changeSet) {
      await sleep(gap);
      m.params ^= 1;
      try {
        await putConfiguration(m);
        puts++;
      } catch {
        putErrors++;
      }
    }
  })();
  const receipt: number[] = []; // PUT response -> long-poll 200
  const receiptFromSend: number[] = []; // PUT sent -> long-poll 200
  let sampleFailures = 0;
  const sampler = (async () => {
    const gap = (SECONDS * 1000 * 0.85) / SAMPLES;
    for (const m of sampleSet) {
      await sleep(gap - 100);
      const agent = new https.Agent({ ca: svc.ca, keepAlive: false });
      const longPoll = new Promise<{ status: number; at: number; etag?: string }>((resolve, reject) => {
        const req = https.request(new URL(`${m.path}?waitSeconds=30`, svc.url), { agent, headers: { authorization: m.auth, "if-none-match": m.etag } }, (res) => {
          res.resume();
          res.on("end", () => resolve({ status: res.statusCode ?? 0, at: performance.now(), etag: res.headers.etag }));
        });
        req.on("error", reject);
        req.end();
      });
      await sleep(100);
      m.params ^= 1;
      const sent = performance.now();
      await putConfiguration(m);
      const putDone = performance.now();
      puts++;
      const got = await longPoll;
      agent.destroy();
      if (got.status !== 200) {
        sampleFailures++;
        continue;
      }
      if (got.etag) m.etag = got.etag;
      receipt.push(got.at - putDone);
      receiptFromSend.push(got.at - sent);
    }
  })();
  const before = await svc.stats();
  const loadStart = performance.now();
  const result = await run(svc.url, svc.ca, pollRequest(fleet), SECONDS);
  const wallMicros = (performance.now() - loadStart) * 1000;
  const after = await svc.stats();
  await Promise.all([changer, sampler]);

  // polls alone: store calls per 304 without the PUTs, p99 at the configured connections
  const pure = await purePoll(fleet, PURE_SECONDS);
  const loadRaw = pure.after;
  const loadGc = await svc.stats({ gc: true });
  if (!SLOPE) await snap(`${CLUSTERS}-polled`);

  // --- FLEET_SLOPE: RSS at two sizes, each under polling load --------------------------------------
  let slope: { n1: number; n2: number; p1: Awaited<ReturnType<typeof purePoll>>; p2: Awaited<ReturnType<typeof purePoll>>; gc1: Stats; gc2: Stats } | undefined;
  if (SLOPE) {
    await signTokens(fleet);
    const p1 = await purePoll(fleet, SECONDS);
    const gc1 = await svc.stats({ gc: true });
    await snap(`${CLUSTERS}-polled`);
    console.log(`slope: ${CLUSTERS} clusters polled, ${mem(p1.after)}; registering ${SLOPE_MORE} more`);
    const more = await register(CLUSTERS, SLOPE_MORE);
    fleet.push(...more);
    await signTokens(fleet);
    await run(svc.url, svc.ca, pollRequest(fleet), 2);
    const p2 = await purePoll(fleet, SECONDS);
    const gc2 = await svc.stats({ gc: true });
    await snap(`${fleet.length}-polled`);
    slope = { n1: CLUSTERS, n2: fleet.length, p1, p2, gc1, gc2 };
  }

  // --- the bare baseline ---------------------------------------------------------------------------
  const bareServer = await bare(sampleBody);
  let brr = 0;
  const bareRequest = {
    setupRequest: (req: autocannon.Request, context: object) => {
      const i = brr++ % fleet.length;
      (context as { i: number }).i = i;
      req.path = "/bare304";
      req.headers = { authorization: (fleet[i] as Member).auth, "if-none-match": '"bare-etag-1"' };
      return req;
    },
    onResponse: () => {},
  };
  await run(bareServer.url, bareServer.ca, bareRequest, 2);
  const bareResult = await run(bareServer.url, bareServer.ca, bareRequest, SECONDS);

  // --- report --------------------------------------------------------------------------------------
  const polls = result.requests.total;
  const pollsPerSecond = polls / SECONDS;
  const codes = result.statusCodeStats as unknown as Record<string, { count: number }>;
  const mix = Object.entries(codes)
    .map(([code, { count }]) => `${code}: ${count} (${((count / polls) * 100).toFixed(2)} %)`)
    .join(", ");
  const cpu = after.cpuMicros - before.cpuMicros;
  const storeCalls = after.storeCalls - before.storeCalls;
  const barePerSecond = bareResult.requests.total / SECONDS;
  const ms = (x: number) => `${x.toFixed(1)} ms`;
  const level = process.env.LOG_LEVEL ? `LOG_LEVEL=${process.env.LOG_LEVEL} (set by you)` : "log level info (shipped default)";
  console.log(`\nfleet: ${CLUSTERS} agents, ${SECONDS} s x ${CONNECTIONS} connections, HTTPS on 127.0.0.1, ${os.cpus().length} cores, node ${process.version}, SQLite store, local sealing, staleness 5 s, ${level}, service in its own process`);
  console.log(`polls/s sustained      ${pollsPerSecond.toFixed(0)}  (${polls} polls; errors ${result.errors}, timeouts ${result.timeouts})`);
  console.log(`status mix             ${mix}`);
  console.log(`latency                p50 ${result.latency.p50} ms, p99 ${result.latency.p99} ms at ${CONNECTIONS} connections (with the changer's PUTs and the long polls)`);
  console.log(`service CPU            ${((cpu / wallMicros) * 100).toFixed(0)} % of one core, ${(cpu / Math.max(1, polls)).toFixed(0)} µs per poll (PUTs' CPU included)`);
  console.log(`store calls            ${storeCalls} during the load = ${(storeCalls / Math.max(1, polls)).toFixed(4)} per poll, including ${puts} configuration PUTs (${putErrors} failed)`);
  console.log(`                       excluding the PUTs (${storeCallsPerPut} store calls per PUT, measured on a spare cluster): ${(Math.max(0, storeCalls - storeCallsPerPut * puts) / Math.max(1, polls)).toFixed(4)} per poll`);
  console.log(describePure(`polls alone (${PURE_SECONDS} s)`, pure));
  console.log(`PUT -> agent receipt   ${receipt.length} long-poll samples: p50 ${ms(quantile(receipt, 0.5))}, p99 ${ms(quantile(receipt, 0.99))}, max ${ms(Math.max(...receipt))} from the PUT response (negative: the wake-up arrived first); from the PUT sent: p50 ${ms(quantile(receiptFromSend, 0.5))}, max ${ms(Math.max(...receiptFromSend))}; ${sampleFailures} not 200`);
  console.log(`bare /bare304          ${barePerSecond.toFixed(0)} polls/s, p50 ${bareResult.latency.p50} ms, p99 ${bareResult.latency.p99} ms (non-2xx ${bareResult.non2xx} = the 304s)`);
  console.log(`service / bare         ${((pollsPerSecond / barePerSecond) * 100).toFixed(1)} % of the bare route's polls/s (polls alone: ${((pure.polls / pure.seconds / barePerSecond) * 100).toFixed(1)} %)`);
  console.log(`memory (service RSS; "gc": after a forced collection)`);
  console.log(`  base, ${direct ? `at start (${seed?.stored} stored)` : "before clusters "} ${mem(baseRaw)}; gc ${mem(base)}`);
  console.log(`  after setup            ${mem(setupRaw)}; gc ${mem(setupGc)}`);
  console.log(`  end of polling load    ${mem(loadRaw)}; gc ${mem(loadGc)}`);
  console.log(
    `  per registered cluster ${KB((setupGc.rss - base.rss) / CLUSTERS)} after setup (gc), ${KB((loadRaw.rss - baseRaw.rss) / CLUSTERS)} under polling load, ${KB((loadGc.rss - base.rss) / CLUSTERS)} after it (gc); heap used ${KB((loadGc.heapUsed - base.heapUsed) / CLUSTERS)} per cluster after the load (gc) — all over the base of ${MiB(base.rss)}`,
  );
  if (slope) {
    const { n1, n2, p1, p2, gc1, gc2 } = slope;
    console.log(`slope between ${n1} and ${n2} clusters, each under polling load (FLEET_SLOPE=1)`);
    console.log(`  ${describePure(`${n1} clusters`, p1).trim()}; ${mem(p1.after)}; gc ${mem(gc1)}`);
    console.log(`  ${describePure(`${n2} clusters`, p2).trim()}; ${mem(p2.after)}; gc ${mem(gc2)}`);
    console.log(
      `  slope ${KB((p2.after.rss - p1.after.rss) / (n2 - n1))} RSS per cluster under load; ${KB((gc2.rss - gc1.rss) / (n2 - n1))} RSS and ${KB((gc2.heapUsed - gc1.heapUsed) / (n2 - n1))} heap used per cluster after a gc`,
    );
  }
  svc.child.kill("SIGTERM");
  bareServer.child.kill("SIGTERM");
}

await main();
