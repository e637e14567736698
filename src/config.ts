/**
 * Configuration from the environment, parsed and checked once at start-up.
 * Every knob is listed in README.md; an invalid value stops the service with a clear message.
 */
import path from "node:path";
import { AZURE_PUBLIC_REGIONS, normalizeLocation } from "./arm/shapes.js";
import { SECRETS_RETENTION_MAX_MS } from "./persistence/index.js";
import { formatVaultAllowEntry, parseVaultAllowList, VaultAllowListError } from "./domain/keyvault-trust.js";

/**
 * Every default, declared once: the environment's fallbacks (loadConfig) and the defaults of buildApp's
 * options (src/app.ts derives its option types and DEFAULT_*_OPTIONS from these) are the same values.
 * Durations are in milliseconds here, whatever unit their environment variable uses.
 */
export const DEFAULTS = {
  host: "127.0.0.1",
  port: 8443,
  dataDir: ".data",
  pageSize: 100,
  logLevel: "info",
  subscriptionCacheMs: 5000,
  shutdownGraceMs: 10_000,
  encryption: { dekCacheEntries: 10_000, dekCacheMs: 3_600_000, kekRefreshMs: 60_000 },
  faults: { storeTimeoutMs: 3000, keyVaultTimeoutMs: 3000, jwksTimeoutMs: 3000, breakerFailures: 5, breakerOpenMs: 1000, breakerMaxOpenMs: 10_000 },
  cosmos: { database: "kubernetesconfiguration", container: "resources" },
  // maxClusters: the fleet one replica serves; the agent-facing caches hold one entry per cluster
  agent: { audience: "kubernetesconfiguration-agent", stalenessMs: 5000, pollIntervalSeconds: 30, offlineAfterMs: 300_000, maxClusters: 100_000 },
  // the 48-hour promise is the default and the most allowed (the domain owns it)
  retention: { secretsRetentionMs: SECRETS_RETENTION_MAX_MS, purgeAfterDelivery: false, sweepIntervalMs: 60_000 },
  assignments: { intervalMs: 1000, batchSize: 100, complianceIntervalMs: 10_000, leaseMs: 30_000 },
  // Key Vault references (issue #14): how long a read secret is reused (an unversioned reference's rotation arrives within it)
  keyVaultReferences: { refreshMs: 300_000, urlTemplate: "https://{name}.vault.azure.net" },
} as const;

const seconds = (ms: number): number => ms / 1000;

export interface ProductionAuthConfig {
  mode: "production";
  issuer: string;
  audience: string;
  jwksUrl: string;
  /** object ids or app ids allowed to send subscription lifecycle notifications */
  trustedCallers: string[];
}

export interface DevAuthConfig {
  mode: "dev";
  /** extra trusted callers besides the dev token's own identity */
  trustedCallers: string[];
}

export type StoreSettings =
  | { engine: "sqlite"; path: string }
  | {
      engine: "cosmos";
      endpoint: string;
      key: string;
      database: string;
      container: string;
      caCertFile?: string;
      rejectUnauthorized?: boolean;
      /** the client's own per-attempt timeout (the store guard's deadline answers the caller in any case) */
      requestTimeoutMs?: number;
    };

export type KeyProviderSettings =
  | { kind: "local"; file: string }
  | { kind: "keyvault"; vaultUrl: string; keyName: string };

export interface EncryptionSettings {
  keyProvider: KeyProviderSettings;
  /** unwrapped DEKs kept in memory: at most this many ... */
  dekCacheEntries: number;
  /** ... for at most this long */
  dekCacheSeconds: number;
  /** how often the current KEK version is read again (a rotation takes effect within this) */
  kekRefreshSeconds: number;
}

/** deadlines of outbound calls and the circuit breakers in front of dependencies (docs/design/faults.md) */
export interface FaultSettings {
  storeTimeoutMs: number;
  keyVaultTimeoutMs: number;
  jwksTimeoutMs: number;
  breaker: { failureThreshold: number; openMs: number; maxOpenMs: number };
}

