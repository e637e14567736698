/**
 * Start-up check of every cluster's stored agent key (issue #10): a version of the service accepted
 * private keys as agentPublicKeyCertificate, stored them and returned them to every reader. Each
 * such cluster gets its stored value replaced by the derived public key, the key recorded as
 * compromised (agent tokens signed with it are refused until a new key is registered), and one log
 * line naming the cluster id (never the key). Public keys stored in another encoding (PEM) are
 * rewritten in the normalized form (base64 DER SubjectPublicKeyInfo; their fingerprint is unchanged).
 *
 * A data step, not a migration: bodies are sealed, so it goes through the persistence aggregates' codec. Safe
 * with several replicas and idempotent: every rewrite is conditional on the etag read; a replica that
 * loses the race reads again and finds nothing left to do (only the winner logs). The read paths do
 * not depend on it having run: they treat stored private material as compromised on their own
 * (src/domain/agent-keys.ts), so this only makes storage and logs match.
 */
import { announce, type ChangeBus } from "../domain/changes.js";
import { remediatedCluster } from "../domain/agent-keys.js";
import type { Persistence } from "../persistence/index.js";
import { retryOnLostRace, type StoredDocument } from "../persistence/collection.js";

export interface AgentKeyAuditReport {
  scanned: number;
  /** ids of the clusters found with a private key stored */
  compromised: string[];
  /** clusters whose public key was rewritten in the normalized form */
  normalized: number;
  /** clusters that could not be read or rewritten (logged; the next start tries again) */
  failed: number;
}

type Log = (level: "info" | "warn" | "error", message: string, fields: Record<string, unknown>) => void;

const MAX_ATTEMPTS = 5;
/** clusters checked between two turns of the event loop (~0.3 ms of key parsing each) */
const PAGE = 100;

/** lets timers and I/O run: the store answers synchronously (SQLite), so awaits alone never yield */
const yieldToEventLoop = () => new Promise<void>((resolve) => setImmediate(resolve));

export class AgentKeyAudit {
  constructor(
    private readonly repo: Persistence,
    private readonly bus: ChangeBus,
    private readonly log: Log,
  ) {}

  async run(): Promise<AgentKeyAuditReport> {
    const report: AgentKeyAuditReport = { scanned: 0, compromised: [], normalized: 0, failed: 0 };
    for await (const docs of this.repo.clusters.everyPage(PAGE)) {
      for (const doc of docs) {
        report.scanned++;
        try {
          const outcome = await this.remediate(doc);
          if (outcome === "compromised") report.compromised.push(doc.key);
          else if (outcome === "normalized") report.normalized++;
        } catch (err) {
          report.failed++;
          this.log("error", "agent key check failed for a cluster; it is checked again at the next start", { clusterId: doc.key, error: (err as Error).name });
        }
      }
      // a walk of 50,000 clusters takes seconds of CPU: requests (and /readyz) are served in between
      await yieldToEventLoop();
    }
    if (report.compromised.length > 0 || report.normalized > 0 || report.failed > 0) {
      this.log("info", "agent key check finished", { scanned: report.scanned, compromised: report.compromised.length, normalized: report.normalized, failed: report.failed });
    }
    return report;
  }

  /** one cluster, read again after a lost race (a heartbeat, a PUT or another replica's check) */
  private async remediate(doc: StoredDocument): Promise<"compromised" | "normalized" | "unchanged"> {
    const first = await this.repo.clusters.decode(doc);
    let reads = 0;
    const done = await retryOnLostRace(async () => {
      const current = reads++ === 0 ? first : await this.repo.clusters.get(first.record.subscriptionId, first.record.id);
      // not remembered: the parsed-key cache is for the keys requests use, not for one walk over all of them
      const fixed = current && remediatedCluster(current.record, { remember: false });
      if (!current || !fixed) return undefined;
      await this.repo.clusters.write(fixed.record, current.etag);
      return { compromised: fixed.compromised, id: current.record.id };
    }, MAX_ATTEMPTS);
    if (!done) return "unchanged";
    if (!done.compromised) return "normalized";
    this.log("warn", "agent key compromised: its private half was stored; agent tokens for this cluster are refused until a new key is registered", {
      audit: "agentKeyCompromised",
      clusterId: done.id,
    });
    // every replica drops its cached key and desired state of this cluster
    await announce(this.repo, this.bus, first.record.subscriptionId, done.id, "identity");
    return "compromised";
  }
}
