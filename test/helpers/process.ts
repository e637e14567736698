/** The real service process (src/main.ts) for tests that start, stop and kill it. */
import { spawn, type ChildProcess } from "node:child_process";
import fs from "node:fs";
import net from "node:net";
import path from "node:path";
import { client } from "./http.js";

export const ROOT = path.resolve(path.dirname(new URL(import.meta.url).pathname), "../..");

export async function freePort(): Promise<number> {
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
