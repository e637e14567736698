/**
 * npm run --silent token [-- --hours N] [-- --claims '{"tid":"..."}']: mints a dev-mode bearer token with
 * the key the service created under DATA_DIR and prints only the token (so `TOKEN=$(npm run --silent token)` works).
 */
import path from "node:path";
import { parseArgs } from "node:util";
import { loadOrCreateDevIdentity } from "../auth/dev-identity.js";
import { runCli, UsageError } from "./usage.js";

const USAGE = `usage: npm run --silent token [-- --hours <0-720, default 24>] [--claims '<JSON object of extra claims>']
  prints a dev-mode bearer token signed with the key under $DATA_DIR (default ./.data)`;

function parse(argv: string[]): { hours: number; claims: Record<string, unknown> | undefined } {
  const { values } = parseArgs({ args: argv, options: { hours: { type: "string", default: "24" }, claims: { type: "string" }, help: { type: "boolean", short: "h" } } });
  if (values.help) throw new UsageError();
  const hours = Number(values.hours);
  if (!Number.isFinite(hours) || hours <= 0 || hours > 24 * 30) throw new UsageError("--hours must be a number above 0 and at most 720");
  return { hours, claims: values.claims === undefined ? undefined : parseClaims(values.claims) };
}

function parseClaims(text: string): Record<string, unknown> {
  let claims: unknown;
  try {
    claims = JSON.parse(text);
  } catch {
    throw new UsageError("--claims must be a JSON object, e.g. '{\"tid\":\"<tenant>\"}'");
  }
  if (typeof claims !== "object" || claims === null || Array.isArray(claims)) throw new UsageError("--claims must be a JSON object, e.g. '{\"tid\":\"<tenant>\"}'");
  return claims as Record<string, unknown>;
}

runCli(USAGE, async () => {
  const { hours, claims } = parse(process.argv.slice(2));
  const identity = await loadOrCreateDevIdentity(path.resolve(process.env.DATA_DIR ?? ".data"));
  process.stdout.write(`${await identity.mint({ lifetimeSeconds: Math.round(hours * 3600), claims })}\n`);
});
