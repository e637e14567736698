/**
 * Start-up against a store that is down: the real process (src/main.ts) on Cosmos DB behind a TCP
 * proxy that drops every connection. It starts anyway, /healthz answers 200, /readyz 503 with the
 * reason, the API 503 + Retry-After; when the store appears it becomes ready by itself — no crash loop.
 */
import fs from "node:fs";
import path from "node:path";
import t from "tap";
import { EMULATOR_KEY, startCosmos } from "../helpers/cosmos.js";
import { clusterBody, clusterPath } from "../helpers/fixtures.js";
import { client } from "../helpers/http.js";
import { freePort, startProcess } from "../helpers/process.js";
import { tempDir } from "../helpers/server.js";
import { startTcpProxy } from "../helpers/tcp-proxy.js";

const until = async <T>(what: string, ms: number, probe: () => Promise<T | undefined>): Promise<T> => {
  const end = Date.now() + ms;
  while (Date.now() < end) {
    const value = await probe().catch(() => undefined);
    if (value !== undefined) return value;
    await new Promise((r) => setTimeout(r, 100));
  }
  throw new Error(`${what} within ${ms} ms`);
};

t.test("the store is down at start-up: alive, not ready (with the reason), ready by itself once it appears", async (t) => {
  const cosmos = await startCosmos();
  const proxy = await startTcpProxy(Number(new URL(cosmos.endpoint).port));
  proxy.setMode("drop");
  t.teardown(async () => {
    await proxy.close();
    await cosmos.close();
  });
  const dataDir = tempDir();
  const port = await freePort();
  const url = `https://127.0.0.1:${port}`;
  const proc = startProcess(dataDir, port, {
    STORE: "cosmos",
    COSMOS_ENDPOINT: `https://127.0.0.1:${proxy.port}`,
    COSMOS_KEY: EMULATOR_KEY,
    COSMOS_REJECT_UNAUTHORIZED: "false",
    RUN_MIGRATIONS: "true",
    STORE_TIMEOUT_MS: "1000",
    BREAKER_OPEN_MS: "200",
    BREAKER_MAX_OPEN_MS: "1000",
  });
  t.teardown(() => void proc.child.kill("SIGKILL"));
  let exitedEarly = false;
  proc.child.on("exit", () => (exitedEarly = true));

  const certFile = path.join(dataDir, "tls", "cert.pem");
  const ca = await until("the process listens", 30_000, async () => {
    if (!fs.existsSync(certFile)) return undefined;
    const ca = fs.readFileSync(certFile, "utf8");
    return (await client(url, ca)("/healthz")).status === 200 ? ca : undefined;
  });
  const http = client(url, ca);
  const notReady = await http("/readyz");
  t.equal(notReady.status, 503, notReady.text);
  t.equal(notReady.json.status, "store unreachable");
  t.match(notReady.json.reason, /not open yet|circuit open|did not answer/, `the reason: ${notReady.json.reason}`);
  const token = await until("the dev token is written", 30_000, async () => {
    const file = path.join(dataDir, "dev-token");
    return fs.existsSync(file) ? fs.readFileSync(file, "utf8").trim() : undefined;
  });
  const refused = await client(url, ca, token)(`${clusterPath("late")}?api-version=2024-01-01`, { method: "PUT", body: clusterBody() });
  t.equal(refused.status, 503, refused.text);
  t.match(String(refused.headers["retry-after"]), /^\d+$/);
  t.notOk(exitedEarly, "still running: no crash loop");

  proxy.setMode("pass");
  const appeared = performance.now();
  await until("ready once the store appears", 60_000, async () => ((await http("/readyz")).status === 200 ? true : undefined));
  const readyMs = performance.now() - appeared;
  const put = await client(url, ca, token)(`${clusterPath("late")}?api-version=2024-01-01`, { method: "PUT", body: clusterBody() });
  t.equal(put.status, 201, put.text);
  t.match(proc.output(), /store cannot be opened yet/, "one line when the store cannot be opened");
  t.equal(proc.output().split("store cannot be opened yet").length - 1, 1, "and only one");
  t.match(proc.output(), /store opened/);
  t.comment(`start-up with the store down: healthz 200, readyz 503 (${notReady.json.reason}), ready ${readyMs.toFixed(0)} ms after the store appeared`);
});
