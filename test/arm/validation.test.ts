/**
 * Every validation rule of a sourceControlConfigurations / connectedClusters PUT, over HTTPS against
 * the real server: the refusal's status, ARM error shape and target, and that nothing was written.
 */
import crypto from "node:crypto";
import t, { type Test } from "tap";
import { startServer, type TestServer } from "../helpers/server.js";
import { client, type HttpResponse, type RequestOptions } from "../helpers/http.js";
import { assignmentBody, assignmentPath, withApi } from "../helpers/assignments.js";
import { agentPublicKey, b64, clusterBody, clusterPath, configurationBody, configurationPath, configurationsPath, knownHostsB64, sshPrivateKeyB64, sshString as sshStr, u32 } from "../helpers/fixtures.js";

const V = "api-version=2024-11-01";
const CV = "api-version=2024-01-01";
const CLUSTER = "c-valid";
const HTTPS_URL = "https://github.com/example/repo";

let server: TestServer;
let http: ReturnType<typeof client>;
let seq = 0;

t.before(async () => {
  server = await startServer();
  http = client(server.url, server.ca, server.token);
  const res = await http(`${clusterPath(CLUSTER)}?${CV}`, { method: "PUT", body: clusterBody() });
  if (res.status !== 201) throw new Error(`cluster create: ${res.status} ${res.text}`);
});
t.teardown(() => server.close());

// ---- local helpers -------------------------------------------------------------------------

const uniq = (prefix: string): string => `${prefix}-${++seq}`;
const cfgUrl = (name: string, query = V): string => `${configurationPath(CLUSTER, name)}${query ? `?${query}` : ""}`;


/** a real OpenSSH-format (openssh-key-v1) ed25519 private key, optionally claiming a cipher */
function openSshEd25519(cipher = "none"): string {
  const { privateKey, publicKey } = crypto.generateKeyPairSync("ed25519");
  const pub = Buffer.from(publicKey.export({ format: "jwk" }).x ?? "", "base64url");
  const seed = Buffer.from(privateKey.export({ format: "jwk" }).d ?? "", "base64url");
  const pubBlob = Buffer.concat([sshStr("ssh-ed25519"), sshStr(pub)]);
  const check = crypto.randomBytes(4).readUInt32BE(0);
  let priv = Buffer.concat([u32(check), u32(check), sshStr("ssh-ed25519"), sshStr(pub), sshStr(Buffer.concat([seed, pub])), sshStr("test@example")]);
  const pad: number[] = [];
  for (let i = 1; (priv.length + pad.length) % 8 !== 0; i++) pad.push(i);
  priv = Buffer.concat([priv, Buffer.from(pad)]);
  const kdf = cipher === "none" ? "none" : "bcrypt";
  const kdfOptions = cipher === "none" ? Buffer.alloc(0) : Buffer.concat([sshStr(crypto.randomBytes(16)), u32(16)]);
  const blob = Buffer.concat([Buffer.from("openssh-key-v1\0", "latin1"), sshStr(cipher), sshStr(kdf), sshStr(kdfOptions), u32(1), sshStr(pubBlob), sshStr(priv)]);
  const lines = blob.toString("base64").match(/.{1,70}/g) ?? [];
  return `-----BEGIN OPENSSH PRIVATE KEY-----\n${lines.join("\n")}\n-----END OPENSSH PRIVATE KEY-----\n`;
}

const pemB64 = (key: crypto.KeyObject, type: "pkcs1" | "pkcs8" | "sec1"): string => b64(key.export({ format: "pem", type }).toString());

/** status, ARM error shape {error:{code,message,target}}, request id */
function assertRefusal(t: Tap, label: string, res: HttpResponse, status: number, target: string, code?: string): void {
  t.equal(res.status, status, `${label}: status (${res.text.slice(0, 300)})`);
  t.match(res.headers["content-type"], /application\/json/, `${label}: json`);
  t.type(res.json?.error?.code, "string", `${label}: error.code`);
  t.type(res.json?.error?.message, "string", `${label}: error.message`);
  t.equal(res.json?.error?.target, target, `${label}: error.target`);
  if (code !== undefined) t.equal(res.json?.error?.code, code, `${label}: error.code value`);
  t.ok(res.headers["x-ms-request-id"], `${label}: request id`);
}