export interface Config {
  faults: FaultSettings;
  host: string;
  port: number;
  dataDir: string;
  tls: { certFile?: string; keyFile?: string };
  auth: ProductionAuthConfig | DevAuthConfig;
  store: StoreSettings;
  runMigrationsAtStartup: boolean;
  pageSize: number;
  encryption: EncryptionSettings;
  agent: Widen<typeof DEFAULTS.agent>;
  retention: Widen<typeof DEFAULTS.retention>;
  /** configuration assignment reconciler (issue #6) */
  assignments: Widen<typeof DEFAULTS.assignments>;
  logLevel: string;
  /** base64 of 32 bytes sealing $skipToken values; generated under DATA_DIR when absent (set it when running several replicas) */
  skipTokenKey?: string;
  /** seconds a subscription registration may be served from memory before it is read again */
  subscriptionCacheSeconds: number;
  /** how long SIGTERM waits for in-flight requests before closing anyway */
  shutdownGraceMs: number;
  /** region names a connected cluster may be created in, normalized (`East US` -> `eastus`) */
  allowedLocations: string[];
  /** Key Vault references (docs/design/keyvault-references.md) */
  keyVaultReferences: KeyVaultReferenceSettings;
}

export interface KeyVaultReferenceSettings {
  /** KEYVAULT_SECRET_REFRESH_SECONDS */
  refreshMs: number;
  /** KEYVAULT_URL_TEMPLATE: a vault's URL from its name (`{name}`) */
  urlTemplate: string;
  /**
   * KEYVAULT_ALLOWED_VAULTS, each entry canonical (lower-cased, principals prefixed): `<vault id or
   * /subscriptions/{id}>=oid:<objectId>|appid:<appId>…`, or `<scope>=*` (src/domain/keyvault-trust.ts)
   */
  allowedVaults: string[];
}

function keyVaultReferenceConfig(env: Env): KeyVaultReferenceSettings {
  const urlTemplate = env.KEYVAULT_URL_TEMPLATE ?? DEFAULTS.keyVaultReferences.urlTemplate;
  if (!urlTemplate.startsWith("https://") || !urlTemplate.includes("{name}")) throw new ConfigError("KEYVAULT_URL_TEMPLATE must be an https:// URL containing {name}");
  let allowedVaults: string[];
  try {
    allowedVaults = parseVaultAllowList((env.KEYVAULT_ALLOWED_VAULTS ?? "").split(",")).map(formatVaultAllowEntry);
  } catch (err) {
    if (err instanceof VaultAllowListError) throw new ConfigError(`KEYVAULT_ALLOWED_VAULTS: ${err.message}`);
    throw err;
  }
  return { refreshMs: intVar(env, "KEYVAULT_SECRET_REFRESH_SECONDS", seconds(DEFAULTS.keyVaultReferences.refreshMs), 1, 86_400) * 1000, urlTemplate, allowedVaults };
}

/** the type of a defaults group with its literal types widened (a default of 30 stands for any number) */
export type Widen<T> = { -readonly [K in keyof T]: T[K] extends string ? string : T[K] extends number ? number : T[K] extends boolean ? boolean : T[K] };

type Env = Record<string, string | undefined>;

export class ConfigError extends Error {
  constructor(message: string) {
    super(message);
    this.name = "ConfigError";
  }
}

function intVar(env: Env, name: string, fallback: number, min: number, max: number): number {
  const raw = env[name];
  if (raw === undefined || raw === "") return fallback;
  const value = Number(raw);
  if (!Number.isInteger(value) || value < min || value > max) {
    throw new ConfigError(`${name} must be an integer from ${min} to ${max}`);
  }
  return value;
}

function boolVar(env: Env, name: string, fallback: boolean): boolean {
  const raw = env[name]?.toLowerCase();
  if (raw === undefined || raw === "") return fallback;
  if (["1", "true", "yes"].includes(raw)) return true;
  if (["0", "false", "no"].includes(raw)) return false;
  throw new ConfigError(`${name} must be true or false`);
}

function listVar(env: Env, name: string): string[] {
  return (env[name] ?? "")
    .split(",")
    .map((s) => s.trim())
    .filter((s) => s.length > 0);
}

/** ALLOWED_LOCATIONS: comma-separated region names, compared as ARM normalizes them; the Azure public regions when unset */
function locationsVar(env: Env): string[] {
  const listed = listVar(env, "ALLOWED_LOCATIONS").map(normalizeLocation);
  if (listed.some((l) => !/^[a-z0-9]{1,64}$/.test(l))) throw new ConfigError("ALLOWED_LOCATIONS must be a comma-separated list of region names such as eastus,westeurope");
  return listed.length > 0 ? listed : [...AZURE_PUBLIC_REGIONS];
}

