/**
 * npm run bench:faults — each fault of issue #17 against the real service, with the configured
 * deadlines and breaker settings (the defaults, or STORE_TIMEOUT_MS, KEY_VAULT_TIMEOUT_MS,
 * BREAKER_* from the environment): the status codes seen, the worst request latency (overall, and once
 * the fault was known), the time to recover after it clears, and whether every acknowledged write is
 * still there. FAULT_SECONDS (default 20, as long as the outage that was observed) is how long each fault lasts.
 * Faults: SQLite disk full (real SQLITE_FULL via max_page_count), Cosmos DB dropped and stalled (TCP
 * proxy before the test server), Key Vault down and stalled (the stand-in), a stalled log reader.
 */
import { spawn } from "node:child_process";
import path from "node:path";
import type { TokenCredential } from "@azure/identity";
import { loadConfig } from "../src/config.js";
import { KeyVaultKeyProvider } from "../src/keys/key-vault.js";
import { SafeLogSink, streamWriter } from "../src/ops/log-sink.js";
import { systemClock } from "../src/ports/clock.js";
import { CircuitBreaker } from "../src/ports/circuit-breaker.js";
import { loadOrCreateTls } from "../src/server/tls.js";
import { cosmosClient } from "../src/store/cosmos/client.js";
import { CosmosStore } from "../src/store/cosmos/cosmos-store.js";
import { GuardedStore } from "../src/store/guarded.js";
import { SqliteStore } from "../src/store/sqlite/sqlite-store.js";
import { EMULATOR_KEY, startCosmos } from "../test/helpers/cosmos.js";
import { drill, recovery, type DrillResult } from "../test/helpers/fault-drill.js";
import { clusterBody, clusterPath, configurationBody, configurationPath, sshPrivateKeyB64 } from "../test/helpers/fixtures.js";
import { client } from "../test/helpers/http.js";
import { startServer, tempDir, type TestServer } from "../test/helpers/server.js";
import { startTcpProxy } from "../test/helpers/tcp-proxy.js";
import { FakeKeyVault } from "../test/keyvault/fake-key-vault.js";

const FAULT_MS = Number(process.env.FAULT_SECONDS ?? 20) * 1000;
const { faults } = loadConfig({ ...process.env, STORE: "sqlite", KEY_PROVIDER: "local" });
const V = "api-version=2024-11-01";
const CV = "api-version=2024-01-01";

interface Row {
  fault: string;
  result: DrillResult;
  recoveryMs: number;
  acknowledged: number;
  present: number;
  note?: string;
}
const rows: Row[] = [];

/** one fault on one server: traffic while it lasts, recovery after, then every acknowledged write read back */
async function scenario(name: string, server: TestServer, cluster: string, options: { start(): void; clear(): void; known(): boolean; protectedSettings?: boolean; note?: () => string }) {
  const http = client(server.url, server.ca, server.token);
  const body = (n: string) => configurationBody({ operatorNamespace: n, ...(options.protectedSettings ? { configurationProtectedSettings: { sshPrivateKey: sshPrivateKeyB64() } } : {}) });
  const put = (n: string) => http(`${configurationPath(cluster, n)}?${V}`, { method: "PUT", body: body(n) });
  const acknowledged: string[] = [];
  await recovery(async () => ((await http(`${clusterPath(cluster)}?${CV}`, { method: "PUT", body: clusterBody() })).status === 201 ? cluster : undefined), 20_000);
  acknowledged.push((await recovery(async () => ((await put("base")).status === 201 ? "base" : undefined), 20_000)).acknowledged);
  options.start();
  const result = await drill({
    ms: FAULT_MS,
    known: options.known,
    round: async (i) => {
      const responses = await Promise.all([put(`f-${i}`), http(`${configurationPath(cluster, "base")}?${V}`), http(`${configurationPath(cluster, "base")}?${V}`)]);
      return { responses, acknowledged: responses[0]?.status === 201 ? `f-${i}` : undefined };
    },
  });
  acknowledged.push(...result.acknowledged);
  options.clear();
  const recovered = await recovery(async (i) => ((await put(`r-${i}`)).status === 201 ? `r-${i}` : undefined), 60_000);
  acknowledged.push(recovered.acknowledged);
  let present = 0;
  for (const n of acknowledged) if ((await http(`${configurationPath(cluster, n)}?${V}`)).status === 200) present++;
  rows.push({ fault: name, result, recoveryMs: recovered.ms, acknowledged: acknowledged.length, present, note: options.note?.() });
}

async function diskFull(): Promise<void> {
  const dataDir = tempDir();
  const sqlite = new SqliteStore(path.join(dataDir, "store.db"), systemClock);
  await sqlite.migrate();
  const guarded = new GuardedStore(sqlite, { deadlineMs: faults.storeTimeoutMs, breaker: new CircuitBreaker("store", faults.breaker) });
  const server = await startServer({ dataDir, store: guarded });
  await scenario("SQLite disk full", server, "disk", {
    start: () => sqlite.connection.pragma(`max_page_count = ${Number(sqlite.connection.pragma("page_count", { simple: true }))}`),
    clear: () => sqlite.connection.pragma("max_page_count = 1073741823"),
    known: () => !guarded.writesAvailable,
    note: () => "writes 503 StoreWriteUnavailable, reads 200",
  });
  await server.close();
}

