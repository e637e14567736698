/**
 * Key Vault down and Key Vault stalled, in the stand-in driven by the real @azure/keyvault-keys
 * client: every call has a deadline (the client's abortSignal), and after repeated failures the
 * breaker refuses at once. Writes that need a new data key answer 503 + Retry-After, fast once the
 * fault is known; reads of cached keys go on; the provider recovers by itself (background probe);
 * no stalled request piles up; every acknowledged write is still there.
 */
import type { TokenCredential } from "@azure/identity";
import t from "tap";
import { KeyVaultKeyProvider } from "../../src/keys/key-vault.js";
import { CircuitBreaker } from "../../src/ports/circuit-breaker.js";
import { loadOrCreateTls } from "../../src/server/tls.js";
import { clusterBody, clusterPath, configurationBody, configurationPath, sshPrivateKeyB64 } from "../helpers/fixtures.js";
import { client } from "../helpers/http.js";
import { startServer, tempDir, type TestServer } from "../helpers/server.js";
import { FakeKeyVault } from "../keyvault/fake-key-vault.js";

const V = "api-version=2024-11-01";
const CV = "api-version=2024-01-01";
const KEY = "kcrp-kek";
const TIMEOUT_MS = 500;

let kv: FakeKeyVault;
let server: TestServer;
let provider: KeyVaultKeyProvider;
let http: ReturnType<typeof client>;
const acknowledged: string[] = [];

t.before(async () => {
  const tls = await loadOrCreateTls(tempDir("kv-tls-"), {});
  kv = new FakeKeyVault(tls);
  await kv.start();
  kv.rotate(KEY);
  const credential: TokenCredential = { getToken: async () => ({ token: kv.token, expiresOnTimestamp: Date.now() + 3600_000 }) };
  provider = new KeyVaultKeyProvider({
    vaultUrl: kv.url,
    keyName: KEY,
    credential,
    versionRefreshMs: 60_000,
    clientOptions: { tlsOptions: { ca: tls.cert }, disableChallengeResourceVerification: true, retryOptions: { maxRetries: 2 } },
    timeoutMs: TIMEOUT_MS,
    breaker: new CircuitBreaker("keyvault", { failureThreshold: 3, openMs: 300, maxOpenMs: 2000 }),
  });
  server = await startServer({ keyProvider: provider, faults: { breakers: [provider.breaker] } });
  http = client(server.url, server.ca, server.token);
  t.equal((await http(`${clusterPath("kvf")}?${CV}`, { method: "PUT", body: clusterBody() })).status, 201);
});
t.teardown(async () => {
  await server.close();
  await kv.stop();
});

// every configuration's protected settings get a data key of their own: each PUT wraps one in the vault
const put = (name: string) =>
  http(`${configurationPath("kvf", name)}?${V}`, { method: "PUT", body: configurationBody({ configurationProtectedSettings: { sshPrivateKey: sshPrivateKeyB64() } }) });

async function fault(mode: "down" | "stall", ms: number) {
  kv.mode = mode;
  const phase = { statuses: {} as Record<string, number>, worstMs: 0, worstKnownMs: 0, retryAfterMissing: 0, maxStalled: 0, readsOk: 0 };
  const until = Date.now() + ms;
  for (let i = 0; Date.now() < until; i++) {
    const known = provider.breaker.state !== "closed";
    const started = performance.now();
    const [write, read] = await Promise.all([put(`${mode}-${i}`), http(`${configurationPath("kvf", "base")}?${V}`)]);
    const took = performance.now() - started;
    phase.worstMs = Math.max(phase.worstMs, took);
    if (known) phase.worstKnownMs = Math.max(phase.worstKnownMs, took);
    phase.statuses[write.status] = (phase.statuses[write.status] ?? 0) + 1;
    if (write.status === 503 && !/^\d+$/.test(String(write.headers["retry-after"]))) phase.retryAfterMissing++;
    if (write.status === 201) acknowledged.push(`${mode}-${i}`);
    if (read.status === 200) phase.readsOk++;
    phase.maxStalled = Math.max(phase.maxStalled, kv.stalled.size);
  }
  return phase;
}

async function recovery(): Promise<number> {
  kv.mode = "up";
  const started = performance.now();
  for (let i = 0; performance.now() - started < 10_000; i++) {
    const name = `rec-${Date.now()}-${i}`;
    if ((await put(name)).status === 201) {
      acknowledged.push(name);
      return performance.now() - started;
    }
    await new Promise((r) => setTimeout(r, 50));
  }
  throw new Error("did not recover within 10 s");
}

for (const mode of ["down", "stall"] as const) {
  t.test(`Key Vault ${mode}: 503 + Retry-After, fast once known, cached reads go on, recovers by itself`, async (t) => {
    if (acknowledged.length === 0) {
      t.equal((await put("base")).status, 201);
      acknowledged.push("base");
    }
    const phase = await fault(mode, 2500);
    t.notOk(phase.statuses["500"], `never 500: ${JSON.stringify(phase.statuses)}`);
    t.ok(phase.statuses["503"], "503 while the vault is unusable");
    t.equal(phase.retryAfterMissing, 0, "every 503 has Retry-After");
    t.ok(phase.worstMs < TIMEOUT_MS * 2 + 500, `no request held past the deadline: worst ${phase.worstMs.toFixed(0)} ms`);
    t.ok(phase.worstKnownMs < 1000, `under 1 s once known: ${phase.worstKnownMs.toFixed(0)} ms`);
    t.ok(phase.readsOk > 0, "reads under cached keys go on");
    if (mode === "stall") t.ok(phase.maxStalled < 20, `stalled requests held at the vault: at most ${phase.maxStalled}`);
    t.match((await http("/metrics", { token: null })).text, /^dependency_calls_refused_total\{dependency="keyvault"\} [1-9]\d*$/m, "refusals counted");
    const recoverMs = await recovery();
    t.ok(recoverMs < 5000, `recovered in ${recoverMs.toFixed(0)} ms`);
    t.comment(`key vault ${mode}: writes ${JSON.stringify(phase.statuses)}, worst ${phase.worstMs.toFixed(0)} ms, worst once known ${phase.worstKnownMs.toFixed(0)} ms, reads ok ${phase.readsOk}, recovery ${recoverMs.toFixed(0)} ms${mode === "stall" ? `, max stalled at the vault ${phase.maxStalled}` : ""}`);
  });
}

t.test("every acknowledged write is still there", async (t) => {
  for (const name of acknowledged) t.equal((await http(`${configurationPath("kvf", name)}?${V}`)).status, 200, name);
  t.comment(`${acknowledged.length} acknowledged writes, all present`);
});
