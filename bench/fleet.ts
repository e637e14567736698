/**
 * npm run bench:fleet — the agent pull API under a fleet's steady polling, measured in one run:
 * 1. the service (bench/serve.ts, own process, local sealing, agent staleness 5 s) and a bare fastify
 *    HTTPS route answering 304 (bench/bare-server.ts /bare304) as the baseline;
 * 2. setup over HTTPS: FLEET_CLUSTERS clusters across 4 subscriptions x 4 resource groups, each with its
 *    own P-256 agent key and one configuration (known_hosts on 10 %, so those carry a JWE); one token
 *    per agent (10 minutes) and one GET per agent for its ETag;
 * 3. autocannon polls round-robin over all agents with If-None-Match, while a changer PUTs a change to
 *    1 % of the clusters spread over the run, and 20 long-poll samples time PUT -> agent receipt;
 * 4. service CPU, RSS and store calls (SIGUSR2) around the load;
 * 5. the same load against the bare route, and the ratio.
 * Options: FLEET_CLUSTERS (default 10000), BENCH_SECONDS (default 20), BENCH_CONNECTIONS (default 64).
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
import { header, lines, pool, quantile, serve, sleep } from "./harness.js";

const CLUSTERS = Number(process.env.FLEET_CLUSTERS ?? 10_000);
const SECONDS = Number(process.env.BENCH_SECONDS ?? 20);
const CONNECTIONS = Number(process.env.BENCH_CONNECTIONS ?? 64);
const SETUP_CONCURRENCY = 64;
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

/** runs fn over items with at most `limit` in flight */

