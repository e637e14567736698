/**
 * The service process: configuration, TLS, auth, store, then listen. The only file that knows about
 * ports, signals and process exit.
 */
import { buildApp } from "./app.js";
import { createAuth } from "./auth/factory.js";
import { writeDevToken } from "./auth/dev-identity.js";
import { ConfigError, loadConfig } from "./config.js";
import { Metrics } from "./ops/metrics.js";
import { systemClock } from "./ports/clock.js";
import { ensureDir } from "./server/secure-files.js";
import { loadOrCreateSkipTokenKey } from "./server/skip-token-key.js";
import { loadOrCreateTls } from "./server/tls.js";
import { createStore } from "./store/factory.js";
import { InstrumentedStore } from "./store/instrumented.js";
import { createKeyProvider, createSealing } from "./keys/factory.js";

async function main(): Promise<void> {
  const config = loadConfig();
  ensureDir(config.dataDir);
  const clock = systemClock;
  const tls = await loadOrCreateTls(config.dataDir, config.tls);
  const auth = await createAuth(config, clock);
  const metrics = new Metrics({ processMetrics: true });
  const rawStore = await createStore(config.store, clock, { runMigrationsAtStartup: config.runMigrationsAtStartup });
  const store = new InstrumentedStore(rawStore, (op, engine, durationMs, outcome) => metrics.recordStoreCall(op, engine, durationMs, outcome));
  // every customer payload is sealed before it reaches the store (docs/design/encryption.md)
  const { codec } = createSealing(store, await createKeyProvider(config.encryption, clock), config.encryption, clock);
  const { app, readiness, sweeper, changeWatcher, reconciler } = await buildApp({
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
    metrics,
    https: { key: tls.key, cert: tls.cert },
    logLevel: config.logLevel,
  });

  const address = await app.listen({ port: config.port, host: config.host });
  // the 48-hour sweeper: one replica at a time (a lease), every PURGE_INTERVAL_SECONDS
  sweeper.start();
  // other replicas' writes reach this one's agent caches within AGENT_CACHE_STALENESS_MS
  changeWatcher.start();
  // configuration assignments reach their clusters: one replica at a time (a lease), in bounded batches
  reconciler.start();
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
