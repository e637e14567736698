/**
 * Assembles the service: plugins first (request context, errors, metrics), then the surfaces
 * (ops endpoints, documents, the ARM routes from their table). Knows nothing of listen or signals.
 */
import type https from "node:https";
import os from "node:os";
import { SecretsSweeper } from "./jobs/secrets-sweeper.js";
import { AssignmentReconciler, type ReconcilerOptions } from "./jobs/assignments/reconciler.js";
import { AgentKeyAudit } from "./jobs/agent-key-audit.js";
import { KeyVaultResolver, type KeyVaultReadAudit } from "./jobs/keyvault-resolver.js";
import type { SecretReader } from "./ports/secret-reader.js";
import type { VaultAccessChecker } from "./ports/vault-access.js";
import { AllowListVaultAccess, parseVaultAllowList } from "./domain/keyvault-trust.js";
import { Assignments } from "./domain/assignments.js";
import type { PurgeAudit } from "./domain/purge-audit.js";
import Fastify, { LogController, type FastifyHttpsOptions, type FastifyInstance, type FastifyServerOptions } from "fastify";
import type { DestinationStream } from "pino";
import { BODY_LIMIT_BYTES, clientErrorHandler, frameworkErrorHandler, MAX_PARAM_LENGTH, registerErrorHandling, registerJsonBodyParser } from "./arm/error-handler.js";
import { generateRequestId, registerRequestContext, requestLoggerFactory } from "./arm/request-context.js";
import { SkipTokens } from "./arm/skip-token.js";
import type { Authenticator } from "./ports/principal.js";
import { AgentAuthenticator } from "./surfaces/agent/agent-authenticator.js";
import { AgentReports } from "./domain/agent-reports.js";
import { ChangeBus } from "./domain/changes.js";
import { ChangeWatcher } from "./jobs/change-watcher.js";
import { Clusters } from "./domain/clusters.js";
import { DesiredState } from "./domain/desired-state.js";
import { registerAgentRoutes, type AgentServices } from "./surfaces/agent/routes.js";
import { Configurations } from "./domain/configurations.js";
import { FluxConfigurations } from "./domain/flux-configurations.js";
import { FluxMigrations, fluxV2SideOf } from "./domain/flux-migrations.js";
import { Persistence } from "./persistence/index.js";
import type { BodyCodec } from "./ports/body-codec.js";
import { Subscriptions } from "./domain/subscriptions.js";
import { registerDocs } from "./ops/docs.js";
import { registerHealth, type Readiness } from "./ops/health.js";
import { watchBreaker, watchStoreGuard, type StateLog } from "./ops/dependency-state.js";
import type { CircuitBreaker } from "./ports/circuit-breaker.js";
import type { GuardedStore } from "./store/guarded.js";
import { Metrics, registerMetrics } from "./ops/metrics.js";
import type { Clock } from "./ports/clock.js";
import type { Store } from "./store/port.js";
import "./surfaces/route-config.js";
import { allowedMethods, armRoutes, registerArmRoutes } from "./surfaces/arm/index.js";
import type { Services } from "./surfaces/services.js";
import { DEFAULTS, type Config } from "./config.js";

export interface AppOptions {
  store: Store;
  authenticator: Authenticator;
  clock: Clock;
  skipTokenKey: Buffer;
  pageSize: number;
  /** dev auth mode: a subscription is registered on its first write */
  autoRegisterSubscriptions: boolean;
  /** dev auth mode: the page at /docs offers a bearer field for the dev token (Azure AD sign-in cannot reach a dev service) */
  docsOfferBearer?: boolean;
  subscriptionCacheMs: number;
  /** region names a cluster may be created in (normalized or not); the Azure public regions by default */
  allowedLocations?: readonly string[];
  metrics: Metrics;
  codec?: BodyCodec;
  /** the agent API; defaults in DEFAULT_AGENT_OPTIONS */
  agent?: Partial<AgentOptions>;
  /** the 48-hour promise; defaults in DEFAULT_RETENTION_OPTIONS */
  retention?: Partial<RetentionOptions>;
  /** configuration assignment reconciler: pass interval, batch size, lease, compliance refresh */
  assignments?: Partial<AssignmentOptions>;
  https?: { key: string; cert: string };
  logLevel?: string;
  /** where log lines go (tests capture them); stdout by default */
  logStream?: DestinationStream;
  /** the store guard (deadline, breaker, write state) and other breakers: their state shows in /metrics, /readyz and one log line per change */
  faults?: { storeGuard?: GuardedStore; breakers?: CircuitBreaker[] };
  /**
   * Key Vault references: the allow-list (KEYVAULT_ALLOWED_VAULTS entries, `<vault id or /subscriptions/{id}>=<principals>`),
   * or `access`, a VaultAccessChecker used instead of it; the refresh interval; the reader (without one, no reference resolves)
   */
  keyVault?: Partial<Pick<Config["keyVaultReferences"], "refreshMs" | "allowedVaults">> & { reader?: SecretReader; access?: VaultAccessChecker };
}

