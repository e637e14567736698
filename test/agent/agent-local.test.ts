/** Agent.runOnce() against an in-test HTTPS stub of the agent API contract. */
import crypto from "node:crypto";
import fs from "node:fs";
import https from "node:https";
import os from "node:os";
import path from "node:path";
import t from "tap";
import { CompactEncrypt, jwtVerify } from "jose";
import { parse } from "yaml";
import { Agent, type AppliedEvent } from "../../src/agent/agent.js";
import { AgentClient, AgentHttpError } from "../../src/agent/client.js";
import { generateAgentKey, loadAgentKey, type AgentKeyKind } from "../../src/agent/keys.js";
import type { DesiredConfiguration, DesiredState, StatusReport } from "../../src/contract/agent-api.js";
import { loadOrCreateTls } from "../../src/server/tls.js";

const CLUSTER = "/subscriptions/00000000-0000-0000-0000-000000000001/resourceGroups/rg1/providers/Microsoft.Kubernetes/connectedClusters/c1";
const AUD = "kubernetesconfiguration-agent";
const b64 = (s: string) => Buffer.from(s, "utf8").toString("base64");

interface Stub {
  url: string;
  ca: string;
  state: DesiredState;
  etag: string;
  statuses: Array<{ name: string; body: StatusReport }>;
  heartbeats: unknown[];
  polls: Array<{ ifNoneMatch: string | undefined; status: number }>;
  publish(state: DesiredState): void;
  close(): Promise<void>;
}

async function startStub(tlsDir: string, publicKeyB64: string): Promise<Stub> {
  const tls = await loadOrCreateTls(tlsDir, {});
  const publicKey = crypto.createPublicKey({ key: Buffer.from(publicKeyB64, "base64"), format: "der", type: "spki" });
  const base = `/agent/v1${CLUSTER}`;
  const stub = {
    state: { generation: 0, pollIntervalSeconds: 5, configurations: [] } as DesiredState,
    etag: '"0"',
    statuses: [] as Stub["statuses"],
    heartbeats: [] as unknown[],
    polls: [] as Stub["polls"],
    publish(state: DesiredState) {
      this.state = state;
      this.etag = `"${state.generation}"`;
    },
  };
  const server = https.createServer({ key: tls.key, cert: tls.cert }, (req, res) => {
    const chunks: Buffer[] = [];
    req.on("data", (c: Buffer) => chunks.push(c));
    req.on("end", async () => {
      const send = (status: number, body?: unknown, headers: Record<string, string> = {}) => {
        res.writeHead(status, { ...(body !== undefined ? { "content-type": "application/json" } : {}), ...headers });
        res.end(body !== undefined ? JSON.stringify(body) : undefined);
      };
      try {
        const token = /^Bearer (.+)$/.exec(req.headers.authorization ?? "")?.[1];
        if (!token) return send(401, { error: "no token" });
        const { payload, protectedHeader } = await jwtVerify(token, publicKey, { audience: AUD, subject: CLUSTER });
        if (typeof payload.exp !== "number" || typeof payload.iat !== "number" || payload.exp - payload.iat !== 300) return send(401, { error: "lifetime" });
        if (!["ES256", "RS256"].includes(protectedHeader.alg)) return send(401, { error: "alg" });
      } catch (err) {
        return send(401, { error: String(err) });
      }
      const url = new URL(req.url ?? "/", "https://stub");
      if (req.method === "GET" && url.pathname === `${base}/configurations`) {
        if (url.searchParams.get("waitSeconds") === null) return send(400, { error: "waitSeconds" });
        const inm = req.headers["if-none-match"];
        const status = inm === stub.etag ? 304 : 200;
        stub.polls.push({ ifNoneMatch: inm, status });
        return status === 304 ? send(304) : send(200, stub.state, { etag: stub.etag });
      }
      const m = new RegExp(`^${base.replace(/[.*+?^${}()|[\]\\]/g, "\\$&")}/configurations/([^/]+)/status$`).exec(url.pathname);
      if (req.method === "POST" && m) {
        stub.statuses.push({ name: decodeURIComponent(m[1] ?? ""), body: JSON.parse(Buffer.concat(chunks).toString()) as StatusReport });
        return send(200, { accepted: true });
      }
      if (req.method === "POST" && url.pathname === `${base}/heartbeat`) {
        stub.heartbeats.push(JSON.parse(Buffer.concat(chunks).toString()));
        return send(204);
      }
      return send(404, { error: "not found" });
    });
  });
  await new Promise<void>((resolve) => server.listen(0, "127.0.0.1", resolve));
  const port = (server.address() as { port: number }).port;
  return Object.assign(stub, {
    url: `https://127.0.0.1:${port}`,
    ca: tls.cert,
    close: () =>
      new Promise<void>((resolve) => {
        server.closeAllConnections();
        server.close(() => resolve());
      }),
  });
}

