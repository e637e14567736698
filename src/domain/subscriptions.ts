/**
 * Subscription registrations and the Resource Provider Contract's lifecycle rules:
 * Registered: everything; Warned/Suspended: GET and DELETE; Unregistered: GET only;
 * Deleted: everything of the subscription is removed (cascade), nothing may be written.
 * The token's tenant must be the tenant the subscription was registered to.
 */
import { LRUCache } from "lru-cache";
import { errors } from "../arm/errors.js";
import { CONFIGURATION_NAMESPACE, EVERY_CLUSTER } from "../arm/resource-ids.js";
import type { Principal } from "../ports/principal.js";
import type { Clock } from "../ports/clock.js";
import { lostRace, retryOnLostRace } from "../persistence/collection.js";
import { announce, DELETED_MARKER_LIFETIME_MS, type ChangeBus } from "./changes.js";
import type { Persistence, Versioned } from "../persistence/index.js";
import { SUBSCRIPTION_STATES, type SubscriptionRecord, type SubscriptionState } from "./types.js";

export type Intent = "read" | "write" | "delete";

/** reads of the registration after lost races before a lifecycle notification gives up (409; ARM retries it) */
const NOTIFY_ATTEMPTS = 5;

export interface SubscriptionOptions {
  /** dev auth mode registers a subscription on its first write, to the caller's tenant */
  autoRegister: boolean;
  cacheMs: number;
}

export interface LifecycleNotification {
  state: SubscriptionState;
  registrationDate?: string;
  properties?: Record<string, unknown>;
}

const ALLOWED: Record<SubscriptionState, readonly Intent[]> = {
  Registered: ["read", "write", "delete"],
  Warned: ["read", "delete"],
  Suspended: ["read", "delete"],
  Unregistered: ["read"],
  Deleted: ["read"],
};

function refusal(subscriptionId: string, state: SubscriptionState) {
  switch (state) {
    case "Warned":
    case "Suspended":
      return errors.subscriptionReadOnly(subscriptionId, state);
    case "Deleted":
      return errors.subscriptionNotFound(subscriptionId);
    default:
      return errors.subscriptionGetOnly(subscriptionId);
  }
}

/** account owner details are personal data the service has no use for: never stored */
function withoutPii(properties: Record<string, unknown> | undefined): Record<string, unknown> | undefined {
  if (!properties) return undefined;
  const { accountOwner: _accountOwner, ...rest } = properties;
  return rest;
}

/** far more subscriptions than one replica serves at once: the bound only stops unbounded growth */
const MAX_CACHED_SUBSCRIPTIONS = 10_000;

export class Subscriptions {
  /** one entry per subscription this replica serves (a miss is remembered too); fresh for cacheMs on the injected clock */
  private readonly cache = new LRUCache<string, { value: Versioned<SubscriptionRecord> | undefined; until: number }>({ max: MAX_CACHED_SUBSCRIPTIONS });

  constructor(
    private readonly repo: Persistence,
    private readonly clock: Clock,
    private readonly options: SubscriptionOptions,
    private readonly bus?: ChangeBus,
  ) {
    // a subscription deleted (by this process or, through the change watcher, another replica) is
    // announced for every cluster: its registration is read again (misses here name no subscription)
    bus?.on((change) => {
      if (change.clusterKey !== EVERY_CLUSTER) return;
      this.invalidations++;
      this.cache.clear();
    });
  }

  private async load(subscriptionId: string): Promise<Versioned<SubscriptionRecord> | undefined> {
    const key = subscriptionId.toLowerCase();
    const now = this.clock.now();
    const hit = this.cache.get(key);
    if (hit && hit.until > now) return hit.value;
    const seen = this.invalidations;
    const value = await this.repo.subscriptions.get(subscriptionId);
    // a read overtaken by a change of the registration (notify, register) must not keep what it read
    if (this.options.cacheMs > 0 && this.invalidations === seen) this.cache.set(key, { value, until: now + this.options.cacheMs });
    return value;
  }

  /** bumped by every forget and clear (see load) */
  private invalidations = 0;

  private forget(subscriptionId: string): void {
    this.invalidations++;
    this.cache.delete(subscriptionId.toLowerCase());
  }

  /** Throws the ARM error for a caller or an intent the subscription does not allow. */
  async authorize(principal: Principal, subscriptionId: string, intent: Intent): Promise<void> {
    let current = await this.load(subscriptionId);
    if (!current) {
      if (intent === "read") return; // nothing can exist there: reads answer 404 or an empty list
      if (!this.options.autoRegister) throw errors.subscriptionNotRegistered(subscriptionId, CONFIGURATION_NAMESPACE);
      current = await this.register(subscriptionId, principal.tenantId);
    }
    const { record } = current;
    if (record.tenantId !== undefined && record.tenantId.toLowerCase() !== principal.tenantId.toLowerCase()) throw errors.wrongTenant();
    if (!ALLOWED[record.state].includes(intent)) throw refusal(subscriptionId, record.state);
  }

  private async register(subscriptionId: string, tenantId: string): Promise<Versioned<SubscriptionRecord>> {
    const record: SubscriptionRecord = { subscriptionId, state: "Registered", tenantId, registrationDate: new Date(this.clock.now()).toUTCString() };
    try {
      const saved = await this.repo.subscriptions.write(record, undefined);
      this.forget(subscriptionId);
      return saved;
    } catch (err) {
      if (!lostRace(err)) throw err;
      this.forget(subscriptionId); // registered concurrently: use the winner's record
      const winner = await this.repo.subscriptions.get(subscriptionId);
      if (!winner) throw err;
      return winner;
    }
  }

  async get(principal: Principal, subscriptionId: string): Promise<SubscriptionRecord | undefined> {
    const current = await this.repo.subscriptions.get(subscriptionId);
    if (current?.record.tenantId && current.record.tenantId.toLowerCase() !== principal.tenantId.toLowerCase()) throw errors.wrongTenant();
    return current?.record;
  }

  /** PUT /subscriptions/{id}?api-version=2.0 from ARM: idempotent, the latest state wins. */
  async notify(principal: Principal, subscriptionId: string, notification: LifecycleNotification): Promise<SubscriptionRecord> {
    if (!SUBSCRIPTION_STATES.includes(notification.state)) throw errors.invalidSubscriptionState(notification.state);
    const properties = withoutPii(notification.properties);
    const bodyTenant = typeof properties?.tenantId === "string" ? properties.tenantId : undefined;
    return retryOnLostRace(async () => {
      const current = await this.repo.subscriptions.get(subscriptionId);
      const tenantId = bodyTenant ?? current?.record.tenantId ?? (this.options.autoRegister ? principal.tenantId : undefined);
      const record: SubscriptionRecord = {
        subscriptionId,
        state: notification.state,
        tenantId,
        registrationDate: notification.registrationDate ?? current?.record.registrationDate,
        properties,
      };
      // Cascade before recording Deleted: if the cascade fails, ARM retries the notification.
      if (record.state === "Deleted") {
        await this.repo.subscriptions.deleteContent(subscriptionId);
        // every cluster of it is gone: this process's agent caches at once, other replicas by the marker
        await announce(this.repo, this.bus, subscriptionId, EVERY_CLUSTER, "identity", this.clock.now() + DELETED_MARKER_LIFETIME_MS);
      }
      await this.repo.subscriptions.write(record, current?.etag);
      this.forget(subscriptionId);
      return record;
    }, NOTIFY_ATTEMPTS);
  }
}
