/**
 * Starts the real service over HTTPS on 127.0.0.1:0 with a temporary DATA_DIR: self-signed TLS,
 * dev auth identity, the chosen store, captured log lines. Tests talk to it as clients would.
 */
import fs from "node:fs";
import os from "node:os";
import path from "node:path";
import { Writable } from "node:stream";
import type { DestinationStream } from "pino";
import { buildApp, type AgentOptions, type AppOptions, type AssignmentOptions, type App, type RetentionOptions } from "../../src/app.js";
import { GuardedStore } from "../../src/store/guarded.js";
import { loadOrCreateDevIdentity, DEV_AUDIENCE, DEV_ISSUER, type DevIdentity } from "../../src/auth/dev-identity.js";
import { JwtAuthenticator } from "../../src/auth/jwt-authenticator.js";
import type { Authenticator } from "../../src/ports/principal.js";
import { Metrics } from "../../src/ops/metrics.js";
import { ManualClock, systemClock, type Clock } from "../../src/ports/clock.js";
import { loadOrCreateTls } from "../../src/server/tls.js";
import { createStore } from "../../src/store/factory.js";
import { InstrumentedStore } from "../../src/store/instrumented.js";
import type { Store } from "../../src/store/port.js";
import type { BodyCodec } from "../../src/ports/body-codec.js";
import type { DataKeys } from "../../src/crypto/data-keys.js";
import { createSealing } from "../../src/keys/factory.js";
import { LocalKeyFileProvider } from "../../src/keys/local-key-file.js";
import type { KeyProvider } from "../../src/ports/key-provider.js";

export interface TestServer extends App {
  url: string;
  ca: string;
  certFile: string;
  dataDir: string;
  identity: DevIdentity;
  token: string;
  store: InstrumentedStore;
  metrics: Metrics;
  logs: string[];
  clock: Clock;
  dataKeys?: DataKeys;
  keyProvider?: KeyProvider;
  /** the codec the service seals bodies with (test helpers that read records: helpers/reconciler.ts) */
  codec?: BodyCodec;
  /** set and unset by tests: called after each cluster a rollout batch applied (a throw is a crash there) */
  reconcilerHooks: ReconcilerHooks;
  close(): Promise<void>;
}

export interface ReconcilerHooks {
  afterApply?: (clusterKey: string) => void | Promise<void>;
}

export interface TestServerOptions {
  /** a store to use instead of a fresh SQLite file (e.g. Cosmos against the test server) */
  store?: Store;
  dataDir?: string;
  pageSize?: number;
  clock?: Clock;
  authenticator?: Authenticator;
  autoRegisterSubscriptions?: boolean;
  /** whether /docs offers the dev bearer field (main.ts: in dev auth mode) */
  docsOfferBearer?: boolean;
  trustedCallers?: string[];
  /** the KEK; a local key file under the data directory by default */
  keyProvider?: KeyProvider;
  /** how long a subscription's registration may be served from memory (0 in tests: every request reads it) */
  subscriptionCacheMs?: number;
  /** region names a cluster may be created in (the Azure public regions by default) */
  allowedLocations?: string[];
  /** retention of protected settings, purge options */
  retention?: Partial<RetentionOptions>;
  /** agent API settings (staleness, poll interval, offline threshold) */
  agent?: Partial<AgentOptions>;
  /** a codec instead of sealing (benchmarks comparing with and without encryption) */
  codec?: BodyCodec;
  /** the assignment reconciler's settings (not started: tests call settle() from helpers/reconciler.ts, runOnce() or start()) */
  assignments?: Partial<AssignmentOptions>;
  /** breakers to watch; a GuardedStore given as `store` is watched (metrics, readiness, state lines) by itself */
  faults?: AppOptions["faults"];
  /** a log destination instead of the capture into `logs` (log sink faults) */
  logStream?: DestinationStream;
  /** Key Vault references: allow-list, refresh interval, secret reader (the resolver is not started: tests start it or call runOnce()) */
  keyVault?: AppOptions["keyVault"];
}

export function tempDir(prefix = "kcrp-"): string {
  return fs.mkdtempSync(path.join(os.tmpdir(), prefix));
}

export async function startServer(options: TestServerOptions = {}): Promise<TestServer> {
  const dataDir = options.dataDir ?? tempDir();
  const clock = options.clock ?? systemClock;
  const tls = await loadOrCreateTls(dataDir, {});
  const identity = await loadOrCreateDevIdentity(dataDir);
  const authenticator =
    options.authenticator ??
    new JwtAuthenticator(
      { mode: "dev", issuer: DEV_ISSUER, audience: DEV_AUDIENCE, key: identity.publicKey, trustedCallers: [identity.objectId, ...(options.trustedCallers ?? [])] },
      () => clock.now(),
    );
  const raw = options.store ?? (await createStore({ engine: "sqlite", path: path.join(dataDir, "store.db") }, clock, { runMigrationsAtStartup: true }));
  const metrics = new Metrics();
  const store = new InstrumentedStore(raw, (op, engine, ms, outcome) => metrics.recordStoreCall(op, engine, ms, outcome));
  const logs: string[] = [];
  const logStream = new Writable({
    write(chunk: Buffer, _enc, done) {
      logs.push(chunk.toString("utf8"));
      done();
    },
  });
  const keyProvider = options.codec ? undefined : (options.keyProvider ?? new LocalKeyFileProvider(path.join(dataDir, "keys", "kek.json")));
  const sealing = keyProvider ? createSealing(store, keyProvider, { dekCacheEntries: 10_000, dekCacheSeconds: 3600 }, clock) : undefined;
  const codec = options.codec ?? sealing?.codec;
  // the reconciler's observer seam, forwarded to whatever the test installs at the time
  const reconcilerHooks: ReconcilerHooks = {};
  const onApplied = options.assignments?.onApplied ?? ((key: string) => reconcilerHooks.afterApply?.(key));
  const built = await buildApp({
    store,
    codec,
    agent: options.agent,
    retention: options.retention,
    assignments: { ...options.assignments, onApplied },
    authenticator,
    clock,
    skipTokenKey: Buffer.alloc(32, 7),
    pageSize: options.pageSize ?? 100,
    autoRegisterSubscriptions: options.autoRegisterSubscriptions ?? true,
    docsOfferBearer: options.docsOfferBearer ?? true,
    subscriptionCacheMs: options.subscriptionCacheMs ?? 0,
    allowedLocations: options.allowedLocations,
    metrics,
    https: { key: tls.key, cert: tls.cert },
    logLevel: "info",
    logStream: options.logStream ?? logStream,
    faults: { ...options.faults, ...(raw instanceof GuardedStore ? { storeGuard: raw } : {}) },
    ...(options.keyVault ? { keyVault: options.keyVault } : {}),
  });
  const address = await built.app.listen({ port: 0, host: "127.0.0.1" });
  const token = await identity.mint({ now: clock.now() });
  return {
    ...built,
    url: address,
    ca: tls.cert,
    certFile: tls.certFile,
    dataDir,
    identity,
    token,
    store,
    metrics,
    logs,
    clock,
    dataKeys: sealing?.dataKeys,
    keyProvider,
    codec,
    reconcilerHooks,
    async close() {
      await built.app.close();
      await store.close();
    },
  };
}

export { ManualClock };
