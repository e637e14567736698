/**
 * Issue #10 §1: a private key is never an agent public key.
 * - every private-key form (PKCS#8, PKCS#1, SEC1, encrypted PKCS#8, OpenSSH, DER, base64 of a PEM, a
 *   PEM bundle holding both halves, a private JWK) gets 400 saying a public key is expected, without
 *   echoing the value;
 * - every public encoding (PEM SPKI, PEM PKCS#1 public, base64 DER SPKI) is stored and returned as
 *   base64 DER SubjectPublicKeyInfo; the same key re-registered in another encoding is no key change
 *   for the agent (same desired-state ETag, its cached token still works);
 * - a cluster stored by an older version with its private key: GET shows only the public half and why
 *   the agent is refused, agent tokens get 401 AgentKeyCompromised, the start-up check rewrites the
 *   stored value and logs the cluster id (never the key), idempotently and safely with two replicas;
 *   a re-PUT of the same key keeps it refused, a new key restores access. On SQLite and Cosmos DB.
 */
import { execFileSync } from "node:child_process";
import crypto from "node:crypto";
import fs from "node:fs";
import path from "node:path";
import { ConnectedKubernetesClient } from "@azure/arm-hybridkubernetes";
import { SignJWT } from "jose";
import t from "tap";
import { ChangeBus } from "../../src/domain/changes.js";
import { inspectKeyMaterial } from "../../src/domain/agent-keys.js";
import { Persistence } from "../../src/persistence/index.js";
import type { ClusterRecord } from "../../src/domain/types.js";
import { AgentKeyAudit } from "../../src/jobs/agent-key-audit.js";
import { createSealing } from "../../src/keys/factory.js";
import { systemClock } from "../../src/ports/clock.js";
import { testAgent } from "../helpers/agent-token.js";
import { openCosmosStore, startCosmos } from "../helpers/cosmos.js";
import { clusterBody, clusterPath, RG, SUB } from "../helpers/fixtures.js";
import { clusterId, storedClusterKey } from "../../src/arm/resource-ids.js";
import { client } from "../helpers/http.js";
import { startServer, tempDir, type TestServer } from "../helpers/server.js";

const CV = "api-version=2024-01-01";
const agentBase = (cluster: string) => `/agent/v1${clusterPath(cluster)}`;

type Pair = { privateKey: crypto.KeyObject; publicKey: crypto.KeyObject; kind: "rsa" | "ec" };

const rsa = (): Pair => ({ ...crypto.generateKeyPairSync("rsa", { modulusLength: 2048 }), kind: "rsa" });
const ec = (): Pair => ({ ...crypto.generateKeyPairSync("ec", { namedCurve: "P-256" }), kind: "ec" });
const spkiB64 = (k: crypto.KeyObject) => k.export({ format: "der", type: "spki" }).toString("base64");
const pem = (k: crypto.KeyObject, type: "pkcs8" | "pkcs1" | "sec1", cipher?: string) =>
  k.export({ format: "pem", type, ...(cipher ? { cipher, passphrase: "correct horse" } : {}) } as crypto.KeyExportOptions<"pem">).toString();
const derB64 = (k: crypto.KeyObject, type: "pkcs8" | "pkcs1" | "sec1", cipher?: string) =>
  k.export({ format: "der", type, ...(cipher ? { cipher, passphrase: "correct horse" } : {}) } as crypto.KeyExportOptions<"der">).toString("base64");
const b64 = (s: string) => Buffer.from(s, "utf8").toString("base64");

