/**
 * What the benchmarks share: the service in its own process (bench/serve.ts) with its CPU, memory and
 * store-call figures on demand, a bounded-concurrency pool, and small statistics helpers.
 */
import { spawn, type ChildProcess } from "node:child_process";
import path from "node:path";

const root = path.resolve(import.meta.dirname, "..");

export interface Stats {
  cpuMicros: number;
  rss: number;
  heapUsed: number;
  heapTotal: number;
  external: number;
  arrayBuffers: number;
  storeCalls: number;
}

/** splits a child's stdout into lines */
export function lines(child: ChildProcess, onLine: (line: string) => void): void {
  let buf = "";
  child.stdout?.on("data", (c: Buffer) => {
    buf += c.toString();
    let nl: number;
    while ((nl = buf.indexOf("\n")) >= 0) {
      const line = buf.slice(0, nl);
      buf = buf.slice(nl + 1);
      onLine(line);
    }
  });
}

/**
 * The service (bench/serve.ts) in its own process: local sealing (or, with { mode: "plain" }, sealing off:
 * the plain codec, for bench/sealing.ts only), agent staleness 5 s, the shipped log level (info) unless
 * the user's environment sets LOG_LEVEL. stats() asks for its figures; with { gc: true } it collects
 * garbage first (RSS and heap without the garbage of the last load). dataDir: a directory seeded
 * beforehand (bench/seed.ts) the service opens instead of a fresh one. snapshot(file) writes a heap
 * snapshot of the service there.
 */
export async function serve(options: { mode?: "local" | "plain"; dataDir?: string } = {}): Promise<{
  url: string;
  ca: string;
  token: string;
  child: ChildProcess;
  stats(options?: { gc?: boolean }): Promise<Stats>;
  snapshot(file: string): Promise<string>;
}> {
  // BENCH_CPU_PROF=<dir>: the service writes a CPU profile there when it exits (node --cpu-prof)
  const prof = process.env.BENCH_CPU_PROF ? ["--cpu-prof", `--cpu-prof-dir=${process.env.BENCH_CPU_PROF}`] : [];
  const child = spawn(process.execPath, ["--expose-gc", ...prof, "--import", "tsx", path.join(root, "bench/serve.ts")], {
    cwd: root,
    env: { ...process.env, MODE: options.mode ?? "local", AGENT_STALENESS_MS: "5000", BENCH_DATA_DIR: options.dataDir ?? "" },
    stdio: ["pipe", "pipe", "inherit"],
  });
  const waiting: ((s: Stats) => void)[] = [];
  const snapshots: ((file: string) => void)[] = [];
  const first = new Promise<{ url: string; ca: string; token: string }>((resolve, reject) => {
    lines(child, (line) => {
      if (line.includes('"url"')) resolve(JSON.parse(line) as { url: string; ca: string; token: string });
      else if (line.includes("cpuMicros")) waiting.shift()?.(JSON.parse(line) as Stats);
      else if (line.includes('"snapshot"')) snapshots.shift()?.((JSON.parse(line) as { snapshot: string }).snapshot);
    });
    child.on("exit", (code) => reject(new Error(`service exited (${code})`)));
  });
  const info = await first;
  const stats = (options: { gc?: boolean } = {}) =>
    new Promise<Stats>((resolve) => {
      waiting.push(resolve);
      child.stdin?.write(options.gc ? "gc\n" : "stats\n");
    });
  const snapshot = (file: string) =>
    new Promise<string>((resolve) => {
      snapshots.push(resolve);
      child.stdin?.write(`snap ${file}\n`);
    });
  return { ...info, child, stats, snapshot };
}

export async function pool<T>(items: T[], limit: number, fn: (item: T, i: number) => Promise<void>, progress?: (done: number) => void): Promise<void> {
  let next = 0;
  let done = 0;
  const worker = async () => {
    while (next < items.length) {
      const i = next++;
      await fn(items[i] as T, i);
      done++;
      progress?.(done);
    }
  };
  await Promise.all(Array.from({ length: Math.min(limit, items.length) }, worker));
}

export const sleep = (ms: number) => new Promise((r) => setTimeout(r, ms));
export const quantile = (xs: number[], q: number) => {
  if (xs.length === 0) return NaN;
  const s = [...xs].sort((a, b) => a - b);
  return s[Math.min(s.length - 1, Math.max(0, Math.ceil(q * s.length) - 1))] as number;
};
export const header = (h: Record<string, unknown>, name: string): string | undefined => {
  for (const [k, v] of Object.entries(h)) if (k.toLowerCase() === name) return Array.isArray(v) ? String(v[0]) : String(v);
  return undefined;
};