type Tap = Test;

/** a refused create: the configuration does not exist afterwards */
async function refusedCreate(t: Tap, label: string, body: unknown, target: string, code?: string, status = 400): Promise<HttpResponse> {
  const name = uniq("bad");
  const res = await http(cfgUrl(name), { method: "PUT", body });
  assertRefusal(t, label, res, status, target, code);
  const after = await http(cfgUrl(name));
  t.equal(after.status, 404, `${label}: nothing written`);
  return res;
}

async function acceptedCreate(t: Tap, label: string, body: unknown): Promise<HttpResponse> {
  const name = uniq("ok");
  const res = await http(cfgUrl(name), { method: "PUT", body });
  t.equal(res.status, 201, `${label}: accepted (${res.text.slice(0, 300)})`);
  const after = await http(cfgUrl(name));
  t.equal(after.status, 200, `${label}: stored`);
  return res;
}

const protectedBody = (settings: Record<string, unknown>, url = "git@github.com:example/cluster-config.git", extra: Record<string, unknown> = {}) =>
  configurationBody({ repositoryUrl: url, configurationProtectedSettings: settings, ...extra });

// ---- configurations -----------------------------------------------------------------------

t.test("configuration name: too long, invalid characters", async (t) => {
  const long = "a".repeat(64);
  const res = await http(cfgUrl(long), { method: "PUT", body: configurationBody({ operatorInstanceName: "inst" }) });
  assertRefusal(t, "64-char name", res, 400, "name", "InvalidResourceName");
  t.match(res.json.error.message, /at most 63/);
  t.equal((await http(cfgUrl(long))).status, 404, "64-char name: nothing written");

  const bad = await http(cfgUrl("bad_name"), { method: "PUT", body: configurationBody({ operatorInstanceName: "inst" }) });
  assertRefusal(t, "bad_name", bad, 400, "name", "InvalidResourceName");
  t.equal((await http(cfgUrl("bad_name"))).status, 404, "bad_name: nothing written");

  const max = "a".repeat(63);
  const ok = await http(cfgUrl(max), { method: "PUT", body: configurationBody({ operatorInstanceName: "inst" }) });
  t.equal(ok.status, 201, "63 chars is the limit, accepted");
});

t.test("operatorNamespace and operatorInstanceName: length and characters", async (t) => {
  for (const field of ["operatorNamespace", "operatorInstanceName"]) {
    // the length limit is also in the OpenAPI schema (maxLength 23), which answers first with InvalidRequestContent
    await refusedCreate(t, `${field} 24 chars`, configurationBody({ [field]: "a".repeat(24) }), `properties.${field}`);
    await refusedCreate(t, `${field} upper case`, configurationBody({ [field]: "Flux" }), `properties.${field}`, "InvalidParameter");
    await refusedCreate(t, `${field} underscore`, configurationBody({ [field]: "my_ns" }), `properties.${field}`, "InvalidParameter");
    await refusedCreate(t, `${field} leading dash`, configurationBody({ [field]: "-ns" }), `properties.${field}`, "InvalidParameter");
    await acceptedCreate(t, `${field} 23 chars`, configurationBody({ [field]: "a".repeat(23) }));
  }
  // the instance name defaults to the configuration name: a 24+ char name needs an explicit one
  const name = "n".repeat(24);
  const res = await http(cfgUrl(name), { method: "PUT", body: configurationBody() });
  assertRefusal(t, "defaulted instance name too long", res, 400, "properties.operatorInstanceName");
  t.equal((await http(cfgUrl(name))).status, 404);
});

t.test("operatorType and operatorScope", async (t) => {
  await refusedCreate(t, "operatorType Helm", configurationBody({ operatorType: "Helm" }), "properties.operatorType");
  await refusedCreate(t, "operatorScope galaxy", configurationBody({ operatorScope: "galaxy" }), "properties.operatorScope");
  await acceptedCreate(t, "operatorScope cluster", configurationBody({ operatorScope: "cluster" }));
  await acceptedCreate(t, "operatorScope namespace", configurationBody({ operatorScope: "namespace" }));
});

