/**
 * Direct seeding for the fleet benches: clusters and their configurations written through the real
 * domain services (the same validation, sealing, markers and store as an ARM PUT: clusters.put and
 * configurations.put of the app test/helpers/server.ts builds) into a data directory, before the
 * service under test opens that same directory (bench/serve.ts with BENCH_DATA_DIR: same SQLite file,
 * same local key file). No HTTPS, no ARM request path: ~10-20x faster than PUTs over the API, so
 * 50,000 clusters take minutes, not half an hour.
 *
 * Each agent's key is kept in <dataDir>/agents.txt, one line per cluster:
 * "<cluster id> <base64 PKCS#8 P-256 private key>[ kh]" (kh: its configuration carries known_hosts,
 * so its snapshot holds a JWE). A seeded directory can be kept and copied (copySeeded) instead of
 * seeding again; /tmp directories made by an earlier run of this file (or the same format) work.
 */
import crypto from "node:crypto";
import fs from "node:fs";
import path from "node:path";
import { Writable } from "node:stream";
import { SignJWT } from "jose";
import { clusterRef, configurationRef } from "../src/arm/resource-ids.js";
import { writeActor } from "../src/arm/system-data.js";
import { startServer } from "../test/helpers/server.js";
import type { TestAgent } from "../test/helpers/agent-token.js";
import { clusterBody, clusterPath, configurationBody, knownHostsB64 } from "../test/helpers/fixtures.js";

export const SUBS = Array.from({ length: 4 }, (_, i) => `00000000-0000-0000-0000-${String(100 + i).padStart(12, "0")}`);
export const RGS = ["fleet-a", "fleet-b", "fleet-c", "fleet-d"];

/** where member i of a fleet lives (the same layout bench:fleet registers over HTTPS) */
export function placement(i: number): { name: string; sub: string; rg: string; id: string } {
  const sub = SUBS[i % SUBS.length] as string;
  const rg = RGS[Math.floor(i / SUBS.length) % RGS.length] as string;
  const name = `c${String(i).padStart(6, "0")}`;
  return { name, sub, rg, id: clusterPath(name, sub, rg) };
}

/** an agent whose ES256 private key was kept (PKCS#8 DER, base64) */
export function agentFromKey(pkcs8B64: string): TestAgent {
  const privateKey = crypto.createPrivateKey({ key: Buffer.from(pkcs8B64, "base64"), format: "der", type: "pkcs8" });
  const publicKeyB64 = crypto.createPublicKey(privateKey).export({ format: "der", type: "spki" }).toString("base64");
  return {
    privateKey,
    publicKeyB64,
    alg: "ES256",
    async token(clusterId, options = {}) {
      const iat = options.iat ?? Math.floor(Date.now() / 1000);
      return new SignJWT({})
        .setProtectedHeader({ alg: "ES256" })
        .setSubject(clusterId)
        .setAudience(options.audience ?? "kubernetesconfiguration-agent")
        .setIssuedAt(iat)
        .setExpirationTime(iat + (options.lifetimeSeconds ?? 300))
        .sign(privateKey);
    },
  };
}

export interface SeededAgent {
  id: string;
  name: string;
  sub: string;
  rg: string;
  agent: TestAgent;
  knownHosts: boolean;
}

/** the agents of a seeded directory, in seeding order */
export function readSeeded(dataDir: string, limit = Number.POSITIVE_INFINITY): SeededAgent[] {
  const file = path.join(dataDir, "agents.txt");
  if (!fs.existsSync(file)) return [];
  const out: SeededAgent[] = [];
  for (const line of fs.readFileSync(file, "utf8").split("\n")) {
    if (out.length >= limit) break;
    const [id, key, flag] = line.trim().split(" ");
    if (!id || !key) continue;
    // lines are in completion order, not seeding order: where the cluster lives is read from its id
    const m = /^\/subscriptions\/([^/]+)\/resourceGroups\/([^/]+)\/providers\/Microsoft\.Kubernetes\/connectedClusters\/([^/]+)$/.exec(id);
    if (!m) throw new Error(`agents.txt: not a cluster id: ${id}`);
    out.push({ id, sub: m[1] as string, rg: m[2] as string, name: m[3] as string, agent: agentFromKey(key), knownHosts: flag === "kh" });
  }
  return out;
}

export const seededCount = (dataDir: string): number => {
  const file = path.join(dataDir, "agents.txt");
  return fs.existsSync(file) ? fs.readFileSync(file, "utf8").split("\n").filter((l) => l.trim()).length : 0;
};

/**
 * Seeds clusters [from, from + count) into dataDir (created if missing; the service must not be running
 * on it): each with its own P-256 key and one configuration "cfg" (known_hosts on every 10th, as
 * bench:fleet). Appends to agents.txt. Returns clusters/s.
 */
export async function seedFleet(dataDir: string, from: number, count: number, options: { concurrency?: number; progress?: (done: number, seconds: number) => void } = {}): Promise<number> {
  fs.mkdirSync(dataDir, { recursive: true });
  // the seeding app's log lines are dropped (the test helper would keep every line in memory)
  const sink = new Writable({ write: (_c, _e, done) => done() });
  const server = await startServer({ dataDir, logStream: sink });
  try {
    const principal = await server.services.authenticator.authenticate(`Bearer ${server.token}`);
    const out = fs.createWriteStream(path.join(dataDir, "agents.txt"), { flags: "a" });
    const t0 = performance.now();
    let next = from;
    let done = 0;
    const worker = async () => {
      while (next < from + count) {
        const i = next++;
        const { name, sub, rg } = placement(i);
        const pair = crypto.generateKeyPairSync("ec", { namedCurve: "P-256" });
        const pub = pair.publicKey.export({ format: "der", type: "spki" }).toString("base64");
        const ref = clusterRef(sub, rg, name);
        const actor = writeActor(undefined, principal, new Date().toISOString());
        await server.services.clusters.put(principal, ref, clusterBody(pub), {}, actor);
        const kh = i % 10 === 0;
        const body = configurationBody({ operatorParams: "--git-readonly", ...(kh ? { sshKnownHostsContents: knownHostsB64() } : {}) });
        await server.services.configurations.put(principal, configurationRef(ref, "cfg"), body, {}, actor);
        out.write(`${placement(i).id} ${pair.privateKey.export({ format: "der", type: "pkcs8" }).toString("base64")}${kh ? " kh" : ""}\n`);
        done++;
        options.progress?.(done, (performance.now() - t0) / 1000);
      }
    };
    await Promise.all(Array.from({ length: options.concurrency ?? 16 }, worker));
    await new Promise<void>((resolve) => out.end(resolve));
    return count / ((performance.now() - t0) / 1000);
  } finally {
    await server.close();
  }
}

/** copies a seeded directory (store, keys, TLS, dev identity, agents.txt) to a fresh one the service may write */
export function copySeeded(from: string, to: string): void {
  fs.cpSync(from, to, {
    recursive: true,
    filter: (src) => {
      const rel = path.relative(from, src);
      return rel === "" || ["store.db", "store.db-wal", "store.db-shm", "agents.txt", "keys", "tls", "auth", "dev-token"].includes(rel.split(path.sep)[0] ?? "");
    },
  });
}
