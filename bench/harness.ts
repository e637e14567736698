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

export async function serve(): Promise<{ url: string; ca: string; token: string; child: ChildProcess; stats(): Promise<Stats> }> {
  // SERVE_CPU_PROF=<dir>: the service writes a CPU profile there when it exits (node --cpu-prof)
  const prof = process.env.SERVE_CPU_PROF ? ["--cpu-prof", "--cpu-prof-dir", process.env.SERVE_CPU_PROF] : [];
  const child = spawn(process.execPath, [...prof, "--import", "tsx", path.join(root, "bench/serve.ts")], {
    cwd: root,
    env: { ...process.env, MODE: "local", AGENT_STALENESS_MS: "5000", LOG_LEVEL: "warn" },
    stdio: ["ignore", "pipe", "inherit"],
  });
  const waiting: ((s: Stats) => void)[] = [];
  const first = new Promise<{ url: string; ca: string; token: string }>((resolve, reject) => {
    lines(child, (line) => {
      if (line.includes('"url"')) resolve(JSON.parse(line) as { url: string; ca: string; token: string });
      else if (line.includes("cpuMicros")) waiting.shift()?.(JSON.parse(line) as Stats);
    });
    child.on("exit", (code) => reject(new Error(`service exited (${code})`)));
  });
  const info = await first;
  const stats = () =>
    new Promise<Stats>((resolve) => {
      waiting.push(resolve);
      child.kill("SIGUSR2");
    });
  return { ...info, child, stats };
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