t.test("repositoryUrl: missing, unsupported scheme, credentials in the URL", async (t) => {
  const missing = configurationBody();
  delete (missing.properties as Record<string, unknown>).repositoryUrl;
  await refusedCreate(t, "missing url", missing, "properties.repositoryUrl");
  await refusedCreate(t, "ftp url", configurationBody({ repositoryUrl: "ftp://x/y" }), "properties.repositoryUrl", "InvalidParameter");
  await refusedCreate(t, "credentials in url", configurationBody({ repositoryUrl: "https://user:pw@host/repo" }), "properties.repositoryUrl", "InvalidParameter");
  await acceptedCreate(t, "https url", configurationBody({ repositoryUrl: HTTPS_URL }));
  await acceptedCreate(t, "ssh:// url", configurationBody({ repositoryUrl: "ssh://git@github.com/example/repo.git" }));
});

t.test(
  "repositoryUrl with credentials: the refusal does not echo the password",
  async (t) => {
    const res = await refusedCreate(t, "credentials in url", configurationBody({ repositoryUrl: "https://user:s3cret-pw@host/repo" }), "properties.repositoryUrl");
    t.notMatch(res.text, /s3cret-pw/, "the password is not echoed");
  },
);

t.test("repositoryUrl: option injection, control characters and tokens are refused (400, the URL never echoed) and never served", async (t) => {
  const TOKEN = "tok3n-Zq9xW2";
  const hostile = [
    "ssh://-oProxyCommand=touch%20x/a",
    "ssh://%2doProxyCommand=touch%20x/a",
    "ssh://-oProxyCommand=x@github.com/a/b",
    "ssh://git@github.com/a/--upload-pack=touch",
    "-oProxyCommand=x@github.com:a/b",
    "git@github.com:-a/b",
    "https://github.com/a/b\u0000",
    "https://github.com/a/b\u0007",
    "https://github.com/a/b\u001b[2J",
    "https://github.com/a/b\u0085",
    "https://github.com/a/b%00",
    "https://github.com/a/b%0a",
    "https://github.com/a/b%7f",
    `https://github.com/a/b?access_token=${TOKEN}`,
    `https://gitlab.com/a/b?private_token=${TOKEN}`,
    `https://host/a/b?X-Access-Token=${TOKEN}`,
    `https://host/a/b#oauth_token=${TOKEN}`,
    `https://host/a/b?ref=ghp_${TOKEN}`,
    `https://x-access-token:${TOKEN}@github.com/a/b`,
    `https://${TOKEN}@github.com/a/b`,
    `ssh://git:${TOKEN}@github.com/a/b`,
    `git:${TOKEN}@github.com:a/b`,
  ];
  for (const url of hostile) {
    const label = JSON.stringify(url).slice(0, 60);
    const res = await refusedCreate(t, label, configurationBody({ repositoryUrl: url }), "properties.repositoryUrl", "InvalidParameter");
    t.match(res.json.error.message, /^The repository URL is not accepted: /);
    t.notOk(res.text.includes(TOKEN), `${label}: the token is not echoed`);
    t.notOk(res.text.includes(JSON.stringify(url).slice(1, -1)) || res.text.includes("ProxyCommand") || res.text.includes("upload-pack"), `${label}: the URL is not echoed`);
  }
  // an existing configuration is not changed to a hostile URL either
  const name = uniq("keep");
  t.equal((await http(cfgUrl(name), { method: "PUT", body: configurationBody() })).status, 201);
  const replaced = await http(cfgUrl(name), { method: "PUT", body: configurationBody({ repositoryUrl: `https://github.com/a/b?token=${TOKEN}` }) });
  t.equal(replaced.status, 400);
  const list = await http(`${configurationsPath(CLUSTER)}?${V}`);
  t.equal(list.status, 200);
  t.notOk(list.text.includes(TOKEN), "the list serves no token");
  t.notOk(list.text.includes("ProxyCommand"), "the list serves no injected URL");
  t.notOk((await http(cfgUrl(name))).text.includes(TOKEN), "GET serves no token");

  // the forms in use stay valid, a bare user on ssh and scp-like URLs included
  for (const url of ["git@github.com:org/repo", "ssh://git@github.com/org/repo.git", "https://dev.azure.com/org/My%20Project/_git/repo", "https://github.com/org/repo?ref=main"]) {
    await acceptedCreate(t, url, configurationBody({ repositoryUrl: url }));
  }
});

