/**
 * Job leases: one record per job in the service's own partition, so that one replica at a time runs
 * it. Taken with create, renewed or taken over (when expired) with an etag-conditional replace: two
 * replicas racing for it cannot both win. Typed system records of kind `lease`.
 */
import { SYSTEM_PARTITION, systemKey } from "../store/port.js";
import { Collection, lostRace, type CollectionDeps, type Place } from "./collection.js";

interface LeaseBody {
  holder: string;
  until: number;
}

export class Leases {
  private readonly leases: Collection<LeaseBody>;

  constructor(deps: CollectionDeps) {
    this.leases = new Collection<LeaseBody>(deps, "system");
  }

  private place(name: string): Place {
    return { key: systemKey("lease", name), partition: SYSTEM_PARTITION, parent: "leases" };
  }

  /** true when `holder` has the lease `name` until `until` (it was free, expired, or already its own); a lost race is false */
  async take(name: string, holder: string, now: number, until: number): Promise<boolean> {
    const place = this.place(name);
    try {
      const current = await this.leases.get(place.key, place.partition);
      if (current && current.record.holder !== holder && (current.record.until ?? 0) > now) return false;
      await this.leases.write(place, { holder, until }, current?.etag);
      return true;
    } catch (err) {
      if (lostRace(err)) return false;
      throw err;
    }
  }

  /** gives the lease up if `holder` has it (a failure to do so only leaves it to expire) */
  async release(name: string, holder: string): Promise<void> {
    const place = this.place(name);
    const current = await this.leases.document(place.key, place.partition);
    if (current && (current.body as Partial<LeaseBody>).holder === holder) await this.leases.delete(place.key, place.partition, current.etag).catch(() => false);
  }
}
