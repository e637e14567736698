/**
 * The service process: configuration, TLS, auth, store, then listen. The only file that knows about
 * ports, signals and process exit.
 */
import { buildApp } from "./app.js";
import { createAuth } from "./auth/factory.js";
import { writeDevToken } from "./auth/dev-identity.js";
import { ConfigError, loadConfig, type StoreSettings } from "./config.js";
import { Metrics } from "./ops/metrics.js";
import { systemClock } from "./ports/clock.js";
import { ensureDir } from "./server/secure-files.js";
import { loadOrCreateSkipTokenKey } from "./server/skip-token-key.js";
import { loadOrCreateTls } from "./server/tls.js";
import { createStore } from "./store/factory.js";
import { GuardedStore } from "./store/guarded.js";
import { InstrumentedStore } from "./store/instrumented.js";
import { OpeningStore } from "./store/opening.js";
import { CircuitBreaker } from "./ports/circuit-breaker.js";
import { fdWriter, SafeLogSink } from "./ops/log-sink.js";
import type { StateLog } from "./ops/dependency-state.js";
import { createKeyProvider, createSealing, createSecretReader } from "./keys/factory.js";

async function main(): Promise<void> {
  const config = loadConfig();
  ensureDir(config.dataDir);
  const clock = systemClock;
  const tls = await loadOrCreateTls(config.dataDir, config.tls);
  const auth = await createAuth(config, clock);
  const metrics = new Metrics({ processMetrics: true });
  // a log sink that cannot be written (full disk, closed pipe) drops and counts, never stops the service
  const logSink = new SafeLogSink(fdWriter(1), { onDrop: (lines) => metrics.logLinesDropped.inc(lines) });
  // the opening store logs through the app's logger once it exists
  let event: StateLog = () => undefined;
  // the service's Cosmos DB client gives up on an attempt at the store deadline (the CLIs keep the SDK's own)
  const storeSettings: StoreSettings = config.store.engine === "cosmos" ? { ...config.store, requestTimeoutMs: config.faults.storeTimeoutMs } : config.store;
  // the store opens in the background: the process starts (and /healthz answers) while it is down
  const opening = new OpeningStore(config.store.engine, () => createStore(storeSettings, clock, { runMigrationsAtStartup: config.runMigrationsAtStartup }), {
    retryMs: config.faults.breaker.openMs,
    maxRetryMs: config.faults.breaker.maxOpenMs,
    log: (level, message, fields) => event(level, message, fields),
  });
  // deadline and circuit breaker on every store call; the write-degraded state (docs/design/faults.md)
  const guarded = new GuardedStore(opening, { deadlineMs: config.faults.storeTimeoutMs, breaker: new CircuitBreaker("store", config.faults.breaker) });
  const store = new InstrumentedStore(guarded, (op, engine, durationMs, outcome) => metrics.recordStoreCall(op, engine, durationMs, outcome));
  const keyProvider = await createKeyProvider(config.encryption, clock, config.faults);
  // every customer payload is sealed before it reaches the store (docs/design/encryption.md)
  const { codec } = createSealing(store, keyProvider, config.encryption, clock);
  const secretReader = await createSecretReader(config.keyVaultReferences, config.faults);
  const { app, readiness, sweeper, changeWatcher, reconciler, agentKeyAudit, keyVaultResolver } = await buildApp({
    store,
    codec,
    agent: config.agent,
    retention: config.retention,
    assignments: config.assignments,
    authenticator: auth.authenticator,
    clock,
    skipTokenKey: loadOrCreateSkipTokenKey(config.dataDir, config.skipTokenKey),
    pageSize: config.pageSize,
    autoRegisterSubscriptions: config.auth.mode === "dev",
    docsOfferBearer: config.auth.mode === "dev",
    subscriptionCacheMs: config.subscriptionCacheSeconds * 1000,
    allowedLocations: config.allowedLocations,
    metrics,
    https: { key: tls.key, cert: tls.cert },
    logLevel: config.logLevel,
    logStream: logSink,
    faults: { storeGuard: guarded, breakers: keyProvider.breaker ? [keyProvider.breaker] : [] },
    keyVault: { refreshMs: config.keyVaultReferences.refreshMs, allowedVaults: config.keyVaultReferences.allowedVaults, ...(secretReader ? { reader: secretReader } : {}) },
  });
  event = (level, message, fields) => app.log[level](fields, message);

  const address = await app.listen({ port: config.port, host: config.host });
  // the first attempt before the jobs start; if it fails, /readyz says 503 with the reason until one succeeds
  await opening.start();
  // the 48-hour sweeper: one replica at a time (a lease), every PURGE_INTERVAL_SECONDS
  sweeper.start();
  // other replicas' writes reach this one's agent caches within AGENT_CACHE_STALENESS_MS
  changeWatcher.start();
  // configuration assignments reach their clusters: one replica at a time (a lease), in bounded batches
  reconciler.start();
  // Key Vault references are read, renewed before they expire and re-checked for rotation: one replica at a time
  keyVaultResolver?.start();
  // stored agent keys that held their private half are rewritten and refused (the read paths refuse
  // them already, so requests need not wait for this walk); a store that is down delays it, it is retried
  const auditAgentKeys = (): void => {
    agentKeyAudit.run().catch((err: unknown) => {
      app.log.warn({ error: (err as Error).message }, "agent key check failed; retrying in 30 s");
      setTimeout(auditAgentKeys, 30_000).unref();
    });
  };
  auditAgentKeys();
  app.log.info({ address, store: config.store.engine, auth: config.auth.mode }, "service listening");
  if (auth.devIdentity) {
    const tokenFile = await writeDevToken(config.dataDir, auth.devIdentity);
    app.log.info(
      { tokenFile, certFile: tls.certFile },
      `dev auth mode: curl --cacert ${tls.certFile} -H "Authorization: Bearer $(cat ${tokenFile})" "${address.replace("0.0.0.0", "127.0.0.1")}/providers/Microsoft.KubernetesConfiguration/operations?api-version=2024-11-01"`,
    );
  }

  let stopping = false;
  const stop = async (signal: string) => {
    if (stopping) return;
    stopping = true;
    readiness.draining = true;
    app.log.info({ signal }, "shutting down: finishing in-flight requests");
    const force = setTimeout(() => {
      app.log.error("in-flight requests did not finish in time; exiting");
      process.exit(1);
    }, config.shutdownGraceMs);
    force.unref();
    await app.close();
    await store.close();
    app.log.info("stopped");
    await logSink.drain(1000);
    process.exit(0);
  };
  process.on("SIGTERM", () => void stop("SIGTERM"));
  process.on("SIGINT", () => void stop("SIGINT"));
}

main().catch((err: unknown) => {
  const message = err instanceof ConfigError ? `configuration error: ${err.message}` : err instanceof Error ? err.stack ?? err.message : String(err);
  process.stderr.write(`${message}\n`);
  process.exit(1);
});