/** OpenSSH-format private keys from ssh-keygen (the format `ssh-keygen` writes by default) */
function opensshKeys(): Array<[string, string]> {
  const out: Array<[string, string]> = [];
  const dir = tempDir("kcrp-ssh-");
  try {
    for (const [type, bits] of [["rsa", "2048"], ["ecdsa", "256"], ["ed25519", ""]] as const) {
      const file = path.join(dir, `id_${type}`);
      execFileSync("ssh-keygen", ["-q", "-t", type, ...(bits ? ["-b", bits] : []), "-N", "", "-f", file], { stdio: "ignore" });
      out.push([`OpenSSH ${type}`, fs.readFileSync(file, "utf8")]);
    }
    const enc = path.join(dir, "id_enc");
    execFileSync("ssh-keygen", ["-q", "-t", "ecdsa", "-b", "256", "-N", "a passphrase", "-f", enc], { stdio: "ignore" });
    out.push(["OpenSSH ecdsa, passphrase-protected", fs.readFileSync(enc, "utf8")]);
  } catch {
    // no ssh-keygen: a crafted OpenSSH container (magic, cipher "none", one key) stands in
    const body = Buffer.concat([Buffer.from("openssh-key-v1\0", "latin1"), Buffer.from([0, 0, 0, 4]), Buffer.from("none"), crypto.randomBytes(64)]);
    out.push(["OpenSSH (crafted)", `-----BEGIN OPENSSH PRIVATE KEY-----\n${body.toString("base64").replace(/.{70}/g, "$&\n")}\n-----END OPENSSH PRIVATE KEY-----\n`]);
  } finally {
    fs.rmSync(dir, { recursive: true, force: true });
  }
  return out;
}

/** every private form of a pair the issue names, and a few more */
function privateForms(p: Pair): Array<[string, string]> {
  const k = p.privateKey;
  const forms: Array<[string, string]> = [
    [`${p.kind} PKCS#8 PEM`, pem(k, "pkcs8")],
    [`${p.kind} PKCS#8 PEM, encrypted`, pem(k, "pkcs8", "aes-256-cbc")],
    [`${p.kind} PKCS#8 DER base64`, derB64(k, "pkcs8")],
    [`${p.kind} PKCS#8 DER base64, encrypted`, derB64(k, "pkcs8", "aes-256-cbc")],
    [`${p.kind} PKCS#8 PEM with CRLF and indentation`, `  ${pem(k, "pkcs8").replace(/\n/g, "\r\n")}  `],
    [`${p.kind} base64 of the PKCS#8 PEM text`, b64(pem(k, "pkcs8"))],
    [`${p.kind} bundle: public then private`, `${p.publicKey.export({ format: "pem", type: "spki" }).toString()}${pem(k, "pkcs8")}`],
    [`${p.kind} bundle: private then public`, `${pem(k, "pkcs8")}${p.publicKey.export({ format: "pem", type: "spki" }).toString()}`],
    [`${p.kind} private JWK`, JSON.stringify(k.export({ format: "jwk" }))],
    [`${p.kind} PKCS#8 PEM, label lower-cased`, pem(k, "pkcs8").replace(/PRIVATE KEY/g, "private key")],
    [`${p.kind} DER SPKI with the PKCS#8 DER after it, base64`, Buffer.concat([p.publicKey.export({ format: "der", type: "spki" }), k.export({ format: "der", type: "pkcs8" })]).toString("base64")],
  ];
  if (p.kind === "rsa") forms.push([`rsa PKCS#1 PEM`, pem(k, "pkcs1")], [`rsa PKCS#1 DER base64`, derB64(k, "pkcs1")], [`rsa PKCS#1 PEM, encrypted (legacy)`, pem(k, "pkcs1", "aes-256-cbc")]);
  else forms.push([`ec SEC1 PEM`, pem(k, "sec1")], [`ec SEC1 DER base64`, derB64(k, "sec1")]);
  return forms;
}

function publicForms(p: Pair): Array<[string, string]> {
  const k = p.publicKey;
  const forms: Array<[string, string]> = [
    [`${p.kind} PEM SPKI`, k.export({ format: "pem", type: "spki" }).toString()],
    [`${p.kind} base64 DER SPKI`, spkiB64(k)],
    [`${p.kind} base64 DER SPKI with line breaks`, spkiB64(k).replace(/.{64}/g, "$&\n")],
  ];
  if (p.kind === "rsa") forms.push([`rsa PEM PKCS#1 public`, k.export({ format: "pem", type: "pkcs1" }).toString()]);
  return forms;
}

/** an agent token signed with any private key (the one an attacker copied from a GET) */
async function tokenWith(privateKey: crypto.KeyObject, clusterId: string): Promise<string> {
  const alg = privateKey.asymmetricKeyType === "rsa" ? "RS256" : "ES256";
  const iat = Math.floor(Date.now() / 1000);
  return new SignJWT({}).setProtectedHeader({ alg }).setSubject(clusterId).setAudience("kubernetesconfiguration-agent").setIssuedAt(iat).setExpirationTime(iat + 300).sign(privateKey);
}