t.test("configuration assignments use the same URL rule (400 under properties.configuration, no echo)", async (t) => {
  const url = "ssh://-oProxyCommand=touch%20x/a?access_token=tok3n-Zq9xW2";
  const res = await http(withApi(assignmentPath("hostile", "rg1")), { method: "PUT", body: assignmentBody({}, { repositoryUrl: url }) });
  t.equal(res.status, 400, res.text);
  t.match(res.json, { error: { code: "InvalidParameter", target: "properties.configuration.repositoryUrl" } });
  t.notOk(res.text.includes("ProxyCommand") || res.text.includes("tok3n"), "nothing of the URL is echoed");
  t.equal((await http(withApi(assignmentPath("hostile", "rg1")))).status, 404, "nothing written");
});

t.test("helmOperatorProperties.chartValues are split like the agent splits them, at PUT time", async (t) => {
  const CV_TARGET = "properties.helmOperatorProperties.chartValues";
  const helm = (chartValues: string) => configurationBody({ enableHelmOperator: true, helmOperatorProperties: { chartVersion: "1.4.0", chartValues } });
  for (const bad of ["--set workers='2", '--set "a=1', "--set git.defaultRef=--upload-pack=x", "--set workers=1\u0007"]) {
    const res = await refusedCreate(t, JSON.stringify(bad), helm(bad), CV_TARGET, "InvalidParameter");
    t.match(res.json.error.message, /^The chart values are not accepted: /);
  }
  await acceptedCreate(t, "balanced quotes", helm("--set git.defaultRef='release 1' --set workers=2,logFormat=json"));
});

t.test("operatorParams: values that would be options, and control characters, are refused", async (t) => {
  for (const bad of ["--git-user -x", "--git-branch=-main", "--git-path=a/-b", "--git-user='a\nb'", "--git-email=a\u007fb"]) {
    await refusedCreate(t, JSON.stringify(bad), configurationBody({ operatorParams: bad }), "properties.operatorParams", "InvalidParameter");
  }
  await acceptedCreate(t, "a backslash escapes as the agent reads it", configurationBody({ operatorParams: "--git-user=Flux\\ Bot --git-branch=release-1" }));
});

t.test("configurationProtectedSettings: keys and base64", async (t) => {
  const PS = "properties.configurationProtectedSettings";
  await refusedCreate(t, "unknown key", protectedBody({ protectedSetting1Key: b64("x") }), `${PS}.protectedSetting1Key`, "InvalidParameter");
  const notB64 = await refusedCreate(t, "non-base64 value", protectedBody({ sshPrivateKey: "not base64!!" }), `${PS}.sshPrivateKey`, "InvalidParameter");
  t.notMatch(notB64.text, /not base64!!/, "the secret value is not echoed");
  await refusedCreate(t, "empty value", protectedBody({ sshPrivateKey: "" }), `${PS}.sshPrivateKey`);
  await refusedCreate(t, "sshPrivateKey garbage", protectedBody({ sshPrivateKey: b64("this is not a key at all") }), `${PS}.sshPrivateKey`, "InvalidParameter");
  await refusedCreate(t, "sshPrivateKey with https URL", protectedBody({ sshPrivateKey: sshPrivateKeyB64() }, HTTPS_URL), `${PS}.sshPrivateKey`, "InvalidParameter");
});

t.test("sshPrivateKey: every supported format is accepted", async (t) => {
  const ed = crypto.generateKeyPairSync("ed25519").privateKey;
  const rsa = crypto.generateKeyPairSync("rsa", { modulusLength: 2048 }).privateKey;
  const ec = crypto.generateKeyPairSync("ec", { namedCurve: "P-256" }).privateKey;
  const dsa = crypto.generateKeyPairSync("dsa", { modulusLength: 2048, divisorLength: 256 }).privateKey;
  const keys: Array<[string, string]> = [
    ["fixture PKCS#8 ed25519", sshPrivateKeyB64()],
    ["PEM PKCS#8 ed25519", pemB64(ed, "pkcs8")],
    ["PEM PKCS#1 RSA", pemB64(rsa, "pkcs1")],
    ["PEM SEC1 EC", pemB64(ec, "sec1")],
    ["PEM DSA", pemB64(dsa, "pkcs8")],
    ["OpenSSH ed25519", b64(openSshEd25519())],
  ];
  for (const [label, key] of keys) {
    const res = await acceptedCreate(t, label, protectedBody({ sshPrivateKey: key }));
    t.same(res.json?.properties?.configurationProtectedSettings, {}, `${label}: the key is never shown back`);
    t.notMatch(res.text, key.slice(0, 40), `${label}: not echoed`);
  }
  await refusedCreate(
    t,
    "OpenSSH aes256-ctr",
    protectedBody({ sshPrivateKey: b64(openSshEd25519("aes256-ctr")) }),
    "properties.configurationProtectedSettings.sshPrivateKey",
    "InvalidParameter",
  );
  const encrypted = b64(ed.export({ format: "pem", type: "pkcs8", cipher: "aes-256-cbc", passphrase: "pw" }).toString());
  await refusedCreate(t, "encrypted PKCS#8", protectedBody({ sshPrivateKey: encrypted }), "properties.configurationProtectedSettings.sshPrivateKey");
});

