/** What the surfaces need from the layers below, assembled once in app.ts. */
import type { SkipTokens } from "../arm/skip-token.js";
import type { Authenticator } from "../ports/principal.js";
import type { Assignments } from "../domain/assignments.js";
import type { Clusters } from "../domain/clusters.js";
import type { Configurations } from "../domain/configurations.js";
import type { FluxConfigurations } from "../domain/flux-configurations.js";
import type { FluxMigrations } from "../domain/flux-migrations.js";
import type { Subscriptions } from "../domain/subscriptions.js";
import type { Clock } from "../ports/clock.js";

export interface Services {
  authenticator: Authenticator;
  subscriptions: Subscriptions;
  clusters: Clusters;
  configurations: Configurations;
  fluxConfigurations: FluxConfigurations;
  assignments: Assignments;
  skipTokens: SkipTokens;
  clock: Clock;
  pageSize: number;
  /** the migrate-to-Flux-v2 actions (issue #16 part 2) */
  fluxMigrations: FluxMigrations;
}