/** the agent API (AGENT_* settings); stalenessMs: how stale an agent-facing cache may be across replicas (within one process it is exact) */
export type AgentOptions = Config["agent"];

/** the 48-hour promise (Config["retention"]) and the sweeper's batch and lease holder */
export type RetentionOptions = Config["retention"] & {
  sweepBatchSize: number;
  /** this replica's name for the sweeper lease */
  holder: string;
};

export type AssignmentOptions = Config["assignments"] & Omit<ReconcilerOptions, "holder">;

export const DEFAULT_RETENTION_OPTIONS: RetentionOptions = { ...DEFAULTS.retention, sweepBatchSize: 500, holder: `${os.hostname()}:${process.pid}` };

export const DEFAULT_ASSIGNMENT_OPTIONS: AssignmentOptions = { ...DEFAULTS.assignments };

export const DEFAULT_AGENT_OPTIONS: AgentOptions = { ...DEFAULTS.agent };

export interface App {
  /** not started here: main.ts starts it (replicas watching each other), single-process tests need none */
  changeWatcher: ChangeWatcher;
  app: FastifyInstance;
  services: Services;
  agentServices: AgentServices;
  /** not started here: main.ts starts it, tests drive runOnce() */
  sweeper: SecretsSweeper;
  /** not started here: main.ts starts it, tests drive runOnce() / settle() */
  reconciler: AssignmentReconciler;
  /** the start-up check of stored agent keys: main.ts runs it once after listen, tests call run() */
  agentKeyAudit: AgentKeyAudit;
  /** not started here: main.ts starts it (with a secret reader), tests start it or drive runOnce() */
  keyVaultResolver?: KeyVaultResolver;
  readiness: Readiness;
}

/** log redaction: secrets can never be written to a log line, even by a careless log call */
export const REDACT_PATHS = [
  "req.headers.authorization",
  "req.headers.cookie",
  "headers.authorization",
  "authorization",
  "token",
  "body",
  "*.body",
  "*.configurationProtectedSettings",
  "*.protectedSettings",
  "*.sshKnownHostsContents",
  /** Flux v2 (issue #16): gitRepository.sshKnownHosts */
  "*.sshKnownHosts",
  "*.sshPrivateKey",
  "*.httpsUser",
  "*.httpsKey",
  "properties.configurationProtectedSettings",
  "properties.sshKnownHostsContents",
];

const REDACTION = { paths: REDACT_PATHS, censor: "[redacted]" };

function loggerOptions(options: AppOptions): FastifyServerOptions["logger"] {
  const base = { level: options.logLevel ?? "info", redact: REDACTION };
  return options.logStream ? { ...base, stream: options.logStream } : base;
}

interface Built {
  services: Services;
  agentServices: AgentServices;
  sweeper: SecretsSweeper;
  changeWatcher: ChangeWatcher;
  reconciler: AssignmentReconciler;
  agentKeyAudit: AgentKeyAudit;
  keyVaultResolver?: KeyVaultResolver;
}

type LeveledLog = (level: "info" | "warn" | "error", message: string, fields: Record<string, unknown>) => void;

