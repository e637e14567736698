/**
 * A benchmark-only service process: the real app (test/helpers/server.ts) with sealing off (plain
 * codec) or on (Key Vault provider pointed at the bench's stand-in). Prints one JSON line with its
 * URL, CA and token, then serves until killed. Never used outside bench/.
 * env: MODE=plain|local|sealed (local: sealing with the local key file), KV_URL, KV_TOKEN, KV_CA_FILE,
 * AGENT_STALENESS_MS (agent API staleness; the app default otherwise), LOG_FILE (where the log lines go;
 * a file in the data directory otherwise), LOG_LEVEL (only if you set it: the app's default, info, is
 * what runs otherwise).
 * Logging is as in production (src/main.ts): pino at the service's level into a SafeLogSink writing a
 * file descriptor, so the lines cost what they cost a user's service; never kept in memory (the test
 * helper's default capture would grow the heap by every request's line).
 * Stats on demand: a line "stats" or "gc" on stdin (or SIGUSR2) prints one JSON line with CPU time,
 * RSS, heap and the store's call count; "gc" collects garbage first (the process runs with --expose-gc).
 * "snap <file>" writes a heap snapshot there (v8.writeHeapSnapshot, which collects garbage first) and
 * prints {"snapshot": file} (bench/heap-aggregate.ts sums it by constructor).
 */
import fs from "node:fs";
import type { TokenCredential } from "@azure/identity";
import path from "node:path";
import readline from "node:readline";
import v8 from "node:v8";
import { fdWriter, SafeLogSink } from "../src/ops/log-sink.js";
import { plainCodec } from "../src/ports/body-codec.js";
import { KeyVaultKeyProvider } from "../src/keys/key-vault.js";
import { startServer, tempDir } from "../test/helpers/server.js";

const mode = process.env.MODE ?? "sealed";
// BENCH_DATA_DIR: a directory seeded beforehand (bench/seed.ts); a fresh temporary one otherwise
const dataDir = process.env.BENCH_DATA_DIR || tempDir("bench-serve-");
const logFd = fs.openSync(process.env.LOG_FILE ?? path.join(dataDir, "service.log"), "a");
const logStream = new SafeLogSink(fdWriter(logFd));
const agent = process.env.AGENT_STALENESS_MS ? { stalenessMs: Number(process.env.AGENT_STALENESS_MS) } : undefined;
let server: Awaited<ReturnType<typeof startServer>>;
if (mode === "plain") server = await startServer({ dataDir, logStream, codec: plainCodec, subscriptionCacheMs: 5000, agent });
else if (mode === "local") server = await startServer({ dataDir, logStream, subscriptionCacheMs: 5000, agent });
else {
  const ca = fs.readFileSync(process.env.KV_CA_FILE ?? "", "utf8");
  const token = process.env.KV_TOKEN ?? "";
  const credential: TokenCredential = { getToken: async () => ({ token, expiresOnTimestamp: Date.now() + 3600_000 }) };
  const keyProvider = new KeyVaultKeyProvider({
    vaultUrl: process.env.KV_URL ?? "",
    keyName: "bench-kek",
    credential,
    versionRefreshMs: 60_000,
    clientOptions: { tlsOptions: { ca }, disableChallengeResourceVerification: true, retryOptions: { maxRetries: 0 } },
  });
  server = await startServer({ dataDir, logStream, keyProvider, subscriptionCacheMs: 5000, agent });
}
// the test helper starts at info, the shipped default; a LOG_LEVEL the user set applies to every
// request's child logger from here on
if (process.env.LOG_LEVEL) server.app.log.level = process.env.LOG_LEVEL;
// as in production (src/main.ts): the cross-replica change check and the assignment reconciler run
server.changeWatcher.start();
server.reconciler.start();
process.stdout.write(`${JSON.stringify({ url: server.url, ca: server.ca, token: server.token })}\n`);
// CPU time is steadier than throughput on a shared machine: the bench asks for it around each run
// (with resident memory and the store's call count, which bench/fleet.ts reads)
const stats = (collect: boolean) => {
  if (collect) (globalThis as { gc?: () => void }).gc?.();
  const { user, system } = process.cpuUsage();
  const m = process.memoryUsage();
  process.stdout.write(
    `${JSON.stringify({ cpuMicros: user + system, rss: m.rss, heapUsed: m.heapUsed, heapTotal: m.heapTotal, external: m.external, arrayBuffers: m.arrayBuffers, storeCalls: server.store.totalCalls() })}\n`,
  );
};
process.on("SIGUSR2", () => stats(false));
if (process.stdin.readable)
  readline.createInterface({ input: process.stdin }).on("line", (line) => {
    const [command, file] = line.trim().split(" ");
    if (command === "snap" && file) process.stdout.write(`${JSON.stringify({ snapshot: v8.writeHeapSnapshot(file) })}\n`);
    else stats(command === "gc");
  });
process.on("SIGINT", () => process.exit(0));
process.on("SIGTERM", () => process.exit(0));
