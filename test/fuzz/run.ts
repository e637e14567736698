/**
 * `npm run fuzz`: the fuzz session for humans, longer than CI's. FUZZ_SECONDS (default 600) and FUZZ_SEED
 * (default: a fresh random seed, printed) choose the budget and the sequence; FUZZ_RUNS=<n> sends the
 * first n requests of the sequence instead (what a failure's replay command uses); exits 1 on any failure class.
 */
import { DEFAULT_SEED, formatReport, openSession, runFuzz, runsFromEnv, secondsFromEnv, seedFromEnv } from "./fuzzer.js";

const seed = process.env.FUZZ_SEED ? seedFromEnv() : Math.floor(Math.random() * 2 ** 31) || DEFAULT_SEED;
const runs = runsFromEnv();
const seconds = secondsFromEnv(runs === undefined ? 600 : 3600);
console.log(`fuzz: ${runs === undefined ? `${seconds} s` : `${runs} requests`} with seed ${seed}`);
const session = await openSession();
try {
  const report = await runFuzz(session, { seconds, seed, runs, shrinkSeconds: Math.max(30, Math.min(seconds, 600) / 10), log: (line) => console.log(`fuzz: ${line}`) });
  console.log(formatReport(report));
  process.exitCode = report.classes.length > 0 || report.healthy.length > 0 ? 1 : 0;
} finally {
  await session.server.close();
}