function authConfig(env: Env): Config["auth"] {
  const issuer = env.AUTH_ISSUER;
  const audience = env.AUTH_AUDIENCE;
  const jwksUrl = env.AUTH_JWKS_URL;
  const trustedCallers = listVar(env, "TRUSTED_CALLERS");
  const given = [issuer, audience, jwksUrl].filter((v) => v !== undefined && v !== "").length;
  if (given === 0) return { mode: "dev", trustedCallers };
  if (given !== 3 || !issuer || !audience || !jwksUrl) {
    throw new ConfigError("AUTH_ISSUER, AUTH_AUDIENCE and AUTH_JWKS_URL must be set together (or none of them for dev auth mode)");
  }
  if (!jwksUrl.startsWith("https://")) throw new ConfigError("AUTH_JWKS_URL must be an https:// URL");
  return { mode: "production", issuer, audience, jwksUrl, trustedCallers };
}

function encryptionConfig(env: Env, dataDir: string): EncryptionSettings {
  const kind = (env.KEY_PROVIDER ?? "local").toLowerCase();
  let keyProvider: KeyProviderSettings;
  if (kind === "local") keyProvider = { kind, file: env.KEY_FILE ?? path.join(dataDir, "keys", "kek.json") };
  else if (kind === "keyvault") {
    const vaultUrl = env.KEY_VAULT_URL;
    const keyName = env.KEY_VAULT_KEY_NAME;
    if (!vaultUrl || !keyName) throw new ConfigError("KEY_PROVIDER=keyvault needs KEY_VAULT_URL and KEY_VAULT_KEY_NAME");
    if (!vaultUrl.startsWith("https://")) throw new ConfigError("KEY_VAULT_URL must be an https:// URL");
    keyProvider = { kind, vaultUrl, keyName };
  } else throw new ConfigError("KEY_PROVIDER must be local or keyvault");
  return {
    keyProvider,
    dekCacheEntries: intVar(env, "DEK_CACHE_ENTRIES", DEFAULTS.encryption.dekCacheEntries, 1, 10_000_000),
    dekCacheSeconds: intVar(env, "DEK_CACHE_SECONDS", seconds(DEFAULTS.encryption.dekCacheMs), 1, 86_400),
    kekRefreshSeconds: intVar(env, "KEK_REFRESH_SECONDS", seconds(DEFAULTS.encryption.kekRefreshMs), 1, 86_400),
  };
}

function storeConfig(env: Env, dataDir: string): StoreSettings {
  const engine = (env.STORE ?? "sqlite").toLowerCase();
  if (engine === "sqlite") return { engine, path: env.SQLITE_PATH ?? path.join(dataDir, "store.db") };
  if (engine !== "cosmos") throw new ConfigError("STORE must be sqlite or cosmos");
  const endpoint = env.COSMOS_ENDPOINT;
  const key = env.COSMOS_KEY;
  if (!endpoint || !key) throw new ConfigError("STORE=cosmos needs COSMOS_ENDPOINT and COSMOS_KEY");
  return {
    engine,
    endpoint,
    key,
    database: env.COSMOS_DATABASE ?? DEFAULTS.cosmos.database,
    container: env.COSMOS_CONTAINER ?? DEFAULTS.cosmos.container,
    caCertFile: env.COSMOS_CA_FILE,
    rejectUnauthorized: boolVar(env, "COSMOS_REJECT_UNAUTHORIZED", true),
  };
}

function faultConfig(env: Env): FaultSettings {
  const openMs = intVar(env, "BREAKER_OPEN_MS", DEFAULTS.faults.breakerOpenMs, 50, 600_000);
  return {
    storeTimeoutMs: intVar(env, "STORE_TIMEOUT_MS", DEFAULTS.faults.storeTimeoutMs, 50, 600_000),
    keyVaultTimeoutMs: intVar(env, "KEY_VAULT_TIMEOUT_MS", DEFAULTS.faults.keyVaultTimeoutMs, 50, 600_000),
    jwksTimeoutMs: intVar(env, "AUTH_JWKS_TIMEOUT_MS", DEFAULTS.faults.jwksTimeoutMs, 50, 600_000),
    breaker: {
      failureThreshold: intVar(env, "BREAKER_FAILURES", DEFAULTS.faults.breakerFailures, 1, 1000),
      openMs,
      maxOpenMs: Math.max(openMs, intVar(env, "BREAKER_MAX_OPEN_MS", DEFAULTS.faults.breakerMaxOpenMs, 50, 3_600_000)),
    },
  };
}

