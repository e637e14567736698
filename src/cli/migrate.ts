/** `npm run migrate`: applies pending migrations to the configured store and prints what it did. */
import { ConfigError, loadConfig } from "../config.js";
import { systemClock } from "../ports/clock.js";
import { openStore } from "../store/factory.js";

async function main(): Promise<void> {
  const config = loadConfig();
  const store = await openStore(config.store, systemClock);
  try {
    const report = await store.migrate();
    process.stdout.write(
      `${config.store.engine}: applied ${report.applied.length} migration(s)${report.applied.length ? `: ${report.applied.join(", ")}` : ""}; ` +
        `${report.alreadyApplied.length} already applied\n`,
    );
  } finally {
    await store.close();
  }
}

main().catch((err: unknown) => {
  process.stderr.write(`${err instanceof ConfigError ? `configuration error: ${err.message}` : err instanceof Error ? err.stack ?? err.message : String(err)}\n`);
  process.exit(1);
});