t.test("httpsUser / httpsKey", async (t) => {
  const PS = "properties.configurationProtectedSettings";
  await refusedCreate(t, "httpsUser alone", protectedBody({ httpsUser: b64("u") }, HTTPS_URL), `${PS}.httpsKey`, "InvalidParameter");
  await refusedCreate(t, "httpsKey alone", protectedBody({ httpsKey: b64("k") }, HTTPS_URL), `${PS}.httpsUser`, "InvalidParameter");
  await refusedCreate(t, "https creds with git@ url", protectedBody({ httpsUser: b64("u"), httpsKey: b64("k") }), `${PS}.httpsUser`, "InvalidParameter");
  const ok = await acceptedCreate(t, "https creds with https url", protectedBody({ httpsUser: b64("u"), httpsKey: b64("k") }, HTTPS_URL));
  t.same(ok.json?.properties?.configurationProtectedSettings, {}, "never shown back");
});

t.test("sshKnownHostsContents", async (t) => {
  const KH = "properties.sshKnownHostsContents";
  await refusedCreate(t, "not base64", configurationBody({ sshKnownHostsContents: "not base64 !!" }), KH, "InvalidParameter");
  await refusedCreate(t, "garbage line", configurationBody({ sshKnownHostsContents: b64("this is not a known_hosts line\n") }), KH, "InvalidParameter");
  await refusedCreate(t, "key type mismatch", configurationBody({ sshKnownHostsContents: b64(Buffer.from(knownHostsB64(), "base64").toString().replace(" ssh-ed25519 ", " ssh-rsa ")) }), KH);
  await refusedCreate(t, "with https url", configurationBody({ repositoryUrl: HTTPS_URL, sshKnownHostsContents: knownHostsB64() }), KH, "InvalidParameter");
  await acceptedCreate(t, "valid with ssh url", configurationBody({ sshKnownHostsContents: knownHostsB64() }));
});

t.test("operatorParams", async (t) => {
  const OP = "properties.operatorParams";
  const owned = await refusedCreate(t, "--git-url", configurationBody({ operatorParams: "--git-url=x" }), OP, "InvalidParameter");
  t.match(owned.json.error.message, /--git-url cannot be set/);
  const unknown = await refusedCreate(t, "--unknown-flag", configurationBody({ operatorParams: "--unknown-flag" }), OP, "InvalidParameter");
  t.match(unknown.json.error.message, /--unknown-flag is not a Flux daemon flag/);
  const duration = await refusedCreate(t, "bad duration", configurationBody({ operatorParams: "--git-poll-interval=abc" }), OP, "InvalidParameter");
  t.match(duration.json.error.message, /duration/);
  await refusedCreate(t, "repeated flag", configurationBody({ operatorParams: "--git-branch=a --git-branch=b" }), OP);
  const ok = await acceptedCreate(t, "allowed flags", configurationBody({ operatorParams: "--git-branch main --git-path=a,b --git-readonly --git-poll-interval=5m" }));
  t.equal(ok.json?.properties?.operatorParams, "--git-branch main --git-path=a,b --git-readonly --git-poll-interval=5m", "kept as given");
});