export function buildServices(
  options: AppOptions,
  audit: PurgeAudit,
  log: (message: string, fields: Record<string, unknown>) => void = () => undefined,
  leveledLog: LeveledLog = (_level, message, fields) => log(message, fields),
  readAudit: KeyVaultReadAudit = { read: (fields) => log("Key Vault secret read", { audit: "keyVaultSecretRead", ...fields }) },
): Built {
  const agent = { ...DEFAULT_AGENT_OPTIONS, ...options.agent };
  const retention = { ...DEFAULT_RETENTION_OPTIONS, ...options.retention };
  const bus = new ChangeBus();
  const repo = new Persistence(options.store, options.codec, { secretsRetentionMs: retention.secretsRetentionMs });
  const subscriptions = new Subscriptions(repo, options.clock, {
    autoRegister: options.autoRegisterSubscriptions,
    cacheMs: options.subscriptionCacheMs,
  }, bus);
  const reconciler = new AssignmentReconciler(repo, bus, options.clock, { ...DEFAULT_ASSIGNMENT_OPTIONS, ...options.assignments, holder: retention.holder }, log);
  const wake = () => reconciler.wake();
  const clusters = new Clusters(repo, subscriptions, bus, options.clock, agent.offlineAfterMs, wake, options.allowedLocations, {
    stalenessMs: agent.stalenessMs,
    maxClusters: agent.maxClusters,
  });
  // Key Vault references: resolved in the background with the service's identity, never in the poll path
  const keyVault = { refreshMs: DEFAULTS.keyVaultReferences.refreshMs, allowedVaults: [] as string[], ...options.keyVault };
  // who may have which vault read (checked at PUT and before every read); the operators' allow-list by default
  const access = keyVault.access ?? new AllowListVaultAccess(parseVaultAllowList(keyVault.allowedVaults));
  const resolveEveryMs = Math.max(100, Math.min(5000, Math.floor(keyVault.refreshMs / 2)));
  const keyVaultResolver = keyVault.reader
    ? new KeyVaultResolver(repo, bus, options.clock, keyVault.reader, {
        // a pass every resolveEveryMs, a read reused until a pass could otherwise see it later than refreshMs
        refreshMs: Math.max(1, keyVault.refreshMs - resolveEveryMs),
        intervalMs: resolveEveryMs,
        retentionMs: retention.secretsRetentionMs,
        holder: retention.holder,
        leaseMs: 30_000,
      }, readAudit, log, access)
    : undefined;
  const configurations = new Configurations(repo, subscriptions, clusters, options.clock, bus, wake, { access, wakeResolver: () => keyVaultResolver?.wake() });
  const fluxConfigurations = new FluxConfigurations(repo, subscriptions, clusters, options.clock, bus, { purgeAfterDelivery: retention.purgeAfterDelivery, audit });
  const services: Services = {
    authenticator: options.authenticator,
    subscriptions,
    clusters,
    configurations,
    fluxConfigurations,
    assignments: new Assignments(repo, subscriptions, wake, access),
    skipTokens: new SkipTokens(options.skipTokenKey),
    clock: options.clock,
    pageSize: options.pageSize,
    fluxMigrations: new FluxMigrations(repo, subscriptions, clusters, options.clock, bus, fluxV2SideOf(repo, fluxConfigurations), wake),
  };
  const agentServices: AgentServices = {
    authenticator: new AgentAuthenticator(repo, bus, options.clock, { audience: agent.audience, stalenessMs: agent.stalenessMs, maxClusters: agent.maxClusters }),
    desired: new DesiredState(repo, bus, options.clock, { stalenessMs: agent.stalenessMs, pollIntervalSeconds: agent.pollIntervalSeconds, maxClusters: agent.maxClusters }),
    reports: new AgentReports(repo, bus, options.clock, { purgeAfterDelivery: retention.purgeAfterDelivery, audit }),
    flux: fluxConfigurations,
  };
  const sweeper = new SecretsSweeper(repo, bus, options.clock, audit, {
    intervalMs: retention.sweepIntervalMs,
    batchSize: retention.sweepBatchSize,
    holder: retention.holder,
    leaseMs: Math.max(30_000, retention.sweepIntervalMs * 2),
  }, log);
  // 10,000 envelopes per look (keys only, no bodies): a 10,000-cluster assignment rollout changes ~1,000
  // markers per look, and a lower limit turned every look into a flush of every agent's cached state
  const changeWatcher = new ChangeWatcher(repo.changes, bus, options.clock, { intervalMs: agent.stalenessMs, overlapMs: 2000, limit: 10_000 });
  agentServices.desired.watcher = changeWatcher;
  agentServices.authenticator.watcher = changeWatcher;
  // one string per cluster key for both per-cluster caches of the agent path (the authenticator's is made first)
  agentServices.desired.sharedKey = (key) => agentServices.authenticator.heldKey(key);
  clusters.watcher = changeWatcher;
  const agentKeyAudit = new AgentKeyAudit(repo, bus, leveledLog);
  return { services, agentServices, sweeper, changeWatcher, reconciler, agentKeyAudit, keyVaultResolver };
}