async function seal(publicKeyB64: string, kind: AgentKeyKind, plaintext: unknown): Promise<string> {
  const key = crypto.createPublicKey({ key: Buffer.from(publicKeyB64, "base64"), format: "der", type: "spki" });
  return new CompactEncrypt(new TextEncoder().encode(JSON.stringify(plaintext)))
    .setProtectedHeader({ alg: kind === "ec" ? "ECDH-ES+A256KW" : "RSA-OAEP-256", enc: "A256GCM" })
    .encrypt(key);
}

function cfg(name: string, generation: number, extra: Partial<DesiredConfiguration> = {}): DesiredConfiguration {
  return {
    name,
    id: `${CLUSTER}/providers/Microsoft.KubernetesConfiguration/sourceControlConfigurations/${name}`,
    generation,
    deleted: false,
    properties: {
      repositoryUrl: "git@github.com:example/cluster-config.git",
      operatorNamespace: "flux",
      operatorInstanceName: `${name}-flux`,
      operatorType: "Flux",
      operatorParams: "--git-readonly",
      operatorScope: "namespace",
      enableHelmOperator: true,
      helmOperatorProperties: { chartVersion: "1.4.0", chartValues: "--set helm.versions=v3" },
    },
    ...extra,
  };
}

const readDocs = (dir: string) =>
  fs
    .readdirSync(dir)
    .filter((f) => f.endsWith(".yaml"))
    .sort()
    .map((f) => parse(fs.readFileSync(path.join(dir, f), "utf8")) as Record<string, any>);

/** a temp dir, an agent key of `kind`, a stub serving CLUSTER, and a client for `clusterId` trusting it; all cleaned up */
async function fixture(test: Pick<typeof t, "teardown">, kind: AgentKeyKind, clusterId = CLUSTER) {
  const tmp = fs.mkdtempSync(path.join(os.tmpdir(), "agent-local-"));
  test.teardown(() => fs.rmSync(tmp, { recursive: true, force: true }));
  const { privateKeyPem, publicKeyB64 } = generateAgentKey(kind);
  const privateKey = loadAgentKey(privateKeyPem);
  const stub = await startStub(path.join(tmp, "tls"), publicKeyB64);
  const client = new AgentClient({ serviceUrl: stub.url, clusterId, privateKey, ca: stub.ca });
  test.teardown(async () => {
    client.close();
    await stub.close();
  });
  return { tmp, publicKeyB64, privateKey, stub, client };
}