/** no run of 24 characters of the submitted value's payload appears in the response */
function echoes(response: string, submitted: string): boolean {
  const payload = submitted.replace(/-----[^-]+-----/g, "").replace(/\s+/g, "");
  for (let i = 0; i + 24 <= payload.length; i += 12) if (response.includes(payload.slice(i, i + 24))) return true;
  return false;
}

t.test("inspectKeyMaterial: every private form is private, every public form public", async (t) => {
  for (const pair of [rsa(), ec()]) {
    for (const [label, value] of privateForms(pair)) t.equal(inspectKeyMaterial(value).holds, "private", label);
    for (const [label, value] of publicForms(pair)) t.equal(inspectKeyMaterial(value).holds, "public", label);
  }
  for (const [label, value] of opensshKeys()) t.equal(inspectKeyMaterial(value).holds, "private", label);
  const ed = crypto.generateKeyPairSync("ed25519");
  t.equal(inspectKeyMaterial(pem(ed.privateKey, "pkcs8")).holds, "private", "ed25519 PKCS#8 (private before unsupported)");
  t.equal(inspectKeyMaterial("not a key").holds, "nothing");
  const pub = ec().publicKey;
  t.equal(inspectKeyMaterial(`${pub.export({ format: "pem", type: "spki" }).toString()}\nMIGHAgEAMBMGByqGSM49AgEGCCqGSM49AwEHBG0wawIBAQQg`).holds, "nothing", "text after a PEM block");
  t.equal(inspectKeyMaterial(Buffer.concat([pub.export({ format: "der", type: "spki" }), Buffer.from([1, 2, 3, 4])]).toString("base64")).holds, "nothing", "bytes after a DER key");
  t.equal(inspectKeyMaterial(b64("hello world, this is text")).holds, "nothing");
});

let server: TestServer;
let arm: ReturnType<typeof client>;
let raw: ReturnType<typeof client>;

t.test("on SQLite: input rules", async (t) => {
  server = await startServer();
  t.teardown(() => server.close());
  arm = client(server.url, server.ca, server.token);
  raw = client(server.url, server.ca);

  t.test("every private-key form is refused with 400, naming what is expected, not echoing the value", async (t) => {
    const cases = [...privateForms(rsa()), ...privateForms(ec()), ...opensshKeys()];
    let n = 0;
    for (const [label, value] of cases) {
      const res = await arm(`${clusterPath(`priv-${n++}`)}?${CV}`, { method: "PUT", body: clusterBody(value) });
      t.equal(res.status, 400, `${label}: ${res.text.slice(0, 200)}`);
      t.equal(res.json?.error?.code, "InvalidParameter", label);
      t.equal(res.json?.error?.target, "properties.agentPublicKeyCertificate", label);
      t.match(res.json?.error?.message, /a public key is expected/, label);
      t.notOk(echoes(res.text, value), `${label}: the value is not echoed`);
      t.notMatch(res.text, /BEGIN/, `${label}: no PEM armour in the response`);
    }
    // nothing of them was stored
    const list = await arm(`/subscriptions/${SUB}/providers/Microsoft.Kubernetes/connectedClusters?${CV}`);
    t.equal(list.status, 200);
    t.notMatch(list.text, /PRIVATE/);
    t.equal(list.json.value.length, 0, "no cluster was created");
  });

  t.test("every public encoding is stored and returned as base64 DER SubjectPublicKeyInfo", async (t) => {
    let n = 0;
    for (const pair of [rsa(), ec()]) {
      const expected = spkiB64(pair.publicKey);
      for (const [label, value] of publicForms(pair)) {
        const name = `pub-${n++}`;
        const put = await arm(`${clusterPath(name)}?${CV}`, { method: "PUT", body: clusterBody(value) });
        t.equal(put.status, 201, `${label}: ${put.text.slice(0, 200)}`);
        t.equal(put.json.properties.agentPublicKeyCertificate, expected, `${label}: PUT answers the normalized key`);
        const get = await arm(`${clusterPath(name)}?${CV}`);
        t.equal(get.json.properties.agentPublicKeyCertificate, expected, `${label}: GET answers the normalized key`);
        const token = await tokenWith(pair.privateKey, clusterPath(name));
        t.equal((await raw(`${agentBase(name)}/configurations`, { token })).status, 200, `${label}: the agent is accepted`);
      }
    }
  });

  t.test("the same key re-registered in another encoding is no key change for the agent", async (t) => {
    const pair = rsa();
    t.equal((await arm(`${clusterPath("same-key")}?${CV}`, { method: "PUT", body: clusterBody(spkiB64(pair.publicKey)) })).status, 201);
    const token = await tokenWith(pair.privateKey, clusterPath("same-key"));
    const first = await raw(`${agentBase("same-key")}/configurations`, { token });
    t.equal(first.status, 200);
    const etag = first.headers.etag as string;
    for (const [label, value] of publicForms(pair)) {
      const put = await arm(`${clusterPath("same-key")}?${CV}`, { method: "PUT", body: clusterBody(value) });
      t.equal(put.status, 200, label);
      const again = await raw(`${agentBase("same-key")}/configurations`, { token, headers: { "if-none-match": etag } });
      t.equal(again.status, 304, `${label}: the cached token still works and the desired state is unchanged`);
    }
    // a different key is a key change
    const other = rsa();
    t.equal((await arm(`${clusterPath("same-key")}?${CV}`, { method: "PUT", body: clusterBody(spkiB64(other.publicKey)) })).status, 200);
    t.equal((await raw(`${agentBase("same-key")}/configurations`, { token })).status, 401, "the old key is refused after a real key change");
  });
});

