/**
 * `npm run fuzz`: the fuzz session for humans, longer than CI's. FUZZ_SECONDS (default 600) and FUZZ_SEED
 * (default: a fresh random seed, printed) choose the budget and the sequence; exits 1 on any failure class.
 */
import { DEFAULT_SEED, formatReport, openSession, runFuzz, secondsFromEnv } from "./fuzzer.js";

const seed = process.env.FUZZ_SEED ? Number(process.env.FUZZ_SEED) : Math.floor(Math.random() * 2 ** 31) || DEFAULT_SEED;
const seconds = secondsFromEnv(600);
console.log(`fuzz: ${seconds} s with seed ${seed}`);
const session = await openSession();
try {
  const report = await runFuzz(session, { seconds, seed, shrinkSeconds: Math.max(30, seconds / 10), log: (line) => console.log(`fuzz: ${line}`) });
  console.log(formatReport(report));
  process.exitCode = report.classes.length > 0 || report.healthy.length > 0 ? 1 : 0;
} finally {
  await session.server.close();
}
