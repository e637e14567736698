/**
 * npm run token [-- --hours N] [-- --claims '{"tid":"..."}']: mints a dev-mode bearer token with the
 * key the service created under DATA_DIR.
 */
import path from "node:path";
import { parseArgs } from "node:util";
import { loadOrCreateDevIdentity } from "../auth/dev-identity.js";

const { values } = parseArgs({
  options: { hours: { type: "string", default: "24" }, claims: { type: "string" } },
});
const hours = Number(values.hours);
if (!Number.isFinite(hours) || hours <= 0 || hours > 24 * 30) {
  process.stderr.write("--hours must be a number from 0 to 720\n");
  process.exit(2);
}
const claims = values.claims ? (JSON.parse(values.claims) as Record<string, unknown>) : undefined;
const identity = await loadOrCreateDevIdentity(path.resolve(process.env.DATA_DIR ?? ".data"));
process.stdout.write(`${await identity.mint({ lifetimeSeconds: Math.round(hours * 3600), claims })}\n`);