async function cosmos(mode: "drop" | "stall"): Promise<void> {
  const cosmosServer = await startCosmos();
  const proxy = await startTcpProxy(Number(new URL(cosmosServer.endpoint).port));
  const store = await CosmosStore.open(
    cosmosClient({ endpoint: `https://127.0.0.1:${proxy.port}`, key: EMULATOR_KEY, rejectUnauthorized: false, requestTimeoutMs: faults.storeTimeoutMs }),
    "kcrp",
    "resources",
    systemClock,
  );
  await store.migrate();
  const breaker = new CircuitBreaker("store", faults.breaker);
  const server = await startServer({ store: new GuardedStore(store, { deadlineMs: faults.storeTimeoutMs, breaker }) });
  let maxOpen = 0;
  const watch = setInterval(() => (maxOpen = Math.max(maxOpen, proxy.open())), 50);
  await scenario(`Cosmos DB ${mode === "drop" ? "unreachable" : "stalled"}`, server, `cosmos-${mode}`, {
    start: () => proxy.setMode(mode),
    clear: () => proxy.setMode("pass"),
    known: () => breaker.state !== "closed",
    note: () => `max connections open ${maxOpen}`,
  });
  clearInterval(watch);
  await server.close();
  await proxy.close();
  await cosmosServer.close();
}

async function keyVault(mode: "down" | "stall"): Promise<void> {
  const tls = await loadOrCreateTls(tempDir("kv-tls-"), {});
  const kv = new FakeKeyVault(tls);
  await kv.start();
  kv.rotate("kek");
  const credential: TokenCredential = { getToken: async () => ({ token: kv.token, expiresOnTimestamp: Date.now() + 3600_000 }) };
  const provider = new KeyVaultKeyProvider({
    vaultUrl: kv.url,
    keyName: "kek",
    credential,
    versionRefreshMs: 60_000,
    clientOptions: { tlsOptions: { ca: tls.cert }, disableChallengeResourceVerification: true, retryOptions: { maxRetries: 2 } },
    timeoutMs: faults.keyVaultTimeoutMs,
    breaker: new CircuitBreaker("keyvault", faults.breaker),
  });
  const server = await startServer({ keyProvider: provider, faults: { breakers: [provider.breaker] } });
  let maxStalled = 0;
  const watch = setInterval(() => (maxStalled = Math.max(maxStalled, kv.stalled.size)), 50);
  await scenario(`Key Vault ${mode}`, server, `kv-${mode}`, {
    start: () => (kv.mode = mode),
    clear: () => (kv.mode = "up"),
    known: () => provider.breaker.state !== "closed",
    protectedSettings: true,
    note: () => (mode === "stall" ? `max requests held at the vault ${maxStalled}` : "writes need a new data key; reads use cached keys"),
  });
  clearInterval(watch);
  await server.close();
  await kv.stop();
}

async function logSink(): Promise<void> {
  const reader = spawn("sleep", ["600"], { stdio: ["pipe", "ignore", "ignore"] });
  const sink = new SafeLogSink(streamWriter(reader.stdin));
  const server = await startServer({ logStream: sink });
  const http = client(server.url, server.ca, server.token);
  // a log that stops being read: fill the pipe and the sink's bound first
  for (let i = 0; i < 200_000; i++) sink.write(`${JSON.stringify({ level: 30, msg: "filler", i })}\n`);
  const result = await drill({ ms: FAULT_MS, known: () => true, round: async () => ({ responses: await Promise.all([http("/healthz"), http("/readyz", { token: null })]) }) });
  reader.kill("SIGKILL");
  rows.push({ fault: "log reader stalled", result, recoveryMs: 0, acknowledged: 0, present: 0, note: `${sink.droppedTotal} lines dropped and counted` });
  await server.close();
}

async function main(): Promise<void> {
  console.log(`deadlines: store ${faults.storeTimeoutMs} ms, Key Vault ${faults.keyVaultTimeoutMs} ms; breaker: ${faults.breaker.failureThreshold} failures, open ${faults.breaker.openMs}..${faults.breaker.maxOpenMs} ms; each fault lasts ${FAULT_MS / 1000} s, 3 callers at once\n`);
  await diskFull();
  await cosmos("drop");
  await cosmos("stall");
  await keyVault("down");
  await keyVault("stall");
  await logSink();
  console.log("| fault | statuses during the fault | worst latency | worst once known | recovery after it clears | acknowledged writes present | note |");
  console.log("|---|---|---|---|---|---|---|");
  for (const r of rows) {
    const statuses = Object.entries(r.result.statuses).map(([s, n]) => `${s}×${n}`).join(" ");
    console.log(`| ${r.fault} | ${statuses}${r.result.retryAfterMissing ? ` (${r.result.retryAfterMissing} 503 without Retry-After)` : ""} | ${r.result.worstMs.toFixed(0)} ms | ${r.result.worstKnownMs.toFixed(0)} ms | ${r.recoveryMs ? `${r.recoveryMs.toFixed(0)} ms` : "–"} | ${r.acknowledged ? `${r.present}/${r.acknowledged}` : "–"} | ${r.note ?? ""} |`);
  }
  process.exit(0);
}

main().catch((err: unknown) => {
  console.error(err);
  process.exit(1);
});
