/**
 * Encryption at rest, checked from outside the service: what the store engines actually hold.
 * 1. a canary planted in every customer-writable field comes back through the API where it should,
 *    and appears nowhere in the raw store (SQLite file bytes incl. WAL; raw Cosmos items), in any
 *    usual encoding;
 * 2. raw documents carry only allow-listed plaintext fields, and sealed bodies only enc/kek/dek/ct;
 * 3. a body transplanted from another document, or tampered with, fails closed (500 DataIntegrityFailure);
 * 4. replacing or deleting protected settings destroys the key that sealed them (crypto-shredding).
 * 1, 2 and 4 run on both adapters; 3 edits the SQLite file directly.
 */
import crypto from "node:crypto";
import t, { type Test } from "tap";
import { keyOf, partitionOf } from "../../src/arm/resource-ids.js";
import { SEALED_BODY_FIELDS } from "../../src/crypto/envelope.js";
import { systemClock } from "../../src/ports/clock.js";
import type { Store } from "../../src/store/port.js";
import { openCosmosStore, startCosmos, type CosmosTestServer } from "../helpers/cosmos.js";
import { agentPublicKey, b64, clusterBody, clusterPath, configurationBody, configurationPath, configurationsPath, knownHostsB64, RG, sshPrivateKeyB64, SUB } from "../helpers/fixtures.js";
import { ASSIGNMENT_API, assignmentBody, assignmentPath } from "../helpers/assignments.js";
import { client } from "../helpers/http.js";
import { cosmosItems, findIn, readAllFiles, readSqliteFiles, sqliteRows, sqliteSchema, withSqlite } from "../helpers/raw-store.js";
import { startServer, type TestServer } from "../helpers/server.js";
import { settle } from "../helpers/reconciler.js";

const V = "api-version=2024-11-01";
const CV = "api-version=2024-01-01";
const SUB2 = "00000000-0000-0000-0000-000000000002";

const SEALED_KINDS = ["subscription", "cluster", "configuration", "configurationSecrets", "assignment", "assignmentStatus"];
const SQLITE_TABLES: Record<string, string[]> = {
  documents: ["kind", "key", "partition", "parent", "deleted", "expires_at", "schema_version", "body", "etag", "updated_at"],
  migrations: ["id", "description", "applied_at"],
};
const COSMOS_FIELDS = new Set(["id", "kind", "key", "partition", "parent", "deleted", "expiresAt", "ttl", "schemaVersion", "body", "updatedAt", "etag", "_rid", "_self", "_etag", "_attachments", "_ts"]);
/** bodies of the kinds kept as they are: wrapped keys, the current-key pointer, migration markers */
const PLAIN_BODIES: Record<string, string[][]> = {
  dataKey: [["createdAt", "kek", "wrapped"], ["dek"]],
  secretKey: [["createdAt", "kek", "wrapped"]],
  // migration records; per-cluster desired-state version markers (a counter, no customer data); job leases (replica name, expiry)
  // finished-operation records and pending cluster deletions (flags, no customer data)
  system: [["appliedAt", "description", "id"], ["version"], ["holder", "until"], ["finished"], ["deleting"]],
  // the assignment reconciler's outbox: the key names the cluster, the body is a counter
  clusterWork: [["touches"], ["attempts", "retryAt", "touches"]],
};

interface Adapter {
  name: "sqlite" | "cosmos";
  start(): Promise<{ server: TestServer; cosmos?: CosmosTestServer }>;
}

const ADAPTERS: Adapter[] = [
  { name: "sqlite", start: async () => ({ server: await startServer() }) },
  {
    name: "cosmos",
    async start() {
      const cosmos = await startCosmos();
      const store = await openCosmosStore(cosmos, systemClock);
      await store.migrate();
      return { server: await startServer({ store }), cosmos };
    },
  },
];

const sorted = (keys: Iterable<string>): string[] => [...keys].sort();

