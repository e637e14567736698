/**
 * Cluster agents authenticate with a JWT signed by the key registered as the cluster's
 * agentPublicKeyCertificate (RS256 or ES256): sub = the cluster id, aud = the agent audience,
 * iat and exp at most 10 minutes apart. Verified tokens are remembered until they expire, so a poll
 * that changes nothing costs no signature check; the registered keys are remembered for a bounded
 * time and dropped at once when this process changes or deletes the cluster. A key once stored with
 * its private half (compromised, src/domain/agent-keys.ts) is refused until a new key is registered.
 */
import { LRUCache } from "lru-cache";
import crypto from "node:crypto";
import { decodeJwt, errors as joseErrors, jwtVerify } from "jose";
import { errors } from "../../arm/errors.js";
import { EVERY_CLUSTER, keyOf, storedClusterKey } from "../../arm/resource-ids.js";
import { agentKeyOfStored, agentKeyRefOf, type AgentKeyRef } from "../../domain/agent-keys.js";
import type { ChangeBus } from "../../domain/changes.js";
import type { Persistence } from "../../persistence/index.js";
import type { Clock } from "../../ports/clock.js";

export const MAX_AGENT_TOKEN_LIFETIME_SECONDS = 600;
const CLOCK_SKEW_SECONDS = 60;
const CLUSTER_ID = /^\/subscriptions\/([^/]+)\/resourcegroups\/([^/]+)\/providers\/microsoft\.kubernetes\/connectedclusters\/([^/]+)$/i;

export interface AgentPrincipal {
  /** lower-cased cluster id the token speaks for */
  clusterKey: string;
}

export interface AgentAuthOptions {
  audience: string;
  /** how long a registered key is trusted before it is read again (other replicas' changes) */
  stalenessMs: number;
  /** the fleet size a replica serves: registered keys and verified tokens kept in memory (one of each per cluster) */
  maxClusters: number;
}

const invalid = (reason: string) => errors.authenticationInvalid(reason);

/**
 * what a verified token is remembered by: its SHA-256 (43 characters instead of the ~450 of an ES256
 * token, ~700 for RS256; ~1 µs a poll). Exact: another token with the same digest is a SHA-256 collision.
 */
const tokenDigest = (token: string): string => crypto.hash("sha256", token, "base64url");

/**
 * a cluster's entry: its key reference (AgentKeyRef's fields, in the same object) and its principal, one per
 * cluster, whose clusterKey is the string the map is keyed by (every token of the cluster shares both)
 */
interface KeyEntry extends AgentKeyRef {
  principal: AgentPrincipal;
  /** ms since the authenticator's origin (a small integer, kept unboxed) */
  checkedAt: number;
}

/** a verified token: its cluster's principal, the fingerprint of the key that signed it, and its exp (seconds) */
interface TokenEntry {
  principal: AgentPrincipal;
  fingerprint: string;
  exp: number;
}

export class AgentAuthenticator {
  /** per cluster: its key's stored text, fingerprint and trust (no parsed key: src/domain/agent-keys.ts AgentKeyRef) */
  private readonly keys: LRUCache<string, KeyEntry>;
  /** verified tokens by their digest (tokenDigest), each until its exp */
  private readonly tokens: LRUCache<string, TokenEntry>;
  /** checkedAt is counted from here: ms since then fit a small integer (no boxed number per entry) */
  private readonly origin: number;
  /** signature verifications made, for tests and metrics */
  verifications = 0;

  constructor(
    private readonly repo: Persistence,
    bus: ChangeBus,
    private readonly clock: Clock,
    private readonly options: AgentAuthOptions,
  ) {
    this.origin = clock.now();
    this.keys = new LRUCache({ max: options.maxClusters });
    this.tokens = new LRUCache({ max: options.maxClusters });
    bus.on((change) => {
      if (change.clusterKey !== EVERY_CLUSTER && change.what !== "identity") return;
      this.invalidations++;
      if (change.clusterKey === EVERY_CLUSTER) this.keys.clear();
      else this.keys.delete(change.clusterKey);
    });
  }

  /**
   * counts key invalidations: a store read that an invalidation overtook must not cache what it read
   * (it may be the key just replaced, and a cached key stays trusted while the watcher is healthy)
   */
  private invalidations = 0;

  /** set when a ChangeWatcher runs: while it is healthy, cached keys stay valid until a change is announced */
  watcher?: { healthy(): boolean };

  private fresh(entry: KeyEntry): boolean {
    return this.watcher?.healthy() === true || this.clock.now() - this.origin - entry.checkedAt < this.options.stalenessMs;
  }

  /**
   * the cluster key string this authenticator holds for the cluster (the same text as `clusterKey`), so
   * other per-cluster caches can key by it instead of keeping a copy of their own; undefined when not held
   */
  heldKey(clusterKey: string): string | undefined {
    return this.keys.peek(clusterKey)?.principal.clusterKey;
  }

