#!/usr/bin/env node
/**
 * Runs `tsc -p tsconfig.build.json` only when an input is newer than the last successful build, so
 * `npm start`, `npm run token` and `npm run agent` answer in about a second after the first run while a
 * fresh clone (no dist/) still builds itself. Inputs: the compiled sources (src/, migrations/), the
 * tsconfig files and the installed dependency set (package.json, package-lock.json). openapi/ is read
 * at run time, not compiled, so editing it needs no build. The stamp is written after tsc succeeds:
 * a failed build leaves it stale and the next command tries again.
 */
import { spawnSync } from "node:child_process";
import fs from "node:fs";
import path from "node:path";
import { fileURLToPath } from "node:url";

const root = path.resolve(path.dirname(fileURLToPath(import.meta.url)), "..");
const stamp = path.join(root, "dist", ".build-stamp");
const inputs = ["src", "migrations", "tsconfig.json", "tsconfig.build.json", "package.json", "package-lock.json"];

/** the newest mtime under a file or folder (0 when absent) */
function newest(target) {
  let stat;
  try {
    stat = fs.statSync(target);
  } catch {
    return 0;
  }
  if (!stat.isDirectory()) return stat.mtimeMs;
  // a folder's own mtime changes when a file is added, removed or renamed in it
  let latest = stat.mtimeMs;
  for (const entry of fs.readdirSync(target)) latest = Math.max(latest, newest(path.join(target, entry)));
  return latest;
}

function builtAt() {
  try {
    return fs.statSync(stamp).mtimeMs;
  } catch {
    return -1;
  }
}

const force = process.argv.includes("--force");
const built = builtAt();
if (!force && built >= 0 && inputs.every((input) => newest(path.join(root, input)) <= built)) process.exit(0);

const tsc = path.join(root, "node_modules", "typescript", "bin", "tsc");
if (!force) process.stderr.write("building (sources changed since the last build)...\n");
const result = spawnSync(process.execPath, [tsc, "-p", path.join(root, "tsconfig.build.json")], { stdio: "inherit", cwd: root });
if (result.status !== 0) process.exit(result.status ?? 1);
fs.mkdirSync(path.dirname(stamp), { recursive: true });
fs.writeFileSync(stamp, `${new Date().toISOString()}\n`);