/** a raw document, whatever the engine, as { fields, kind, key, body } */
interface RawDoc {
  fields: string[];
  kind: string;
  key: string;
  body: Record<string, unknown>;
  text: string;
}

async function rawDocuments(server: TestServer, cosmos: CosmosTestServer | undefined): Promise<RawDoc[]> {
  if (cosmos) {
    return (await cosmosItems(cosmos)).map((item) => ({
      fields: Object.keys(item),
      kind: String(item.kind),
      key: String(item.key),
      body: item.body as Record<string, unknown>,
      text: JSON.stringify(item),
    }));
  }
  return sqliteRows(server.dataDir).map((row) => ({
    fields: Object.keys(row),
    kind: String(row.kind),
    key: String(row.key),
    body: JSON.parse(String(row.body)) as Record<string, unknown>,
    text: JSON.stringify(row),
  }));
}

for (const adapter of ADAPTERS) {
  t.test(`at rest on ${adapter.name}`, async (t) => {
    const { server, cosmos } = await adapter.start();
    t.teardown(async () => {
      await server.close();
      await cosmos?.close();
    });
    const http = client(server.url, server.ca, server.token);
    const canary = `cnry${crypto.randomBytes(8).toString("hex")}`;
    const c = (field: string) => `${canary}${field}`;
    const systemData = JSON.stringify({ createdBy: c("createdby"), createdByType: "User", createdAt: "2026-01-01T00:00:00Z", lastModifiedBy: c("modifiedby"), lastModifiedByType: "User", lastModifiedAt: "2026-01-02T00:00:00Z" });
    const headers = { "x-ms-arm-resource-system-data": systemData };

    const sshKey = sshPrivateKeyB64();
    const pemLine = Buffer.from(sshKey, "base64").toString().split("\n")[1] ?? "";
    const knownHosts = knownHostsB64(c("host"));
    /** values that must never leave the service, not even through the API */
    const secrets = [b64(c("httpsuser")), c("httpsuser"), b64(c("httpskey")), c("httpskey"), sshKey, pemLine];

    t.test("1. a canary in every customer-writable field: served by the API, absent from the raw store", async (t) => {
      const cluster = await http(`${clusterPath("atrest")}?${CV}`, {
        method: "PUT",
        headers,
        body: clusterBody(agentPublicKey().publicKeyB64, {
          tags: { env: c("tagvalue"), [`k${c("tagkey")}`]: "x" },
          properties: { agentPublicKeyCertificate: agentPublicKey().publicKeyB64, distribution: c("distribution"), infrastructure: c("infrastructure") },
        }),
      });
      t.equal(cluster.status, 201, cluster.text);
      const httpsCfg = await http(`${configurationPath("atrest", "https-cfg")}?${V}`, {
        method: "PUT",
        headers,
        body: configurationBody({
          repositoryUrl: `https://canary-host.example/${c("repourl")}`,
          operatorParams: `--git-readonly --git-user=${c("gituser")}`,
          helmOperatorProperties: { chartVersion: "1.4.0", chartValues: `--set canary=${c("chartvalues")}` },
          configurationProtectedSettings: { httpsUser: b64(c("httpsuser")), httpsKey: b64(c("httpskey")) },
        }),
      });
      t.equal(httpsCfg.status, 201, httpsCfg.text);
      const sshCfg = await http(`${configurationPath("atrest", "ssh-cfg")}?${V}`, {
        method: "PUT",
        headers,
        body: configurationBody({ repositoryUrl: `ssh://git@canary-host.example/${c("sshrepo")}`, sshKnownHostsContents: knownHosts, configurationProtectedSettings: { sshPrivateKey: sshKey } }),
      });
      t.equal(sshCfg.status, 201, sshCfg.text);

      // an assignment carrying canaries in every field it takes, carried to the cluster by the reconciler
      const assignment = await http(`${assignmentPath("atrest-assignment", RG)}?api-version=${ASSIGNMENT_API}`, {
        method: "PUT",
        headers,
        body: assignmentBody(
          { configurationName: "assigned-cfg", clusterSelector: { tags: { env: c("tagvalue") }, distribution: c("distribution") } },
          { repositoryUrl: `https://canary-host.example/${c("assignrepo")}`, operatorParams: `--git-readonly --git-user=${c("assignuser")}`, helmOperatorProperties: { chartVersion: "1.4.0", chartValues: `--set canary=${c("assignvalues")}` } },
        ),
      });
      t.equal(assignment.status, 201, assignment.text);
      await settle(server);
      await server.reconciler.refreshAllSummaries();
      const assigned = await http(`${configurationPath("atrest", "assigned-cfg")}?${V}`);
      t.equal(assigned.status, 200, "the reconciler created the managed configuration");
      t.equal(assigned.json.properties.repositoryUrl, `https://canary-host.example/${c("assignrepo")}`);
      const gotAssignment = await http(`${assignmentPath("atrest-assignment", RG)}?api-version=${ASSIGNMENT_API}`);
      t.equal(gotAssignment.json.properties.configuration.operatorParams, `--git-readonly --git-user=${c("assignuser")}`, "the assignment is served");
      t.equal(gotAssignment.json.properties.complianceSummary.totalClusters, 1, "its status (with the summary) is stored");

      // the API serves what it should
      const gotCluster = await http(`${clusterPath("atrest")}?${CV}`);
      t.equal(gotCluster.status, 200, gotCluster.text);
      t.same(gotCluster.json.tags, { env: c("tagvalue"), [`k${c("tagkey")}`]: "x" }, "tags are served");
      t.equal(gotCluster.json.properties.distribution, c("distribution"));
      t.equal(gotCluster.json.properties.infrastructure, c("infrastructure"));
      t.equal(gotCluster.json.systemData.createdBy, c("createdby"), "systemData from the ARM header is served");
      t.equal(gotCluster.json.systemData.lastModifiedBy, c("modifiedby"));

      const gotHttps = await http(`${configurationPath("atrest", "https-cfg")}?${V}`);
      t.equal(gotHttps.status, 200, gotHttps.text);
      t.equal(gotHttps.json.properties.repositoryUrl, `https://canary-host.example/${c("repourl")}`);
      t.equal(gotHttps.json.properties.operatorParams, `--git-readonly --git-user=${c("gituser")}`);
      t.equal(gotHttps.json.properties.helmOperatorProperties.chartValues, `--set canary=${c("chartvalues")}`);
      t.equal(gotHttps.json.systemData.createdBy, c("createdby"));
      t.same(gotHttps.json.properties.configurationProtectedSettings, {}, "protected settings are never served");

      const gotSsh = await http(`${configurationPath("atrest", "ssh-cfg")}?${V}`);
      t.equal(gotSsh.status, 200, gotSsh.text);
      t.equal(gotSsh.json.properties.sshKnownHostsContents, knownHosts, "known_hosts is served");
      t.match(Buffer.from(gotSsh.json.properties.sshKnownHostsContents, "base64").toString(), c("host"));
      t.same(gotSsh.json.properties.configurationProtectedSettings, {});

      const list = await http(`${configurationsPath("atrest")}?${V}`);
      t.equal(list.status, 200, list.text);
      t.same(list.json.value.map((v: { name: string }) => v.name).sort(), ["assigned-cfg", "https-cfg", "ssh-cfg"]);
      t.equal(list.json.value.find((v: { name: string }) => v.name === "ssh-cfg").properties.sshKnownHostsContents, knownHosts, "the list serves known_hosts too");

      const responses = [cluster, httpsCfg, sshCfg, assignment, gotAssignment, assigned, gotCluster, gotHttps, gotSsh, list].map((r) => r.text);
      for (const s of secrets) t.notOk(responses.some((r) => r.includes(s)), `no response holds the secret ${s.slice(0, 14)}…`);

      // the raw store holds the canary nowhere, in no encoding
      let haystacks: Array<{ name: string; text: string | Buffer }>;
      if (cosmos) {
        const items = await cosmosItems(cosmos);
        t.ok(items.length > 0, "raw Cosmos items were read");
        haystacks = items.map((item) => ({ name: `${String(item.kind)} ${String(item.key)}`, text: JSON.stringify(item) }));
      } else {
        // bytes first, while only the service's connection is open: the WAL is neither checkpointed nor removed
        const files = readSqliteFiles(server.dataDir);
        const names = files.map((f) => f.name);
        t.ok(names.includes("store.db"), "the main database file was read");
        t.ok(names.includes("store.db-wal"), "the WAL was read (recent writes live there until a checkpoint)");
        haystacks = [...files.map((f) => ({ name: f.name, text: f.bytes })), ...readAllFiles(server.dataDir).map((f) => ({ name: `dataDir/${f.name}`, text: f.bytes }))];
        t.ok(files.reduce((n, f) => n + f.bytes.length, 0) > 0, "the store files are not empty");
      }
      // positive control: a value the store does keep in clear (a document key) is found by the same search
      t.ok(findIn(haystacks, "https-cfg").length > 0, "the search finds what the store keeps in clear (a resource key)");
      const hits = findIn(haystacks, canary);
      t.same(hits, [], "the canary is nowhere in the raw store");
      for (const s of secrets) t.same(findIn(haystacks, s), [], `the secret ${s.slice(0, 14)}… is nowhere in the raw store`);
    });

    t.test("2. raw documents carry only allow-listed plaintext", async (t) => {
      if (!cosmos) {
        const schema = sqliteSchema(server.dataDir);
        t.same(sorted(Object.keys(schema)), sorted(Object.keys(SQLITE_TABLES)), "no table but documents and migrations");
        for (const [table, columns] of Object.entries(SQLITE_TABLES)) t.same(sorted(schema[table] ?? []), sorted(columns), `columns of ${table}`);
      }
      const docs = await rawDocuments(server, cosmos);
      const allowed = cosmos ? COSMOS_FIELDS : new Set(SQLITE_TABLES.documents);
      const seenKinds = new Set<string>();
      for (const doc of docs) {
        seenKinds.add(doc.kind);
        const extra = doc.fields.filter((f) => !allowed.has(f));
        t.same(extra, [], `${doc.kind} ${doc.key}: no field outside the allow-list`);
        if (SEALED_KINDS.includes(doc.kind)) {
          t.same(sorted(Object.keys(doc.body)), sorted(SEALED_BODY_FIELDS), `${doc.kind} ${doc.key}: the body is exactly ${SEALED_BODY_FIELDS.join(",")}`);
          t.equal(doc.body.enc, "v1");
          t.ok(typeof doc.body.kek === "string" && typeof doc.body.dek === "string" && typeof doc.body.ct === "string", "kek, dek, ct are strings");
        } else {
          const shapes = PLAIN_BODIES[doc.kind];
          t.ok(shapes, `${doc.kind} is a known kind`);
          const keys = sorted(Object.keys(doc.body)).join(",");
          t.ok(shapes?.some((s) => s.join(",") === keys), `${doc.kind} ${doc.key}: body fields ${keys} are an allowed shape`);
        }
      }
      for (const kind of [...SEALED_KINDS, "dataKey", "secretKey", "system"]) t.ok(seenKinds.has(kind), `documents of kind ${kind} were inspected`);
    });

    t.test("4. replacing or deleting protected settings destroys their key", async (t) => {
      const inner: Store = server.store.inner;
      const partition = partitionOf(SUB);
      const clusterKey = keyOf(`/subscriptions/${SUB}/resourceGroups/${RG}/providers/Microsoft.Kubernetes/connectedClusters/shred`);
      const cfgKey = keyOf(`${clusterPath("shred")}/providers/Microsoft.KubernetesConfiguration/sourceControlConfigurations/cfg`);
      t.equal((await http(`${clusterPath("shred")}?${CV}`, { method: "PUT", body: clusterBody() })).status, 201);
      const put = (user: string) =>
        http(`${configurationPath("shred", "cfg")}?${V}`, {
          method: "PUT",
          body: configurationBody({ repositoryUrl: "https://git.example.com/org/repo.git", configurationProtectedSettings: { httpsUser: b64(user), httpsKey: b64(`${user}-key`) } }),
        });
      const secretKeys = async () => (await inner.list({ kind: "secretKey", partition, parent: clusterKey }, { limit: 100 })).items.map((d) => d.key).sort();
      const sealedWith = async () => {
        const doc = await inner.get("configurationSecrets", cfgKey, partition);
        return doc ? String(doc.body.dek) : undefined;
      };

      t.equal((await put("first-user")).status, 201);
      const first = await sealedWith();
      t.ok(first?.startsWith("s-"), "the secrets are sealed with a key of their own");
      t.ok(await inner.get("secretKey", first ?? "", partition), "that key is stored");
      t.same(await secretKeys(), [first], "one secret key for the cluster");

      t.equal((await put("second-user")).status, 200);
      const second = await sealedWith();
      t.ok(second && second !== first, "new secrets, new key");
      t.notOk(await inner.get("secretKey", first ?? "", partition), "the replaced secrets' key is destroyed");
      t.ok(await inner.get("secretKey", second ?? "", partition), "the new key exists");
      t.same(await secretKeys(), [second], "only the current key remains");

      t.equal((await http(`${configurationPath("shred", "cfg")}?${V}`, { method: "DELETE" })).status, 200);
      t.notOk(await inner.get("configurationSecrets", cfgKey, partition), "the secrets document is gone");
      t.notOk(await inner.get("secretKey", second ?? "", partition), "the deleted secrets' key is destroyed");
      t.same(await secretKeys(), [], "no secret key remains for the configuration");
    });
  });
}

