/**
 * An acknowledged write survives kill -9: the real process (src/main.ts) is killed with SIGKILL the
 * moment it answers each of a burst of concurrent PUTs, and every PUT it acknowledged reads back after
 * a restart on the same DATA_DIR, secrets included. (Power loss is the fsync's part: the commit is one
 * SQLite transaction under synchronous=FULL, which syncs the WAL before it returns.)
 */
import fs from "node:fs";
import t from "tap";
import { exited, freePort, ready, startProcess as start } from "../helpers/process.js";
import { client } from "../helpers/http.js";
import { agentPublicKey, clusterBody, clusterPath, configurationBody, configurationPath, knownHostsB64 } from "../helpers/fixtures.js";
import { tempDir } from "../helpers/server.js";

const V = "api-version=2024-11-01";

t.test("every acknowledged PUT survives SIGKILL right after its answer", async (t) => {
  const dataDir = tempDir();
  const port = await freePort();
  const url = `https://127.0.0.1:${port}`;
  const first = start(dataDir, port);
  t.teardown(() => first.child.kill("SIGKILL"));
  const ca = await ready(url, dataDir);
  const token = fs.readFileSync(`${dataDir}/dev-token`, "utf8").trim();
  const http = client(url, ca, token);
  t.equal((await http(`${clusterPath("durable")}?api-version=2024-01-01`, { method: "PUT", body: clusterBody(agentPublicKey().publicKeyB64) })).status, 201);
  const acknowledged: string[] = [];
  let killed = false;
  // many PUTs in flight; the process dies the instant the tenth is acknowledged, others mid-way
  await Promise.allSettled(
    Array.from({ length: 40 }, async (_, i) => {
      const name = `cfg-${i}`;
      const put = await http(`${configurationPath("durable", name)}?${V}`, { method: "PUT", body: configurationBody({ sshKnownHostsContents: knownHostsB64() }) });
      if (put.status !== 201 || killed) return;
      acknowledged.push(name);
      if (acknowledged.length >= 10) {
        killed = true;
        first.child.kill("SIGKILL");
      }
    }),
  );
  await exited(first.child);
  t.ok(acknowledged.length >= 10, `${acknowledged.length} PUTs acknowledged before the kill`);

  const second = start(dataDir, port);
  t.teardown(() => second.child.kill("SIGKILL"));
  const http2 = client(url, await ready(url, dataDir), token);
  for (const name of acknowledged) {
    const got = await http2(`${configurationPath("durable", name)}?${V}`);
    t.equal(got.status, 200, `${name} was acknowledged, so it is there`);
    t.ok(got.json.properties.sshKnownHostsContents, `${name}: its secrets committed with it`);
  }
  second.child.kill("SIGTERM");
  await exited(second.child);
});