/** writes a cluster the way a version before the fix did: the submitted private key stored as is */
async function storeAsOldVersion(server: TestServer, name: string, storedKey: string): Promise<ClusterRecord> {
  if (!server.keyProvider) throw new Error("sealing expected");
  const repo = new Persistence(server.store, createSealing(server.store, server.keyProvider, { dekCacheEntries: 100, dekCacheSeconds: 60 }, systemClock).codec);
  const at = new Date().toISOString();
  const record: ClusterRecord = {
    id: clusterId(SUB, RG, name),
    name,
    resourceGroup: RG,
    subscriptionId: SUB,
    location: "eastus",
    tags: { env: "test" },
    identity: { type: "SystemAssigned", principalId: crypto.randomUUID(), tenantId: server.identity.tenantId },
    properties: { agentPublicKeyCertificate: storedKey, distribution: "k3s", infrastructure: "generic", connectivityStatus: "Connected", lastConnectivityTime: at, provisioningState: "Succeeded" },
    systemData: { createdBy: "someone", createdByType: "User", createdAt: at, lastModifiedBy: "someone", lastModifiedByType: "User", lastModifiedAt: at },
  };
  await repo.clusters.write(record, undefined);
  return record;
}

function compromisedClusterPath(label: string, start: () => Promise<{ server: TestServer; done: () => Promise<void> }>) {
  t.test(`${label}: a cluster stored with its private key`, async (t) => {
    const { server, done } = await start();
    t.teardown(done);
    const arm = client(server.url, server.ca, server.token);
    const raw = client(server.url, server.ca);
    // registered with the private key by an older version, in three of the forms it accepted
    const stolen = [
      { name: "leaked-p8", pair: ec(), form: (p: Pair) => pem(p.privateKey, "pkcs8") },
      { name: "leaked-sec1", pair: ec(), form: (p: Pair) => pem(p.privateKey, "sec1") },
      { name: "leaked-pkcs1", pair: rsa(), form: (p: Pair) => pem(p.privateKey, "pkcs1") },
    ];
    for (const s of stolen) await storeAsOldVersion(server, s.name, s.form(s.pair));
    // a public key an older version stored as sent: PEM, with text after the block it ignored
    const oldPem = ec();
    await storeAsOldVersion(server, "old-pem", `${oldPem.publicKey.export({ format: "pem", type: "spki" }).toString()}\ncomment after the key\n`);
    const healthy = testAgent("ec");
    t.equal((await arm(`${clusterPath("healthy")}?${CV}`, { method: "PUT", body: clusterBody(healthy.publicKeyB64) })).status, 201);

    for (const s of stolen) {
      // before the check has run, the read paths refuse on their own
      const get = await arm(`${clusterPath(s.name)}?${CV}`);
      t.equal(get.status, 200);
      t.equal(get.json.properties.agentPublicKeyCertificate, spkiB64(s.pair.publicKey), `${s.name}: GET answers the public half only`);
      t.notMatch(get.text, /PRIVATE/, `${s.name}: nothing private in the GET`);
      t.equal(get.json.properties.connectivityStatus, "Expired", `${s.name}: shows Expired`);
      t.equal(get.json.properties.miscellaneousProperties?.agentKeyStatus, "Compromised", `${s.name}: and why`);
      const res = await raw(`${agentBase(s.name)}/configurations`, { token: await tokenWith(s.pair.privateKey, clusterPath(s.name)) });
      t.equal(res.status, 401, `${s.name}: a token signed with the leaked key is refused`);
      t.equal(res.json?.error?.code, "AgentKeyCompromised");
      t.match(res.json?.error?.message, /compromised.*register/i, "the message says what to do");
    }
    const list = await arm(`/subscriptions/${SUB}/providers/Microsoft.Kubernetes/connectedClusters?${CV}`);
    t.notMatch(list.text, /PRIVATE/, "the subscription-wide list holds no private key");
    const oldPemGet = await arm(`${clusterPath("old-pem")}?${CV}`);
    t.equal(oldPemGet.json?.properties?.agentPublicKeyCertificate, spkiB64(oldPem.publicKey), "a PEM stored by an older version reads as the normalized key");
    t.equal(oldPemGet.json?.properties?.miscellaneousProperties, undefined, "and is not compromised");

    // the start-up check: two replicas at once, then once more
    const logBefore = server.logs.length;
    const lines: Array<{ level: string; message: string; fields: Record<string, unknown> }> = [];
    const replica = new AgentKeyAudit(new Persistence(server.store, createSealing(server.store, server.keyProvider!, { dekCacheEntries: 100, dekCacheSeconds: 60 }, systemClock).codec), new ChangeBus(), (level, message, fields) => lines.push({ level, message, fields }));
    const [a, b] = await Promise.all([server.agentKeyAudit.run(), replica.run()]);
    const found = [...a.compromised, ...b.compromised].sort();
    t.same(found, stolen.map((s) => clusterPath(s.name).toLowerCase()).sort(), "each compromised cluster is handled exactly once across replicas");
    t.equal(a.failed + b.failed, 0);
    t.equal(a.normalized + b.normalized, 1, "the PEM stored as sent is rewritten normalized, once");
    const again = await server.agentKeyAudit.run();
    t.same(again.compromised, [], "idempotent: a second run finds nothing");
    t.equal(again.normalized, 0);

    const logged = [...server.logs.slice(logBefore), ...lines.map((l) => JSON.stringify({ ...l.fields, msg: l.message }))].join("\n");
    for (const s of stolen) {
      t.match(logged, new RegExp(`"clusterId":"${clusterPath(s.name).replace(/\//g, "\\/")}"`, "i"), `${s.name}: its id is logged`);
      t.notOk(echoes(logged, s.form(s.pair)), `${s.name}: the private key is not logged`);
      t.notOk(logged.includes(spkiB64(s.pair.publicKey)), `${s.name}: nor the public one`);
    }
    t.notMatch(logged, /healthy/, "a healthy cluster is not logged");

    // storage now holds the public half and the compromise
    const repo = new Persistence(server.store, createSealing(server.store, server.keyProvider!, { dekCacheEntries: 100, dekCacheSeconds: 60 }, systemClock).codec);
    for (const s of stolen) {
      const stored = await repo.clusters.get(SUB, storedClusterKey(clusterPath(s.name)));
      t.equal(stored?.record.properties.agentPublicKeyCertificate, spkiB64(s.pair.publicKey), `${s.name}: stored value replaced by the public key`);
      t.equal(stored?.record.properties.compromisedAgentKeys?.length, 1, `${s.name}: the key is recorded as compromised`);
      const res = await raw(`${agentBase(s.name)}/configurations`, { token: await tokenWith(s.pair.privateKey, clusterPath(s.name)) });
      t.equal(res.status, 401, `${s.name}: still refused once the stored value is public`);
      t.equal(res.json?.error?.code, "AgentKeyCompromised");
    }

    // the official SDK (2.1.0 predates miscellaneousProperties) reads the state
    const hk = new ConnectedKubernetesClient({ getToken: async () => ({ token: server.token, expiresOnTimestamp: Date.now() + 3600_000 }) }, SUB, {
      endpoint: server.url,
      tlsOptions: { ca: server.ca },
      retryOptions: { maxRetries: 0 },
    });
    const viaSdk = await hk.connectedClusterOperations.get(RG, stolen[1]!.name);
    t.equal(viaSdk.connectivityStatus, "Expired", "SDK: connectivityStatus");
    t.equal(viaSdk.agentPublicKeyCertificate, spkiB64(stolen[1]!.pair.publicKey), "SDK: the public key");

    const oldPemStored = await repo.clusters.get(SUB, storedClusterKey(clusterPath("old-pem")));
    t.equal(oldPemStored?.record.properties.agentPublicKeyCertificate, spkiB64(oldPem.publicKey), "the PEM stored as sent is stored normalized now");
    t.equal(oldPemStored?.record.properties.compromisedAgentKeys, undefined);

    // a PUT of the same key (the GET body as it came, a tag changed) keeps it refused
    const s0 = stolen[0]!;
    const current = await arm(`${clusterPath(s0.name)}?${CV}`);
    const sameKeyPut = await arm(`${clusterPath(s0.name)}?${CV}`, { method: "PUT", body: { ...current.json, tags: { env: "changed" } }, headers: { "if-match": current.headers.etag as string } });
    t.equal(sameKeyPut.status, 200, sameKeyPut.text);
    t.equal(sameKeyPut.json.properties.miscellaneousProperties?.agentKeyStatus, "Compromised", "the same key stays compromised");
    t.notMatch(sameKeyPut.text, /compromisedAgentKeys/, "the service-owned list is not shown");
    t.equal((await raw(`${agentBase(s0.name)}/configurations`, { token: await tokenWith(s0.pair.privateKey, clusterPath(s0.name)) })).status, 401);

    // a new key restores the agent; the old one stays refused, even registered again later
    const fresh = ec();
    const rotated = await arm(`${clusterPath(s0.name)}?${CV}`, { method: "PUT", body: clusterBody(spkiB64(fresh.publicKey)) });
    t.equal(rotated.status, 200);
    t.equal(rotated.json.properties.miscellaneousProperties, undefined, "no longer compromised");
    t.not(rotated.json.properties.connectivityStatus, "Expired");
    t.equal((await raw(`${agentBase(s0.name)}/configurations`, { token: await tokenWith(fresh.privateKey, clusterPath(s0.name)) })).status, 200, "the new key is accepted");
    t.equal((await raw(`${agentBase(s0.name)}/configurations`, { token: await tokenWith(s0.pair.privateKey, clusterPath(s0.name)) })).status, 401, "the old key is not");
    t.equal((await arm(`${clusterPath(s0.name)}?${CV}`, { method: "PUT", body: clusterBody(spkiB64(s0.pair.publicKey)) })).status, 200);
    const back = await raw(`${agentBase(s0.name)}/configurations`, { token: await tokenWith(s0.pair.privateKey, clusterPath(s0.name)) });
    t.equal(back.status, 401, "the compromised key registered again is still refused");
    t.equal(back.json?.error?.code, "AgentKeyCompromised");
    t.equal((await raw(`${agentBase("healthy")}/configurations`, { token: await healthy.token(clusterPath("healthy")) })).status, 200, "a healthy cluster was never disturbed");
  });
}

compromisedClusterPath("SQLite", async () => {
  const s = await startServer();
  return { server: s, done: () => s.close() };
});

compromisedClusterPath("Cosmos DB", async () => {
  const cosmos = await startCosmos();
  const store = await openCosmosStore(cosmos, systemClock);
  await store.migrate();
  const s = await startServer({ store });
  return {
    server: s,
    done: async () => {
      await s.close();
      await cosmos.close();
    },
  };
});