t.test("3. transplanted or tampered bodies fail closed (SQLite)", async (t) => {
  const server = await startServer();
  t.teardown(() => server.close());
  const http = client(server.url, server.ca, server.token);
  const canary = `cnry${crypto.randomBytes(8).toString("hex")}`;
  const userB64 = b64(`${canary}user`);
  const keyB64 = b64(`${canary}key`);
  for (const sub of [SUB, SUB2]) t.equal((await http(`${clusterPath("tx", sub)}?${CV}`, { method: "PUT", body: clusterBody() })).status, 201);
  const body = (name: string) =>
    configurationBody({ repositoryUrl: `https://git.example.com/${canary}/${name}.git`, configurationProtectedSettings: { httpsUser: userB64, httpsKey: keyB64 } });
  for (const [sub, name] of [[SUB, "a"], [SUB, "b"], [SUB2, "a"]] as const) {
    const res = await http(`${configurationPath("tx", name, sub)}?${V}`, { method: "PUT", body: body(name) });
    t.equal(res.status, 201, res.text);
  }
  const keyOfCfg = (name: string, sub = SUB) => keyOf(`${clusterPath("tx", sub)}/providers/Microsoft.KubernetesConfiguration/sourceControlConfigurations/${name}`);
  const getBody = (key: string, kind = "configuration") =>
    withSqlite(server.dataDir, (db) => (db.prepare("SELECT body FROM documents WHERE kind = ? AND key = ?").get(kind, key) as { body: string }).body);
  const setBody = (key: string, value: string, kind = "configuration") =>
    withSqlite(server.dataDir, (db) => db.prepare("UPDATE documents SET body = ? WHERE kind = ? AND key = ?").run(value, kind, key).changes);
  const bKey = keyOfCfg("b");
  const originalB = getBody(bKey);

  const expectIntegrityFailure = async (t: Test, what: string) => {
    const logsBefore = server.logs.length;
    const res = await http(`${configurationPath("tx", "b")}?${V}`);
    t.equal(res.status, 500, `${what}: GET answers 500`);
    t.equal(res.json?.error?.code, "DataIntegrityFailure", `${what}: the error code`);
    for (const s of [canary, userB64, keyB64]) t.notOk(res.text.includes(s), `${what}: the response names no secret or canary`);
    const newLogs = server.logs.slice(logsBefore);
    t.ok(
      newLogs.some((l) => l.includes('"level":50') && l.includes(bKey)),
      `${what}: an error line names the resource ${bKey}`,
    );
    t.notOk(newLogs.some((l) => l.includes(canary) || l.includes(userB64) || l.includes(keyB64)), `${what}: the log names no secret or canary`);
    const a = await http(`${configurationPath("tx", "a")}?${V}`);
    t.equal(a.status, 200, `${what}: the intact sibling still reads`);
    // the list of the cluster holding the broken item fails as a whole (observed: 500 DataIntegrityFailure,
    // the page is decoded all at once, so one unreadable item refuses the page rather than being skipped)
    const list = await http(`${configurationsPath("tx")}?${V}`);
    t.equal(list.status, 500, `${what}: the list containing it answers 500`);
    t.equal(list.json?.error?.code, "DataIntegrityFailure", `${what}: the list's error code`);
    t.notOk(list.text.includes(canary), `${what}: the list's error names no canary`);
    // restored, it reads again: nothing about the failure was cached
    t.equal(setBody(bKey, originalB), 1);
    t.equal((await http(`${configurationPath("tx", "b")}?${V}`)).status, 200, `${what}: restored, B reads again`);
  };

  t.test("transplant within the cluster", async (t) => {
    t.equal(setBody(bKey, getBody(keyOfCfg("a"))), 1);
    await expectIntegrityFailure(t, "A's body in B");
  });
  t.test("transplant across subscriptions", async (t) => {
    t.equal(setBody(bKey, getBody(keyOfCfg("a", SUB2))), 1);
    await expectIntegrityFailure(t, "another subscription's body in B");
  });
  t.test("the secrets body moved into the record", async (t) => {
    t.equal(setBody(bKey, getBody(bKey, "configurationSecrets")), 1);
    await expectIntegrityFailure(t, "B's sealed secrets as B's record");
  });
  t.test("one character of ct flipped", async (t) => {
    const sealed = JSON.parse(originalB) as Record<string, string>;
    const ct = sealed.ct ?? "";
    const at = Math.floor(ct.length / 2);
    const flipped = `${ct.slice(0, at)}${ct[at] === "A" ? "B" : "A"}${ct.slice(at + 1)}`;
    t.not(flipped, ct);
    t.equal(setBody(bKey, JSON.stringify({ ...sealed, ct: flipped })), 1);
    await expectIntegrityFailure(t, "flipped ct");
  });
  t.test("ct truncated", async (t) => {
    const sealed = JSON.parse(originalB) as Record<string, string>;
    const ct = sealed.ct ?? "";
    t.equal(setBody(bKey, JSON.stringify({ ...sealed, ct: ct.slice(0, ct.length - 4) })), 1);
    await expectIntegrityFailure(t, "ct short of its last bytes");
    t.equal(setBody(bKey, JSON.stringify({ ...sealed, ct: ct.slice(0, 20) })), 1);
    await expectIntegrityFailure(t, "ct shorter than iv and tag");
  });
  t.test("the same ct named under another data key", async (t) => {
    // B's record was just read, so its plaintext is in memory: the hit must need the key as well as the ct
    t.equal((await http(`${configurationPath("tx", "b")}?${V}`)).status, 200);
    const sealed = JSON.parse(originalB) as Record<string, string>;
    const otherDek = (JSON.parse(getBody(bKey, "configurationSecrets")) as Record<string, string>).dek ?? "";
    t.not(otherDek, sealed.dek);
    t.equal(setBody(bKey, JSON.stringify({ ...sealed, dek: otherDek })), 1);
    await expectIntegrityFailure(t, "dek swapped");
  });
  t.test("a plaintext body where a sealed one belongs", async (t) => {
    t.equal(setBody(bKey, JSON.stringify({ id: "x", name: "b" })), 1);
    await expectIntegrityFailure(t, "unsealed body");
  });
});