export async function buildApp(options: AppOptions): Promise<App> {
  const serverOptions: FastifyServerOptions = {
    logger: loggerOptions(options),
    genReqId: generateRequestId,
    // the request's one child logger, with the correlation and client request ids bound
    childLoggerFactory: requestLoggerFactory(REDACTION),
    // one completion line per request is written by arm/request-context.ts instead of fastify's two
    logController: new LogController({ disableRequestLogging: true, requestIdLogLabel: "requestId" }),
    bodyLimit: BODY_LIMIT_BYTES,
    routerOptions: { caseSensitive: false, ignoreTrailingSlash: true, maxParamLength: MAX_PARAM_LENGTH },
    // fastify's and node's own refusals leave in ARM's shape too (see arm/error-handler.ts)
    frameworkErrors: frameworkErrorHandler,
    clientErrorHandler,
    // a request arriving while the server closes gets ARM's 503 from arm/error-handler.ts instead
    return503OnClosing: false,
    connectionTimeout: 120_000,
    requestTimeout: 60_000,
    keepAliveTimeout: 10_000,
  };
  // one instance type for both: the HTTPS server only differs in how it listens
  const app = options.https
    ? (Fastify({ ...serverOptions, https: { ...options.https, requireHostHeader: false } } as FastifyHttpsOptions<https.Server>) as unknown as FastifyInstance)
    : Fastify({ ...serverOptions, http: { requireHostHeader: false } });
  // audit lines and counts of every purge: names and ids only, never a value
  const audit: PurgeAudit = {
    purged: (resourceId, valueKinds, reason) => {
      app.log.info({ audit: "protectedSettingsPurged", resourceId, valueKinds, reason }, "protected settings purged");
      options.metrics.purged.inc({ reason }, 1);
    },
  };
  const { services, agentServices, sweeper, changeWatcher, reconciler, agentKeyAudit, keyVaultResolver } = buildServices(
    options,
    audit,
    (message, fields) => app.log.info(fields, message),
    (level, message, fields) => app.log[level](fields, message),
    // one audit line per vault read: vault, secret, version, outcome, how many clusters use it; never a value
    { read: (fields) => app.log.info({ audit: "keyVaultSecretRead", ...fields }, "Key Vault secret read") },
  );
  const guard = options.faults?.storeGuard;
  const readiness: Readiness = { draining: false, writesAvailable: guard ? () => guard.writesAvailable : undefined };
  const stateLog: StateLog = (level, message, fields) => app.log[level](fields, message);
  if (guard) watchStoreGuard(guard, options.metrics, stateLog);
  for (const breaker of options.faults?.breakers ?? []) watchBreaker(breaker, options.metrics, stateLog);

  registerRequestContext(app);
  registerErrorHandling(app, allowedMethods(armRoutes));
  registerJsonBodyParser(app);
  registerMetrics(app, options.metrics);
  registerHealth(app, options.store, readiness);
  await registerDocs(app, { offerBearer: options.docsOfferBearer ?? false });
  registerArmRoutes(app, armRoutes, services);
  registerAgentRoutes(app, agentServices);
  app.addHook("onClose", async () => {
    await sweeper.stop();
    await changeWatcher.stop();
    await reconciler.stop();
    await keyVaultResolver?.stop();
  });
  await app.ready();
  return { app, services, agentServices, sweeper, changeWatcher, reconciler, agentKeyAudit, keyVaultResolver, readiness };
}
