/** The real service process (src/main.ts) for tests that start, stop and kill it. */
import { spawn, type ChildProcess } from "node:child_process";
import fs from "node:fs";
import net from "node:net";
import path from "node:path";
import { client } from "./http.js";

export const ROOT = path.resolve(path.dirname(new URL(import.meta.url).pathname), "../..");

/** whether 127.0.0.1:port can be listened on now (the port is then free again) */
function bindable(port: number): Promise<boolean> {
  const srv = net.createServer();
  return new Promise((resolve) => {
    srv.once("error", () => resolve(false));
    srv.listen(port, "127.0.0.1", () => srv.close(() => resolve(true)));
  });
}

/** the kernel's ephemeral range (Linux), where it picks ports for listen(0) and outgoing connections */
function ephemeralRange(): [number, number] {
  try {
    const [low, high] = fs.readFileSync("/proc/sys/net/ipv4/ip_local_port_range", "utf8").trim().split(/\s+/).map(Number);
    if (low !== undefined && high !== undefined && Number.isInteger(low) && Number.isInteger(high)) return [low, high];
  } catch {
    // not Linux: the IANA dynamic range
  }
  return [49152, 65535];
}

/**
 * A port for a service process to listen on, free now. Not from listen(0): that port is in the ephemeral
 * range, where, between this check and the child's listen a second or more later, the kernel may hand the
 * same port to another test's listen(0) or to one of the outgoing connections of a test running in
 * parallel (the fuzzer opens hundreds a second), and the child then fails with EADDRINUSE or a restart
 * on the same port talks to someone else. A random port below that range is never handed out that way.
 */
export async function freePort(): Promise<number> {
  const [ephemeralLow] = ephemeralRange();
  const low = 20_000;
  const high = Math.min(ephemeralLow, 65_536) - 1;
  if (high - low >= 1000) {
    for (let i = 0; i < 50; i++) {
      const port = low + Math.floor(Math.random() * (high - low + 1));
      if (await bindable(port)) return port;
    }
  }
  const srv = net.createServer();
  await new Promise<void>((r) => srv.listen(0, "127.0.0.1", r));
  const { port } = srv.address() as net.AddressInfo;
  await new Promise((r) => srv.close(r));
  return port;
}

export function startProcess(dataDir: string, port: number, env: Record<string, string> = {}): { child: ChildProcess; output: () => string } {
  let out = "";
  const child = spawn(process.execPath, ["--import", "tsx", path.join(ROOT, "src/main.ts")], {
    cwd: ROOT,
    env: { ...process.env, DATA_DIR: dataDir, PORT: String(port), LOG_LEVEL: "info", ...env },
    stdio: ["ignore", "pipe", "pipe"],
  });
  child.stdout?.on("data", (c: Buffer) => (out += c.toString()));
  child.stderr?.on("data", (c: Buffer) => (out += c.toString()));
  return { child, output: () => out };
}

/** waits for /readyz; returns the CA (the service's own certificate) */
export async function ready(url: string, dataDir: string): Promise<string> {
  const certFile = path.join(dataDir, "tls", "cert.pem");
  for (let i = 0; i < 300; i++) {
    if (fs.existsSync(certFile) && fs.existsSync(path.join(dataDir, "dev-token"))) {
      const ca = fs.readFileSync(certFile, "utf8");
      try {
        if ((await client(url, ca)("/readyz")).status === 200) return ca;
      } catch {
        // not listening yet
      }
    }
    await new Promise((r) => setTimeout(r, 100));
  }
  throw new Error("the service did not become ready within 30 s");
}

export const exited = (child: ChildProcess) => new Promise<number | null>((r) => child.on("exit", (code) => r(code)));