for (const kind of ["ec", "rsa"] as const) {
  t.test(`runOnce against the stub (${kind} key)`, async (t) => {
    const { tmp, publicKeyB64, privateKey, stub, client } = await fixture(t, kind);
    const outDir = path.join(tmp, "out");
    const events: AppliedEvent[] = [];
    const agent = new Agent({ client, privateKey, outDir, onApplied: (e) => events.push(e) });

    await client.heartbeat({ agentVersion: "0.1.0", kubernetesVersion: "v1.29.4", totalNodeCount: 3 });
    t.same(stub.heartbeats, [{ agentVersion: "0.1.0", kubernetesVersion: "v1.29.4", totalNodeCount: 3 }]);

    const sshPrivateKey = b64("-----BEGIN OPENSSH PRIVATE KEY-----\nnot-a-real-key\n-----END OPENSSH PRIVATE KEY-----\n");
    const knownHosts = "github.com ssh-ed25519 AAAAC3NzaC1lZDI1NTE5AAAAIOMqqnkVzrm0SdG6UOoqKLsabgH5C9okWi0dh2l9GKJl\n";
    const sealed = await seal(publicKeyB64, kind, { protectedSettings: { sshPrivateKey }, sshKnownHostsContents: b64(knownHosts) });
    stub.publish({ generation: 1, pollIntervalSeconds: 7, configurations: [cfg("cfg1", 1, { protectedSettings: sealed }), cfg("plain", 4)] });

    const first = await agent.runOnce();
    t.equal(first.status, 200);
    t.same(first.applied.sort(), ["cfg1", "plain"]);
    t.equal(first.pollIntervalSeconds, 7);

    const dir = path.join(outDir, "cfg1");
    const docs = readDocs(dir);
    t.equal(docs[0]?.kind, "Namespace");
    t.ok(fs.readdirSync(dir).includes("00-namespace.yaml"));
    const deploySecret = docs.find((d) => d.kind === "Secret" && d.metadata.name === "cfg1-flux-git-deploy");
    t.equal(deploySecret?.data.identity, sshPrivateKey, "the sealed ssh key, base64 as given");
    t.equal(docs.find((d) => d.kind === "ConfigMap")?.data.known_hosts, knownHosts);
    t.ok(docs.find((d) => d.kind === "Deployment" && d.metadata.name === "cfg1-flux-helm-operator"));
    t.equal(fs.statSync(path.join(dir, "04-secret.yaml")).mode & 0o777, 0o600);
    t.notOk(fs.readdirSync(outDir).some((f) => f.includes(".tmp-") || f.includes(".old-")), "no temp directories left");

    const s1 = stub.statuses.find((s) => s.name === "cfg1")?.body;
    t.equal(s1?.complianceState, "Installed");
    t.equal(s1?.observedGeneration, 1);
    t.equal(s1?.protectedSettingsReceived, true);
    t.ok(s1?.lastConfigApplied && !Number.isNaN(Date.parse(s1.lastConfigApplied)));
    t.notOk("repositoryPublicKey" in (s1 ?? {}), "the user's key is unreadable: no public key rather than a made-up one");
    t.notOk(fs.existsSync(path.join(dir, ".deploy-key.pub")), "no deploy key is generated beside a key of the user's");
    const s2 = stub.statuses.find((s) => s.name === "plain")?.body;
    t.equal(s2?.observedGeneration, 4);
    t.match(s2?.repositoryPublicKey, /^ssh-ed25519 AAAAC3NzaC1lZDI1NTE5AAAA[A-Za-z0-9+/=]+ flux-plain-flux$/, "no key given: the deploy key Flux would generate");
    t.equal(fs.readFileSync(path.join(outDir, "plain", ".deploy-key.pub"), "utf8").trim(), s2?.repositoryPublicKey);
    t.notOk("protectedSettingsReceived" in (s2 ?? {}), "no secrets, no flag");
    t.equal(readDocs(path.join(outDir, "plain")).find((d) => d.kind === "Secret")?.data, undefined);
    t.same(events.map((e) => [e.name, e.removed]).sort(), [["cfg1", false], ["plain", false]]);

    // unchanged: the ETag gets a 304 and nothing is reported
    const second = await agent.runOnce();
    t.equal(second.status, 304);
    t.same(stub.polls.at(-1), { ifNoneMatch: '"1"', status: 304 });
    t.equal(stub.statuses.length, 2);

    // a new service generation where cfg1 is unchanged and plain is bumped: cfg1 skipped, plain re-applied, deploy key kept
    const plainKey = fs.readFileSync(path.join(outDir, "plain", ".deploy-key.pub"), "utf8");
    stub.publish({ generation: 2, pollIntervalSeconds: 7, configurations: [cfg("cfg1", 1, { protectedSettings: sealed }), cfg("plain", 5)] });
    const third = await agent.runOnce();
    t.same(third.skipped, ["cfg1"]);
    t.same(third.applied, ["plain"]);
    t.equal(stub.statuses.length, 3);
    t.equal(stub.statuses.at(-1)?.body.repositoryPublicKey, plainKey.trim(), "deploy key survives a re-apply");

    // a fresh agent on the same directory (restart) re-polls without ETag but reports nothing new
    const restarted = new Agent({ client, privateKey, outDir });
    const afterRestart = await restarted.runOnce();
    t.equal(afterRestart.status, 200);
    t.same(afterRestart.skipped.sort(), ["cfg1", "plain"]);
    t.equal(stub.statuses.length, 3);

    // tombstone: directory removed, removed: true reported once
    stub.publish({ generation: 3, pollIntervalSeconds: 7, configurations: [cfg("cfg1", 2, { deleted: true }), cfg("plain", 5)] });
    const fourth = await agent.runOnce();
    t.same(fourth.removed, ["cfg1"]);
    t.notOk(fs.existsSync(dir), "cfg1 directory removed");
    const tomb = stub.statuses.at(-1);
    t.equal(tomb?.name, "cfg1");
    t.equal(tomb?.body.removed, true);
    t.equal(tomb?.body.observedGeneration, 2);
    t.same(events.at(-1) && [events.at(-1)?.name, events.at(-1)?.removed], ["cfg1", true]);
    stub.publish({ generation: 4, pollIntervalSeconds: 7, configurations: [cfg("cfg1", 2, { deleted: true }), cfg("plain", 5)] });
    await agent.runOnce();
    t.equal(stub.statuses.length, 4, "a tombstone already reported is not reported again");
    t.ok(fs.existsSync(path.join(outDir, "plain")));

    // a protectedSettings sealed to another key: Failed reported, nothing written
    const other = generateAgentKey(kind);
    stub.publish({ generation: 5, pollIntervalSeconds: 7, configurations: [cfg("wrongkey", 1, { protectedSettings: await seal(other.publicKeyB64, kind, { protectedSettings: {} }) })] });
    const fifth = await agent.runOnce();
    t.same(fifth.failed, ["wrongkey"]);
    t.equal(stub.statuses.at(-1)?.body.complianceState, "Failed");
    t.equal(stub.statuses.at(-1)?.body.messageLevel, "Error");
    t.notOk(fs.existsSync(path.join(outDir, "wrongkey")));
    t.notOk(fs.existsSync(path.join(outDir, "plain")), "configurations no longer listed are pruned");
  });
}