  private async keyOf(clusterKey: string): Promise<KeyEntry | undefined> {
    const cached = this.keys.get(clusterKey);
    if (cached && this.fresh(cached)) return cached;
    const m = CLUSTER_ID.exec(clusterKey);
    if (!m) return undefined;
    const seen = this.invalidations;
    const found = await this.repo.clusters.get(m[1] ?? "", storedClusterKey(clusterKey));
    if (!found) {
      // misses are not remembered: an anonymous caller naming random clusters cannot grow this map
      this.keys.delete(clusterKey);
      return undefined;
    }
    const ref = agentKeyRefOf(found.record);
    // the principal (and its key string) of the entry it replaces, so tokens already remembered share it
    const principal = cached?.principal ?? { clusterKey };
    const entry: KeyEntry = { stored: ref.stored, fingerprint: ref.fingerprint, compromised: ref.compromised, principal, checkedAt: this.clock.now() - this.origin };
    if (this.invalidations === seen) this.keys.set(principal.clusterKey, entry);
    return entry;
  }

  /**
   * The principal of a token verified before whose cluster key is cached, trusted and unchanged, with no
   * promise and no store call; undefined for anything else (authenticate() then decides, and refuses).
   */
  remembered(authorization: string | undefined): AgentPrincipal | undefined {
    if (authorization === undefined || authorization.length < 8 || authorization.charCodeAt(6) !== 32) return undefined;
    const scheme = authorization.slice(0, 6);
    if (scheme !== "Bearer" && scheme.toLowerCase() !== "bearer") return undefined;
    const entry = this.tokens.get(tokenDigest(authorization.slice(7)));
    if (!entry || entry.exp <= Math.floor(this.clock.now() / 1000)) return undefined;
    const cached = this.keys.get(entry.principal.clusterKey);
    if (!cached || !this.fresh(cached)) return undefined;
    if (cached.compromised || cached.fingerprint !== entry.fingerprint) return undefined;
    return entry.principal;
  }

  private prunedAt = 0;

  /**
   * drops expired tokens (at most once a minute, when a new token is verified): an agent replaces its
   * token every few minutes, and the one it dropped would otherwise stay until the LRU bound evicts it
   */
  private pruneExpired(nowSeconds: number): void {
    if (nowSeconds - this.prunedAt < 60) return;
    this.prunedAt = nowSeconds;
    const expired: string[] = [];
    for (const [digest, entry] of this.tokens.entries()) if (entry.exp <= nowSeconds) expired.push(digest);
    for (const digest of expired) this.tokens.delete(digest);
  }

  /** who the bearer token speaks for; 401 for anything but a valid token of an existing cluster */
  async authenticate(authorization: string | undefined): Promise<AgentPrincipal> {
    if (!authorization) throw errors.authenticationMissing();
    const match = /^Bearer\s+(\S+)$/i.exec(authorization);
    if (!match?.[1]) throw invalid("the Authorization header must be 'Bearer <token>'");
    const token = match[1];
    const nowSeconds = Math.floor(this.clock.now() / 1000);

    const digest = tokenDigest(token);
    const remembered = this.tokens.get(digest);
    if (remembered && remembered.exp > nowSeconds) {
      const key = await this.keyOf(remembered.principal.clusterKey);
      if (key?.compromised) throw errors.agentKeyCompromised();
      if (key && key.fingerprint === remembered.fingerprint) return remembered.principal;
      this.tokens.delete(digest);
      throw invalid("the cluster's agent key has changed or the cluster no longer exists");
    }

    let sub: string;
    try {
      const claims = decodeJwt(token);
      sub = typeof claims.sub === "string" ? claims.sub : "";
    } catch {
      throw invalid("the token is malformed");
    }
    const clusterKey = keyOf(sub);
    if (!CLUSTER_ID.test(clusterKey)) throw invalid("the token's subject is not a connected cluster id");
    const key = await this.keyOf(clusterKey);
    if (!key) throw invalid("the token's cluster is not registered");
    // refused before the signature is checked: whoever read the stored private half can sign anything
    if (key.compromised) throw errors.agentKeyCompromised();
    let exp: number;
    try {
      this.verifications++;
      const parsed = agentKeyOfStored(key);
      const { payload } = await jwtVerify(token, parsed.key, {
        audience: this.options.audience,
        algorithms: [parsed.jwsAlg],
        clockTolerance: CLOCK_SKEW_SECONDS,
        // refuses an iat in the future too, so exp cannot sit years ahead of a late iat
        maxTokenAge: MAX_AGENT_TOKEN_LIFETIME_SECONDS + CLOCK_SKEW_SECONDS,
        requiredClaims: ["sub", "iat", "exp"],
        currentDate: new Date(this.clock.now()),
      });
      exp = payload.exp ?? 0;
      if (exp - (payload.iat ?? 0) > MAX_AGENT_TOKEN_LIFETIME_SECONDS) throw invalid(`the token may live at most ${MAX_AGENT_TOKEN_LIFETIME_SECONDS} seconds`);
    } catch (err) {
      if (err instanceof joseErrors.JWTExpired) throw invalid("the token has expired");
      // signed, but not by the registered key (or with an algorithm that key cannot make)
      if (err instanceof joseErrors.JWSSignatureVerificationFailed || err instanceof joseErrors.JOSEAlgNotAllowed) throw errors.agentKeyMismatch();
      if (err instanceof joseErrors.JOSEError) throw invalid(`the token was rejected (${err.code})`);
      throw err;
    }
    const principal = key.principal;
    this.pruneExpired(nowSeconds);
    this.tokens.set(digest, { principal, fingerprint: key.fingerprint, exp });
    return principal;
  }
}
