/**
 * The start-up contract others script against: the real process (src/main.ts) serves HTTPS on PORT,
 * writes its certificate and a dev token under DATA_DIR, answers /readyz, keeps data across a
 * restart, and exits cleanly on SIGTERM.
 */
import fs from "node:fs";
import path from "node:path";
import t from "tap";
import { exited, freePort, ready, startProcess as start } from "./helpers/process.js";
import { client } from "./helpers/http.js";
import { clusterBody, clusterPath } from "./helpers/fixtures.js";
import { tempDir } from "./helpers/server.js";

t.test("start, serve, stop on SIGTERM, restart with the same data", async (t) => {
  const dataDir = tempDir();
  const port = await freePort();
  const url = `https://127.0.0.1:${port}`;
  const first = start(dataDir, port);
  t.teardown(() => first.child.kill("SIGKILL"));
  const ca = await ready(url, dataDir);
  t.match(ca, /BEGIN CERTIFICATE/);
  t.equal(fs.statSync(path.join(dataDir, "tls", "key.pem")).mode & 0o777, 0o600, "TLS key is owner-only");
  t.equal(fs.statSync(path.join(dataDir, "dev-token")).mode & 0o777, 0o600, "dev token is owner-only");
  const token = fs.readFileSync(path.join(dataDir, "dev-token"), "utf8").trim();
  const http = client(url, ca, token);
  t.equal((await http("/healthz")).status, 200);
  const put = await http(`${clusterPath("durable")}?api-version=2024-01-01`, { method: "PUT", body: clusterBody() });
  t.equal(put.status, 201, put.text);
  t.match(first.output(), /dev-token/, "start-up says how to use the dev token");
  t.notMatch(first.output(), new RegExp(token.slice(-20)), "the token itself is never logged");
  // a request is counted once its response has gone out (fastify's onResponse), which can be just after
  // the client read it: the scrape is retried briefly
  const counted = /http_requests_total\{[^}]*status="201"[^}]*api_version="2024-01-01"/;
  let metrics = await http("/metrics");
  for (let i = 0; i < 20 && !counted.test(metrics.text); i++) {
    await new Promise((r) => setTimeout(r, 50));
    metrics = await http("/metrics");
  }
  t.match(metrics.text, counted);
  t.match(metrics.text, /store_calls_total/);

  first.child.kill("SIGTERM");
  t.equal(await exited(first.child), 0, "graceful exit");
  const certBefore = fs.readFileSync(path.join(dataDir, "tls", "cert.pem"), "utf8");

  const second = start(dataDir, port);
  t.teardown(() => second.child.kill("SIGKILL"));
  const ca2 = await ready(url, dataDir);
  t.equal(ca2, certBefore, "the certificate is kept across restarts");
  const again = await client(url, ca2, token)(`${clusterPath("durable")}?api-version=2024-01-01`);
  t.equal(again.status, 200, "data written before the restart reads after it");
  second.child.kill("SIGTERM");
  t.equal(await exited(second.child), 0);
});