export function loadConfig(env: Env = process.env): Config {
  const dataDir = path.resolve(env.DATA_DIR ?? DEFAULTS.dataDir);
  const faults = faultConfig(env);
  const store = storeConfig(env, dataDir);
  const certFile = env.TLS_CERT_FILE;
  const keyFile = env.TLS_KEY_FILE;
  if (Boolean(certFile) !== Boolean(keyFile)) throw new ConfigError("TLS_CERT_FILE and TLS_KEY_FILE must be set together");
  return {
    faults,
    host: env.HOST ?? DEFAULTS.host,
    port: intVar(env, "PORT", DEFAULTS.port, 0, 65535),
    dataDir,
    tls: { certFile, keyFile },
    auth: authConfig(env),
    store,
    // The embedded store is always migrated; a shared Cosmos account is migrated only when asked.
    runMigrationsAtStartup: boolVar(env, "RUN_MIGRATIONS", store.engine === "sqlite"),
    pageSize: intVar(env, "PAGE_SIZE", DEFAULTS.pageSize, 1, 1000),
    encryption: encryptionConfig(env, dataDir),
    retention: {
      // at most 48 hours: a longer window would break the promise the service makes
      secretsRetentionMs: intVar(env, "PROTECTED_SETTINGS_RETENTION_SECONDS", seconds(DEFAULTS.retention.secretsRetentionMs), 1, seconds(SECRETS_RETENTION_MAX_MS)) * 1000,
      purgeAfterDelivery: boolVar(env, "PURGE_AFTER_DELIVERY", DEFAULTS.retention.purgeAfterDelivery),
      sweepIntervalMs: intVar(env, "PURGE_INTERVAL_SECONDS", seconds(DEFAULTS.retention.sweepIntervalMs), 1, 3600) * 1000,
    },
    assignments: {
      intervalMs: intVar(env, "ASSIGNMENT_RECONCILE_INTERVAL_MS", DEFAULTS.assignments.intervalMs, 50, 600_000),
      batchSize: intVar(env, "ASSIGNMENT_BATCH_SIZE", DEFAULTS.assignments.batchSize, 1, 10_000),
      complianceIntervalMs: intVar(env, "ASSIGNMENT_COMPLIANCE_INTERVAL_SECONDS", seconds(DEFAULTS.assignments.complianceIntervalMs), 1, 3600) * 1000,
      // a replica that dies holding the lease delays the others this long
      leaseMs: intVar(env, "ASSIGNMENT_LEASE_SECONDS", seconds(DEFAULTS.assignments.leaseMs), 1, 3600) * 1000,
    },
    agent: {
      audience: env.AGENT_AUDIENCE ?? DEFAULTS.agent.audience,
      stalenessMs: intVar(env, "AGENT_CACHE_STALENESS_MS", DEFAULTS.agent.stalenessMs, 0, 600_000),
      pollIntervalSeconds: intVar(env, "AGENT_POLL_INTERVAL_SECONDS", DEFAULTS.agent.pollIntervalSeconds, 1, 3600),
      offlineAfterMs: intVar(env, "CLUSTER_OFFLINE_AFTER_SECONDS", seconds(DEFAULTS.agent.offlineAfterMs), 10, 86_400) * 1000,
      maxClusters: DEFAULTS.agent.maxClusters,
    },
    logLevel: env.LOG_LEVEL ?? DEFAULTS.logLevel,
    skipTokenKey: env.SKIP_TOKEN_KEY,
    subscriptionCacheSeconds: intVar(env, "SUBSCRIPTION_CACHE_SECONDS", seconds(DEFAULTS.subscriptionCacheMs), 0, 3600),
    shutdownGraceMs: intVar(env, "SHUTDOWN_GRACE_MS", DEFAULTS.shutdownGraceMs, 0, 600_000),
    allowedLocations: locationsVar(env),
    keyVaultReferences: keyVaultReferenceConfig(env),
  };
}
