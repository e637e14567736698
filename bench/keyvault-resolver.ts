/**
 * What the Key Vault reference resolver costs (docs/design/keyvault-references.md): one pass over a fleet
 * of N clusters (KV_BENCH_CLUSTERS, default 2000) whose assignment takes its SSH key from the secrets
 * stand-in, on the embedded store with sealing on. Prints, each as wall time and process CPU:
 * - the first pass (N copies read once from the vault, sealed and written);
 * - a steady pass (nothing changed: the scan, the reads of the copies, no vault read, no write);
 * - a rotation pass (a new version: one vault read, N copies rewritten, N markers);
 * - a pass over the same fleet without references (what every pass costs a service that uses none).
 * Run: npx tsx bench/keyvault-resolver.ts
 */
import { startServer, type TestServer } from "../test/helpers/server.js";
import { client } from "../test/helpers/http.js";
import { clusterBody, clusterPath, sshPrivateKeyB64, SUB } from "../test/helpers/fixtures.js";
import { assignmentBody, assignmentPath, withApi } from "../test/helpers/assignments.js";
import { settle } from "../test/helpers/reconciler.js";
import { startSecretVault, vaultId } from "../test/helpers/keyvault.js";

const N = Number(process.env.KV_BENCH_CLUSTERS ?? 2000);

async function timed<T>(label: string, run: () => Promise<T>): Promise<T> {
  const cpu = process.cpuUsage();
  const started = performance.now();
  const result = await run();
  const wall = performance.now() - started;
  const used = process.cpuUsage(cpu);
  console.log(`${label.padEnd(44)} ${wall.toFixed(0).padStart(7)} ms wall ${((used.user + used.system) / 1000).toFixed(0).padStart(7)} ms CPU  ${JSON.stringify(result)}`);
  return result;
}

async function fleet(server: TestServer, withReferences: boolean): Promise<void> {
  const request = client(server.url, server.ca, server.token);
  for (let i = 0; i < N; i++) {
    const res = await request(`${clusterPath(`c${i}`, SUB, "rg-bench")}?api-version=2024-01-01`, { method: "PUT", body: { ...clusterBody(), tags: { ring: "prod" } } });
    if (res.status !== 201) throw new Error(res.text);
  }
  const configuration = withReferences
    ? { repositoryUrl: "git@github.com:example/fleet.git", keyVaultReferences: { sshPrivateKey: { keyVaultResourceId: vaultId("fleet-kv"), secretName: "k" } } }
    : { repositoryUrl: "git@github.com:example/fleet.git" };
  const put = await request(withApi(assignmentPath("bench")), { method: "PUT", body: assignmentBody({ clusterSelector: { tags: { ring: "prod" } } }, configuration) });
  if (put.status !== 201) throw new Error(put.text);
  await settle(server, 600_000);
}

const { kv, reader } = await startSecretVault();
kv.set("fleet-kv", "k", sshPrivateKeyB64());
console.log(`Key Vault resolver, ${N} clusters, SQLite, sealing on (one run; the machine's other load is not controlled)`);

const refs = await startServer({ keyVault: { reader, refreshMs: 1000, allowedVaults: [`${vaultId("fleet-kv")}=*`] } });
await fleet(refs, true);
const resolver = refs.keyVaultResolver;
if (!resolver) throw new Error("no resolver");
await timed("first pass (N copies read and written)", () => resolver.runOnce());
await timed("steady pass (nothing changed)", () => resolver.runOnce());
kv.set("fleet-kv", "k", sshPrivateKeyB64());
await new Promise((r) => setTimeout(r, 1100));
const before = kv.totalReads();
await timed("rotation pass (1 vault read, N rewritten)", () => resolver.runOnce());
console.log(`vault reads during the rotation pass: ${kv.totalReads() - before}`);
await refs.close();

const plain = await startServer({ keyVault: { reader, refreshMs: 1000, allowedVaults: [`${vaultId("fleet-kv")}=*`] } });
await fleet(plain, false);
await timed("pass over a fleet without references", () => plain.keyVaultResolver?.runOnce() ?? Promise.resolve(undefined));
await plain.close();
await kv.stop();
