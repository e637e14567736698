/**
 * A benchmark-only service process: the real app (test/helpers/server.ts) with sealing off (plain
 * codec) or on (Key Vault provider pointed at the bench's stand-in). Prints one JSON line with its
 * URL, CA and token, then serves until killed. Never used outside bench/.
 * env: MODE=plain|local|sealed (local: sealing with the local key file), KV_URL, KV_TOKEN, KV_CA_FILE,
 * AGENT_STALENESS_MS (agent API staleness; the app default otherwise)
 */
import fs from "node:fs";
import type { TokenCredential } from "@azure/identity";
import { plainCodec } from "../src/ports/body-codec.js";
import { KeyVaultKeyProvider } from "../src/keys/key-vault.js";
import { startServer } from "../test/helpers/server.js";

const mode = process.env.MODE ?? "sealed";
const agent = process.env.AGENT_STALENESS_MS ? { stalenessMs: Number(process.env.AGENT_STALENESS_MS) } : undefined;
let server: Awaited<ReturnType<typeof startServer>>;
if (mode === "plain") server = await startServer({ codec: plainCodec, subscriptionCacheMs: 5000, agent });
else if (mode === "local") server = await startServer({ subscriptionCacheMs: 5000, agent });
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
  server = await startServer({ keyProvider, subscriptionCacheMs: 5000, agent });
}
// as in production (src/main.ts): the cross-replica change check and the assignment reconciler run
server.changeWatcher.start();
server.reconciler.start();
process.stdout.write(`${JSON.stringify({ url: server.url, ca: server.ca, token: server.token })}\n`);
// CPU time is steadier than throughput on a shared machine: the bench asks for it around each run
// (with resident memory and the store's call count, which bench/fleet.ts reads)
process.on("SIGUSR2", () => {
  const { user, system } = process.cpuUsage();
  process.stdout.write(`${JSON.stringify({ cpuMicros: user + system, rss: process.memoryUsage().rss, storeCalls: server.store.totalCalls() })}\n`);
});
process.on("SIGINT", () => process.exit(0));
process.on("SIGTERM", () => process.exit(0));