t.test("read-only properties", async (t) => {
  const pk = await refusedCreate(t, "repositoryPublicKey on create", configurationBody({ repositoryPublicKey: "x" }), "properties.repositoryPublicKey", "PropertyChangeNotAllowed");
  t.notOk(pk.json.error.details, "a single problem has no details");
  await refusedCreate(
    t,
    "complianceState on create",
    configurationBody({ complianceStatus: { complianceState: "Compliant" } }),
    "properties.complianceStatus.complianceState",
    "PropertyChangeNotAllowed",
  );
  await refusedCreate(t, "provisioningState on create", configurationBody({ provisioningState: "Failed" }), "properties.provisioningState", "PropertyChangeNotAllowed");

  // an update: read-only values sent back unchanged pass; changed ones are refused and nothing changes
  const name = uniq("ro");
  const created = await http(cfgUrl(name), { method: "PUT", body: configurationBody() });
  t.equal(created.status, 201, created.text);
  const before = await http(cfgUrl(name));
  for (const [label, extra, target] of [
    ["repositoryPublicKey", { repositoryPublicKey: "x" }, "properties.repositoryPublicKey"],
    ["complianceState", { complianceStatus: { complianceState: "Compliant" } }, "properties.complianceStatus.complianceState"],
  ] as const) {
    const res = await http(cfgUrl(name), { method: "PUT", body: configurationBody({ operatorNamespace: "changed", ...extra }) });
    assertRefusal(t, `update ${label}`, res, 400, target, "PropertyChangeNotAllowed");
    const after = await http(cfgUrl(name));
    t.same(after.json, before.json, `update ${label}: stored resource unchanged`);
    t.equal(after.headers.etag, before.headers.etag, `update ${label}: etag unchanged`);
  }
  const roundTrip = await http(cfgUrl(name), { method: "PUT", body: { properties: { ...before.json.properties } } });
  t.equal(roundTrip.status, 200, `GET-modify-PUT with unchanged read-only values is accepted (${roundTrip.text.slice(0, 300)})`);
});

t.test("schema and transport errors", async (t) => {
  await refusedCreate(t, "enableHelmOperator 'yes'", configurationBody({ enableHelmOperator: "yes" }), "properties.enableHelmOperator", "InvalidRequestContent");

  const cases: Array<[string, RequestOptions, string | undefined, number, string, string]> = [
    [
      "body over 1 MiB",
      { method: "PUT", rawBody: JSON.stringify(configurationBody({ operatorParams: "a".repeat(1024 * 1024) })), headers: { "content-type": "application/json" } },
      V,
      413,
      "body",
      "RequestEntityTooLarge",
    ],
    ["text/plain", { method: "PUT", rawBody: JSON.stringify(configurationBody()), headers: { "content-type": "text/plain" } }, V, 415, "Content-Type", "UnsupportedMediaType"],
    ["malformed JSON", { method: "PUT", rawBody: '{"properties": {', headers: { "content-type": "application/json" } }, V, 400, "body", "InvalidRequestContent"],
    ["missing api-version", { method: "PUT", body: configurationBody() }, "", 400, "api-version", "MissingApiVersionParameter"],
    ["api-version 2099-01-01", { method: "PUT", body: configurationBody() }, "api-version=2099-01-01", 400, "api-version", "NoRegisteredProviderFound"],
    ["api-version abc", { method: "PUT", body: configurationBody() }, "api-version=abc", 400, "api-version", "InvalidApiVersionParameter"],
  ];
  for (const [label, options, query, status, target, code] of cases) {
    const name = uniq("tr");
    const res = await http(cfgUrl(name, query), options);
    assertRefusal(t, label, res, status, target, code);
    t.equal((await http(cfgUrl(name))).status, 404, `${label}: nothing written`);
  }
});

t.test("several problems: the first is the target, all are in details", async (t) => {
  const res = await refusedCreate(
    t,
    "several",
    configurationBody({ repositoryUrl: "ftp://x/y", operatorNamespace: "Bad_NS", operatorParams: "--unknown-flag", repositoryPublicKey: "x" }),
    "properties.repositoryUrl",
    "InvalidParameter",
  );
  const details = (res.json.error.details ?? []) as Array<{ code: string; message: string; target: string }>;
  t.same(
    details.map((d) => d.target),
    ["properties.repositoryUrl", "properties.operatorNamespace", "properties.operatorParams", "properties.repositoryPublicKey"],
    "each problem listed, in order",
  );
  t.ok(details.every((d) => typeof d.code === "string" && typeof d.message === "string"), "each detail has code and message");
  t.equal(details[3]?.code, "PropertyChangeNotAllowed");

  const schema = await refusedCreate(t, "several schema errors", configurationBody({ enableHelmOperator: "yes", operatorScope: "galaxy" }), "properties.operatorScope");
  const schemaTargets = ((schema.json.error.details ?? []) as Array<{ target: string }>).map((d) => d.target).sort();
  t.same(schemaTargets, ["properties.enableHelmOperator", "properties.operatorScope"], "schema errors all listed");
});

