/**
 * npm run bench:startup — how long the built service (dist/src/main.js, shipped defaults) takes from
 * spawn to /readyz 200 on a store holding STARTUP_CLUSTERS clusters and as many configurations (default
 * 50,000), written through the domain services by bench/seed.ts (STARTUP_SEED_CACHE=<dir> keeps and
 * reuses the seeded directory; each start gets a fresh copy). The baseline in the same run: the same
 * start on an empty DATA_DIR, alternating with the full one. Each start runs alone.
 * Options: STARTUP_CLUSTERS, STARTUP_SEED_CACHE, STARTUP_RUNS (default 3).
 */
import { execFileSync, spawn } from "node:child_process";
import fs from "node:fs";
import path from "node:path";
import { client } from "../test/helpers/http.js";
import { tempDir } from "../test/helpers/server.js";
import { copySeeded, seedFleet, seededCount } from "./seed.js";

const CLUSTERS = Number(process.env.STARTUP_CLUSTERS ?? 50_000);
const RUNS = Number(process.env.STARTUP_RUNS ?? 3);
const root = path.resolve(import.meta.dirname, "..");

/** ms from spawn until /readyz answers 200 */
async function timeToReady(dataDir: string): Promise<number> {
  const port = 20000 + Math.floor(Math.random() * 20000);
  const started = performance.now();
  const child = spawn(process.execPath, [path.join(root, "dist/src/main.js")], { env: { ...process.env, DATA_DIR: dataDir, PORT: String(port) }, stdio: ["ignore", "ignore", "inherit"] });
  try {
    const certFile = path.join(dataDir, "tls", "cert.pem");
    for (;;) {
      if (performance.now() - started > 120_000) throw new Error("not ready within 120 s");
      if (fs.existsSync(certFile)) {
        try {
          if ((await client(`https://127.0.0.1:${port}`, fs.readFileSync(certFile, "utf8"))("/readyz")).status === 200) return performance.now() - started;
        } catch {
          // not listening yet
        }
      }
      await new Promise((r) => setTimeout(r, 25));
    }
  } finally {
    child.kill("SIGTERM");
    await new Promise((r) => child.on("exit", r));
  }
}

async function main(): Promise<void> {
  execFileSync("npm", ["run", "--silent", "build"], { cwd: root, stdio: "inherit" });
  const source = process.env.STARTUP_SEED_CACHE ?? tempDir("bench-startup-seed-");
  const have = seededCount(source);
  if (have < CLUSTERS) {
    const t0 = performance.now();
    await seedFleet(source, have, CLUSTERS - have);
    console.log(`seed: ${CLUSTERS - have} clusters + configurations in ${((performance.now() - t0) / 1000).toFixed(1)} s`);
  }
  const stored = seededCount(source);
  const rows: string[] = [];
  for (let i = 0; i < RUNS; i++) {
    const empty = await timeToReady(tempDir("bench-startup-empty-"));
    const copy = tempDir("bench-startup-");
    copySeeded(source, copy);
    const full = await timeToReady(copy);
    rows.push(`run ${i + 1}: empty DATA_DIR ${(empty / 1000).toFixed(2)} s | ${stored} clusters + configurations ${(full / 1000).toFixed(2)} s`);
  }
  console.log(`\nbench:startup  spawn -> /readyz 200, dist/src/main.js (shipped defaults, SQLite), node ${process.version}`);
  for (const r of rows) console.log(r);
}

await main();