t.test("a token for another cluster is refused with a status-carrying error", async (t) => {
  const { privateKey, stub, client } = await fixture(t, "ec", `${CLUSTER}x`);
  const err = await client.poll({ waitSeconds: 0 }).catch((e: unknown) => e);
  t.ok(err instanceof AgentHttpError);
  t.equal((err as AgentHttpError).status, 401, "sub does not match the cluster the stub serves");
  t.match((err as AgentHttpError).body, /error/);
  const untrusted = new AgentClient({ serviceUrl: stub.url, clusterId: CLUSTER, privateKey });
  t.teardown(() => untrusted.close());
  await t.rejects(untrusted.poll({ waitSeconds: 0 }), "the self-signed certificate is not trusted without --ca");
});

t.test("run() heartbeats first, applies, and stops on abort", async (t) => {
  const { tmp, privateKey, stub, client } = await fixture(t, "rsa");
  stub.publish({ generation: 1, pollIntervalSeconds: 1, configurations: [cfg("looped", 1)] });
  const controller = new AbortController();
  const agent = new Agent({
    client,
    privateKey,
    outDir: path.join(tmp, "out"),
    waitSeconds: 1,
    heartbeat: { kubernetesVersion: "v1.30.0", totalNodeCount: 2 },
    onApplied: () => setTimeout(() => controller.abort(), 50),
  });
  const started = Date.now();
  await agent.run({ signal: controller.signal });
  t.ok(Date.now() - started < 5000, "abort ends the loop promptly");
  t.same(stub.heartbeats, [{ agentVersion: "0.1.0", kubernetesVersion: "v1.30.0", totalNodeCount: 2 }]);
  t.same(stub.statuses.map((s) => [s.name, s.body.complianceState]), [["looped", "Installed"]]);
});
