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
import { drill, recovery } from "../helpers/fault-drill.js";
import { FakeKeyVault } from "../keyvault/fake-key-vault.js";

const V = "api-version=2024-11-01";
const CV = "api-version=2024-01-01";
const KEY = "kcrp-kek";
const TIMEOUT_MS = 1000;

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
    breaker: new CircuitBreaker("keyvault", { failureThreshold: 2, openMs: 300, maxOpenMs: 2000 }),
  });
  server = await startServer({ keyProvider: provider, faults: { breakers: [provider.breaker] } });
  http = client(server.url, server.ca, server.token);
  // the first vault calls (challenge handshake, cold TLS) may miss the deadline on a busy machine: retried
  await recovery(async () => ((await http(`${clusterPath("kvf")}?${CV}`, { method: "PUT", body: clusterBody() })).status === 201 ? "kvf" : undefined), 20_000);
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
  let readsOk = 0;
  let maxStalled = 0;
  const result = await drill({
    ms,
    known: () => provider.breaker.state !== "closed",
    round: async (i) => {
      const [write, read] = await Promise.all([put(`${mode}-${i}`), http(`${configurationPath("kvf", "base")}?${V}`)]);
      if (read?.status === 200) readsOk++;
      // the statuses counted are the writes' (the reads are counted apart: cached keys serve them)
      return { responses: write ? [write] : [], acknowledged: write?.status === 201 ? `${mode}-${i}` : undefined };
    },
    each: () => (maxStalled = Math.max(maxStalled, kv.stalled.size)),
  });
  acknowledged.push(...result.acknowledged);
  return { ...result, readsOk, maxStalled };
}

async function recover(): Promise<number> {
  kv.mode = "up";
  const { ms, acknowledged: name } = await recovery(async (i) => {
    const name = `rec-${Date.now()}-${i}`;
    return (await put(name)).status === 201 ? name : undefined;
  }, 10_000);
  acknowledged.push(name);
  return ms;
}

for (const mode of ["down", "stall"] as const) {
  t.test(`Key Vault ${mode}: 503 + Retry-After, fast once known, cached reads go on, recovers by itself`, async (t) => {
    if (acknowledged.length === 0) acknowledged.push((await recovery(async () => ((await put("base")).status === 201 ? "base" : undefined), 20_000)).acknowledged);
    const phase = await fault(mode, 4000);
    t.notOk(phase.statuses["500"], `never 500: ${JSON.stringify(phase.statuses)}`);
    t.ok(phase.statuses["503"], "503 while the vault is unusable");
    t.equal(phase.retryAfterMissing, 0, "every 503 has Retry-After");
    t.ok(phase.worstMs < TIMEOUT_MS * 2 + 500, `no request held past the deadline: worst ${phase.worstMs.toFixed(0)} ms`);
    t.ok(phase.worstKnownMs < 1000, `under 1 s once known: ${phase.worstKnownMs.toFixed(0)} ms`);
    t.ok(phase.readsOk > 0, "reads under cached keys go on");
    if (mode === "stall") t.ok(phase.maxStalled < 20, `stalled requests held at the vault: at most ${phase.maxStalled}`);
    t.match((await http("/metrics", { token: null })).text, /^dependency_calls_refused_total\{dependency="keyvault"\} [1-9]\d*$/m, "refusals counted");
    const recoverMs = await recover();
    t.ok(recoverMs < 5000, `recovered in ${recoverMs.toFixed(0)} ms`);
    t.comment(`key vault ${mode}: writes ${JSON.stringify(phase.statuses)}, worst ${phase.worstMs.toFixed(0)} ms, worst once known ${phase.worstKnownMs.toFixed(0)} ms, reads ok ${phase.readsOk}, recovery ${recoverMs.toFixed(0)} ms${mode === "stall" ? `, max stalled at the vault ${phase.maxStalled}` : ""}`);
  });
}

t.test("every acknowledged write is still there", async (t) => {
  for (const name of acknowledged) t.equal((await http(`${configurationPath("kvf", name)}?${V}`)).status, 200, name);
  t.comment(`${acknowledged.length} acknowledged writes, all present`);
});
