/**
 * The desired-state build re-reads the cluster's version marker after its reads and builds again when it
 * moved (one snapshot = one committed version, docs/design/flux-v2.md "One poll"); after 10 builds that
 * each saw the marker move it gives up with the ARM-style 503 ServiceUnavailable and `Retry-After`, and the
 * agent polls again. Real parts: the service over HTTPS on a SQLite store, a real ARM PUT landing in the
 * middle of every build (the writer that keeps moving the marker), the agent poll with the cluster's key.
 */
import t from "tap";
import path from "node:path";
import { startServer, tempDir, type TestServer } from "../helpers/server.js";
import { client } from "../helpers/http.js";
import { testAgent } from "../helpers/agent-token.js";
import { clusterBody, clusterPath, configurationPath } from "../helpers/fixtures.js";
import { createStore } from "../../src/store/factory.js";
import { systemClock } from "../../src/ports/clock.js";
import type { Store } from "../../src/store/port.js";

const V1 = "api-version=2024-11-01";
const CV = "api-version=2024-01-01";

/** a store that runs `during` inside each build, between its reads (on the list of fluxConfigurations), while armed */
function storeWithWriter(inner: Store): { store: Store; during: { run?: () => Promise<void> } } {
  const during: { run?: () => Promise<void> } = {};
  let running = false;
  const store = new Proxy(inner, {
    get(target, prop, receiver) {
      if (prop === "list") {
        return async (query: { kind?: string }, page: unknown) => {
          if (query.kind === "fluxConfiguration" && during.run && !running) {
            running = true;
            try {
              await during.run();
            } finally {
              running = false;
            }
          }
          return (target.list as (q: unknown, p: unknown) => Promise<unknown>).call(target, query, page);
        };
      }
      const value = Reflect.get(target, prop, receiver) as unknown;
      return typeof value === "function" ? (value as (...a: unknown[]) => unknown).bind(target) : value;
    },
  });
  return { store, during };
}

let server: TestServer;
let hooked: ReturnType<typeof storeWithWriter>;
t.before(async () => {
  const inner = await createStore({ engine: "sqlite", path: path.join(tempDir("rebuild-"), "store.db") }, systemClock, { runMigrationsAtStartup: true });
  hooked = storeWithWriter(inner);
  server = await startServer({ store: hooked.store, agent: { stalenessMs: 60_000 } });
});
t.teardown(() => server.close());

t.test("a cluster whose marker moves during every build: 10 builds, then 503 ServiceUnavailable with Retry-After; then served", async (t) => {
  const http = client(server.url, server.ca, server.token);
  const raw = client(server.url, server.ca);
  const agent = testAgent("ec");
  t.equal((await http(`${clusterPath("busy")}?${CV}`, { method: "PUT", body: clusterBody(agent.publicKeyB64) })).status, 201);
  const put = (branch: string) => http(`${configurationPath("busy", "apps")}?${V1}`, { method: "PUT", body: { properties: { repositoryUrl: "https://github.com/example/apps", operatorNamespace: "apps", operatorScope: "namespace", operatorParams: `--git-branch=${branch}` } } });
  t.equal((await put("b0")).status, 201);
  const poll = async () => raw(`/agent/v1${clusterPath("busy")}/configurations`, { token: await agent.token(clusterPath("busy")) });
  const desired = server.agentServices.desired;

  // every build gets a real ARM PUT committed between its reads: the marker it re-reads has always moved
  let writes = 0;
  hooked.during.run = async () => {
    writes++;
    const res = await put(`b${writes}`);
    if (res.status !== 200) throw new Error(`the writer's PUT: ${res.status} ${res.text}`);
  };
  const before = desired.builds;
  const refused = await poll();
  t.equal(refused.status, 503, "the agent poll is refused");
  t.equal(refused.json?.error?.code, "ServiceUnavailable", "ARM error body");
  t.type(refused.json?.error?.message, "string");
  t.equal(refused.headers["retry-after"], "1", "Retry-After says when to poll again");
  t.equal(desired.builds - before, 10, "after exactly 10 builds");
  t.equal(writes, 10, "each build saw one more write");
  t.notOk(JSON.stringify(refused.json).includes("configurations\":"), "no partial desired state in the answer");

  // a few moves only: the build settles within its 10 attempts and serves the last committed version
  let left = 3;
  hooked.during.run = async () => {
    if (left-- <= 0) return;
    writes++;
    await put(`b${writes}`);
  };
  const settled = await poll();
  t.equal(settled.status, 200, "served once the marker holds still");
  const apps = (settled.json?.configurations ?? []).find((c: { name: string }) => c.name === "apps");
  t.match(apps?.operatorParams ?? JSON.stringify(apps), `--git-branch=b${writes}`, "the snapshot is the last committed version");

  hooked.during.run = undefined;
  const again = await poll();
  t.equal(again.status, 200);
  t.equal(again.headers.etag, settled.headers.etag, "and it was kept");
});