// ---- clusters -----------------------------------------------------------------------------

t.test("connectedClusters: agentPublicKeyCertificate, location, read-only", async (t) => {
  const AK = "properties.agentPublicKeyCertificate";
  async function refusedCluster(label: string, body: unknown, target: string, code?: string): Promise<HttpResponse> {
    const name = uniq("cl");
    const res = await http(`${clusterPath(name)}?${CV}`, { method: "PUT", body });
    assertRefusal(t, label, res, 400, target, code);
    t.equal((await http(`${clusterPath(name)}?${CV}`)).status, 404, `${label}: nothing written`);
    return res;
  }
  const missing = clusterBody();
  delete (missing.properties as Record<string, unknown>).agentPublicKeyCertificate;
  await refusedCluster("missing agent key", missing, AK);
  const rsa1024 = crypto.generateKeyPairSync("rsa", { modulusLength: 1024 }).publicKey.export({ format: "der", type: "spki" }).toString("base64");
  const r = await refusedCluster("RSA 1024", clusterBody(rsa1024), AK, "InvalidParameter");
  t.match(r.json.error.message, /2048/);
  const p384 = crypto.generateKeyPairSync("ec", { namedCurve: "P-384" }).publicKey.export({ format: "der", type: "spki" }).toString("base64");
  const e = await refusedCluster("EC P-384", clusterBody(p384), AK, "InvalidParameter");
  t.match(e.json.error.message, /P-256/);
  await refusedCluster("not a key", clusterBody(b64("garbage")), AK, "InvalidParameter");
  await refusedCluster("connectivityStatus Connected", clusterBody(undefined, { properties: { agentPublicKeyCertificate: agentPublicKey().publicKeyB64, connectivityStatus: "Connected" } }), "properties.connectivityStatus", "PropertyChangeNotAllowed");

  const pem = crypto.generateKeyPairSync("ec", { namedCurve: "P-256" }).publicKey.export({ format: "pem", type: "spki" }).toString();
  const pemName = uniq("cl-pem");
  const ok = await http(`${clusterPath(pemName)}?${CV}`, { method: "PUT", body: clusterBody(pem) });
  t.equal(ok.status, 201, `PEM SPKI P-256 accepted (${ok.text.slice(0, 300)})`);
  const rsaOk = await http(`${clusterPath(uniq("cl-rsa"))}?${CV}`, { method: "PUT", body: clusterBody(agentPublicKey("rsa").publicKeyB64) });
  t.equal(rsaOk.status, 201, "RSA 2048 accepted");

  // updates: location is immutable; read-only values unchanged pass
  const before = await http(`${clusterPath(pemName)}?${CV}`);
  const moved = await http(`${clusterPath(pemName)}?${CV}`, { method: "PUT", body: clusterBody(pem, { location: "westeurope" }) });
  assertRefusal(t, "location change", moved, 400, "location", "LocationNotAvailableForResourceType");
  const connected = await http(`${clusterPath(pemName)}?${CV}`, {
    method: "PUT",
    body: clusterBody(pem, { properties: { agentPublicKeyCertificate: pem, connectivityStatus: "Connected" } }),
  });
  assertRefusal(t, "connectivityStatus on update", connected, 400, "properties.connectivityStatus", "PropertyChangeNotAllowed");
  const after = await http(`${clusterPath(pemName)}?${CV}`);
  t.same(after.json, before.json, "stored cluster unchanged");
  t.equal(after.headers.etag, before.headers.etag, "etag unchanged");
  const sameLocation = await http(`${clusterPath(pemName)}?${CV}`, { method: "PUT", body: clusterBody(pem, { location: "East US" }) });
  t.equal(sameLocation.status, 200, "the same location written differently is not a change");
});
