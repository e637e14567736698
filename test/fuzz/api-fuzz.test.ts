/**
 * Property-based fuzzing of every route (issue #10, "Hostile input"): hostile bodies from each operation's
 * schema, path segments, query strings, headers and malformed HTTP, for FUZZ_SECONDS (45 by default) with
 * a fixed seed (FUZZ_SEED overrides; it is printed). Each answer must be an ARM error or a success, small,
 * free of every planted secret; the service must be healthy afterwards. Each class of failure is reported
 * once, with the seed, the request that first showed it (as sent, and its place in the sequence: a time
 * budget reaches further on a faster machine, so `FUZZ_SEED=<seed> FUZZ_RUNS=<place> npm run fuzz` replays
 * exactly the requests up to it) and fast-check's minimal reproduction. `FUZZ_SECONDS=600 npm run fuzz`
 * runs longer, by hand.
 */
import t from "tap";
import { armRoutes } from "../../src/surfaces/arm/index.js";
import { formatReport, openSession, replayCommand, runFuzz, runsFromEnv, secondsFromEnv, seedFromEnv } from "./fuzzer.js";
import { fuzzRoutes } from "./routes.js";

t.test("every route of the table, the agent API and the ops endpoints is fuzzed", async (t) => {
  const routes = fuzzRoutes();
  for (const r of armRoutes) t.ok(routes.some((f) => f.operationId === r.operationId && f.surface === "arm"), `${r.operationId} is fuzzed`);
  for (const id of ["Agent_GetConfigurations", "Agent_ReportStatus", "Agent_Heartbeat", "Ops_Healthz", "Ops_Readyz", "Ops_Metrics"]) t.ok(routes.some((f) => f.operationId === id), `${id} is fuzzed`);
  const puts = routes.filter((r) => r.method === "PUT" || r.method === "POST");
  t.ok(puts.every((r) => r.body !== undefined), "every PUT/POST has a body schema to generate from");
});

t.test("hostile requests: no 5xx, ARM errors only, small answers, no secret anywhere, healthy after", async (t) => {
  const seed = seedFromEnv();
  const runs = runsFromEnv();
  const seconds = secondsFromEnv(runs === undefined ? 45 : 240);
  const session = await openSession();
  t.teardown(() => session.server.close());
  t.comment(`fuzz: ${runs === undefined ? `${seconds} s of requests` : `${runs} requests`}, seed ${seed} (FUZZ_SEED=${seed} replays this sequence)`);
  const report = await runFuzz(session, { seconds, seed, runs, shrinkSeconds: 40, log: (line) => t.comment(`fuzz: ${line}`) });
  for (const line of formatReport(report, false).split("\n")) t.comment(line);
  t.ok(report.requests > 100, `sent ${report.requests} requests`);
  for (const c of report.classes) {
    t.fail(`${c.knownAssigned ? `[known, assigned: ${c.knownAssigned}] ` : "[NEW] "}${c.cls}`, {
      diagnostic: true,
      seed,
      firstAtRequest: c.firstRequest,
      replay: replayCommand(seed, c.firstRequest),
      request: c.firstExample,
      reproduction: c.example,
      seen: c.count,
      shrunk: c.shrunk,
      at: null,
      stack: "",
    });
  }
  t.same(report.healthy, [], "the service is healthy after the run (/healthz, /readyz, a PUT/GET round trip)", { seed, requests: report.requests, replay: replayCommand(seed, report.requests) });
});