async function main(): Promise<void> {
  const svc = await serve();
  const arm = client(svc.url, svc.ca, svc.token);
  const raw = client(svc.url, svc.ca);

  // --- setup ---------------------------------------------------------------------------------------
  const subs = Array.from({ length: 4 }, (_, i) => `00000000-0000-0000-0000-${String(100 + i).padStart(12, "0")}`);
  const rgs = ["fleet-a", "fleet-b", "fleet-c", "fleet-d"];
  let t0 = performance.now();
  const fleet: Member[] = Array.from({ length: CLUSTERS }, (_, i) => {
    const sub = subs[i % subs.length] as string;
    const rg = rgs[Math.floor(i / subs.length) % rgs.length] as string;
    const name = `c${String(i).padStart(6, "0")}`;
    const id = clusterPath(name, sub, rg);
    return { name, sub, rg, id, agent: testAgent("ec"), knownHosts: i % 10 === 0 ? knownHostsB64() : undefined, params: 0, auth: "", path: `/agent/v1${id}/configurations`, etag: "" };
  });
  const keysMs = performance.now() - t0;
  const configBody = (m: Member) => configurationBody({ operatorParams: PARAMS[m.params], ...(m.knownHosts ? { sshKnownHostsContents: m.knownHosts } : {}) });
  const putConfiguration = async (m: Member) => {
    const res = await arm(`${configurationPath(m.name, "cfg", m.sub, m.rg)}?${V}`, { method: "PUT", body: configBody(m) });
    if (res.status !== 200 && res.status !== 201) throw new Error(`configuration PUT ${m.name}: ${res.status} ${res.text}`);
  };
  t0 = performance.now();
  const step = Math.max(1, Math.floor(CLUSTERS / 10));
  await pool(
    fleet,
    SETUP_CONCURRENCY,
    async (m) => {
      const res = await arm(`${clusterPath(m.name, m.sub, m.rg)}?${CV}`, { method: "PUT", body: clusterBody(m.agent.publicKeyB64) });
      if (res.status !== 200 && res.status !== 201) throw new Error(`cluster PUT ${m.name}: ${res.status} ${res.text}`);
      await putConfiguration(m);
    },
    (done) => {
      if (done % step === 0 || done === CLUSTERS) console.log(`  setup ${done}/${CLUSTERS} clusters+configurations, ${((performance.now() - t0) / 1000).toFixed(1)} s`);
    },
  );
  const setupMs = performance.now() - t0;
  t0 = performance.now();
  await Promise.all(fleet.map(async (m) => (m.auth = `Bearer ${await m.agent.token(m.id, { lifetimeSeconds: 600 })}`)));
  const signMs = performance.now() - t0;
  t0 = performance.now();
  let sampleBody = "";
  await pool(fleet, SETUP_CONCURRENCY, async (m) => {
    const res = await raw(m.path, { headers: { authorization: m.auth } });
    if (res.status !== 200) throw new Error(`agent GET ${m.name}: ${res.status} ${res.text}`);
    m.etag = String(res.headers.etag);
    if (!sampleBody || (m.knownHosts && sampleBody.length < res.text.length)) sampleBody = res.text;
  });
  const firstGetMs = performance.now() - t0;
  console.log(
    `setup: ${CLUSTERS} agent keys ${(keysMs / 1000).toFixed(1)} s; ${CLUSTERS} clusters + ${CLUSTERS} configurations (${fleet.filter((m) => m.knownHosts).length} with known_hosts) over HTTPS, ${SETUP_CONCURRENCY} in flight: ${(setupMs / 1000).toFixed(1)} s (${((2 * CLUSTERS) / (setupMs / 1000)).toFixed(0)} PUT/s); tokens ${(signMs / 1000).toFixed(1)} s; first GET per agent ${(firstGetMs / 1000).toFixed(1)} s`,
  );

  // store calls of one configuration PUT, measured on a spare cluster outside the polled fleet
  const spare: Member = { ...(fleet[0] as Member), name: "calibration", id: clusterPath("calibration", subs[0], rgs[0]), agent: testAgent("ec"), knownHosts: undefined };
  await arm(`${clusterPath(spare.name, spare.sub, spare.rg)}?${CV}`, { method: "PUT", body: clusterBody(spare.agent.publicKeyB64) });
  await putConfiguration(spare);
  const calBefore = await svc.stats();
  for (let i = 0; i < 10; i++) {
    spare.params ^= 1;
    await putConfiguration(spare);
  }
  const storeCallsPerPut = ((await svc.stats()).storeCalls - calBefore.storeCalls) / 10;

  // warm-up: JIT, TLS, the agent token cache
  let rr = 0;
  const pollRequest = {
    setupRequest: (req: autocannon.Request, context: object) => {
      const i = rr++ % CLUSTERS;
      (context as { i: number }).i = i;
      const m = fleet[i] as Member;
      req.path = m.path;
      req.headers = { authorization: m.auth, "if-none-match": m.etag };
      return req;
    },
    onResponse: (status: number, _body: string, context: object, headers: autocannon.Request["headers"]) => {
      if (status !== 200) return;
      const etag = header(headers ?? {}, "etag");
      if (etag) (fleet[(context as { i: number }).i] as Member).etag = etag;
    },
  };
  const run = (url: string, ca: string, request: typeof pollRequest, seconds: number) =>
    autocannon({ url, connections: CONNECTIONS, duration: seconds, tlsOptions: { ca }, requests: [request] });
  await run(svc.url, svc.ca, pollRequest, 2);

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
  const result = await run(svc.url, svc.ca, pollRequest, SECONDS);
  const wallMicros = (performance.now() - loadStart) * 1000;
  const after = await svc.stats();
  await Promise.all([changer, sampler]);

  // --- the bare baseline ---------------------------------------------------------------------------
  const base = await bare(sampleBody);
  let brr = 0;
  const bareRequest = {
    setupRequest: (req: autocannon.Request, context: object) => {
      const i = brr++ % CLUSTERS;
      (context as { i: number }).i = i;
      req.path = "/bare304";
      req.headers = { authorization: (fleet[i] as Member).auth, "if-none-match": '"bare-etag-1"' };
      return req;
    },
    onResponse: () => {},
  };
  await run(base.url, base.ca, bareRequest, 2);
  const bareResult = await run(base.url, base.ca, bareRequest, SECONDS);

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
  console.log(`\nfleet: ${CLUSTERS} agents, ${SECONDS} s x ${CONNECTIONS} connections, HTTPS on 127.0.0.1, ${os.cpus().length} cores, node ${process.version}, SQLite store, local sealing, staleness 5 s, service in its own process`);
  console.log(`polls/s sustained      ${pollsPerSecond.toFixed(0)}  (${polls} polls; errors ${result.errors}, timeouts ${result.timeouts})`);
  console.log(`status mix             ${mix}`);
  console.log(`latency                p50 ${result.latency.p50} ms, p99 ${result.latency.p99} ms`);
  console.log(`service CPU            ${((cpu / wallMicros) * 100).toFixed(0)} % of one core, ${(cpu / Math.max(1, polls)).toFixed(0)} µs per poll (PUTs' CPU included)`);
  console.log(`service RSS            ${(after.rss / 2 ** 20).toFixed(0)} MiB after the load (${(before.rss / 2 ** 20).toFixed(0)} MiB before)`);
  console.log(`store calls            ${storeCalls} during the load = ${(storeCalls / Math.max(1, polls)).toFixed(4)} per poll, including ${puts} configuration PUTs (${putErrors} failed)`);
  console.log(`                       excluding the PUTs (${storeCallsPerPut} store calls per PUT, measured on a spare cluster): ${(Math.max(0, storeCalls - storeCallsPerPut * puts) / Math.max(1, polls)).toFixed(4)} per poll`);
  console.log(`PUT -> agent receipt   ${receipt.length} long-poll samples: p50 ${ms(quantile(receipt, 0.5))}, p99 ${ms(quantile(receipt, 0.99))}, max ${ms(Math.max(...receipt))} from the PUT response (negative: the wake-up arrived first); from the PUT sent: p50 ${ms(quantile(receiptFromSend, 0.5))}, max ${ms(Math.max(...receiptFromSend))}; ${sampleFailures} not 200`);
  console.log(`bare /bare304          ${barePerSecond.toFixed(0)} polls/s, p50 ${bareResult.latency.p50} ms, p99 ${bareResult.latency.p99} ms (non-2xx ${bareResult.non2xx} = the 304s)`);
  console.log(`service / bare         ${((pollsPerSecond / barePerSecond) * 100).toFixed(1)} % of the bare route's polls/s`);
  svc.child.kill("SIGTERM");
  base.child.kill("SIGTERM");
}

await main();
