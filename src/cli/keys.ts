/**
 * `npm run keys -- rotate`  adds a version to the local key file and makes it current (embedded default;
 *                           with Key Vault, rotate the key in the vault).
 * `npm run keys -- rewrap`  re-wraps every DEK under the current KEK version (either provider);
 *                           idempotent and resumable: run it again after an interruption.
 * The service picks up a new KEK version without restart; old versions keep decrypting until re-wrap ends.
 */
import { ConfigError, loadConfig } from "../config.js";
import { createKeyProvider, createSealing } from "../keys/factory.js";
import { rotateKeyFile } from "../keys/local-key-file.js";
import { systemClock } from "../ports/clock.js";
import { createStore } from "../store/factory.js";
import { runCli, UsageError } from "./usage.js";

const USAGE = `usage: npm run keys -- rotate | rewrap
  rotate  adds a version to the local key file and makes it current
  rewrap  re-wraps every data key under the current key-encryption key version`;

async function main(): Promise<void> {
  const [command, ...rest] = process.argv.slice(2);
  if (command === "--help" || command === "-h" || command === "help") throw new UsageError();
  if (command !== "rotate" && command !== "rewrap") throw new UsageError(command === undefined ? "a command is needed" : `unknown command '${command.slice(0, 40)}'`);
  if (rest.length > 0) throw new UsageError(`unexpected argument '${rest[0]!.slice(0, 40)}'`);
  const config = loadConfig();
  if (command === "rotate") {
    if (config.encryption.keyProvider.kind !== "local") throw new ConfigError("rotate applies to the local key file; rotate a Key Vault key in the vault");
    const version = rotateKeyFile(config.encryption.keyProvider.file);
    process.stdout.write(`new KEK version ${version} is current; run \`npm run keys -- rewrap\` to move existing DEKs to it\n`);
    return;
  }
  const store = await createStore(config.store, systemClock, { runMigrationsAtStartup: config.runMigrationsAtStartup });
  try {
    const { dataKeys } = createSealing(store, await createKeyProvider(config.encryption, systemClock), config.encryption, systemClock);
    const started = Date.now();
    const report = await dataKeys.rewrap((r) => process.stdout.write(`scanned ${r.scanned}, re-wrapped ${r.rewrapped}\n`));
    process.stdout.write(`done in ${Date.now() - started} ms: ${report.rewrapped} of ${report.scanned} DEKs re-wrapped\n`);
  } finally {
    await store.close();
  }
}

runCli(USAGE, main, (err): err is Error => err instanceof ConfigError);
