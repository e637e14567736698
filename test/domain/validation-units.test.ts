/** Table tests of the validation building blocks: good inputs pass, each bad one fails for its reason. */
import crypto from "node:crypto";
import t from "tap";
import { decodeBase64Strict } from "../../src/domain/validation/base64.js";
import { validateConfigurationPut } from "../../src/domain/validation/configuration.js";
import { knownHostsProblem } from "../../src/domain/validation/known-hosts.js";
import { kubernetesNameProblem } from "../../src/domain/validation/names.js";
import { chartValuesProblem } from "../../src/domain/validation/chart-values.js";
import { operatorParamsProblem } from "../../src/domain/validation/operator-params.js";
import { repositoryTransport } from "../../src/contract/repository-url.js";
import { servedRepositoryUrl } from "../../src/domain/validation/repository-url.js";
import { configurationResource } from "../../src/surfaces/arm/representations.js";
import type { ConfigurationRecord } from "../../src/domain/types.js";
import { parsePrivateKey, parsePublicKey, PRIVATE_KEY_VERDICTS_MAX, privateKeyVerdictsHeld } from "../../src/domain/validation/ssh-keys.js";
import { ArmError } from "../../src/arm/errors.js";
import { sshString as sshStr, sshString, u32 } from "../helpers/fixtures.js";
import { mpint, sshPublicKeyBlob, sshPublicKeyLine } from "../helpers/ssh-public-keys.js";

interface OpenSshOptions {
  cipher?: string;
  keys?: number;
  checkints?: [number, number];
  publicType?: string;
  privateType?: string;
  truncate?: number;
  magic?: string;
}

/** an openssh-key-v1 file around a real ed25519 key, with knobs to break each part */
function openSsh(o: OpenSshOptions = {}): string {
  const { privateKey, publicKey } = crypto.generateKeyPairSync("ed25519");
  const pub = Buffer.from(publicKey.export({ format: "jwk" }).x ?? "", "base64url");
  const seed = Buffer.from(privateKey.export({ format: "jwk" }).d ?? "", "base64url");
  const publicType = o.publicType ?? "ssh-ed25519";
  const [c1, c2] = o.checkints ?? [0x12345678, 0x12345678];
  let priv = Buffer.concat([u32(c1), u32(c2), sshStr(o.privateType ?? publicType), sshStr(pub), sshStr(Buffer.concat([seed, pub])), sshStr("comment")]);
  const pad: number[] = [];
  for (let i = 1; (priv.length + pad.length) % 8 !== 0; i++) pad.push(i);
  priv = Buffer.concat([priv, Buffer.from(pad)]);
  const cipher = o.cipher ?? "none";
  const kdf = cipher === "none" ? "none" : "bcrypt";
  const kdfOptions = cipher === "none" ? Buffer.alloc(0) : Buffer.concat([sshStr(crypto.randomBytes(16)), u32(16)]);
  let blob = Buffer.concat([
    Buffer.from(o.magic ?? "openssh-key-v1\0", "latin1"),
    sshStr(cipher),
    sshStr(kdf),
    sshStr(kdfOptions),
    u32(o.keys ?? 1),
    sshStr(Buffer.concat([sshStr(publicType), sshStr(pub)])),
    sshStr(priv),
  ]);
  if (o.truncate !== undefined) blob = blob.subarray(0, o.truncate);
  const lines = blob.toString("base64").match(/.{1,70}/g) ?? [];
  return `-----BEGIN OPENSSH PRIVATE KEY-----\n${lines.join("\n")}\n-----END OPENSSH PRIVATE KEY-----\n`;
}

const pem = (key: crypto.KeyObject, type: "pkcs1" | "pkcs8" | "sec1", extra: Partial<crypto.KeyExportOptions<"pem">> = {}): string =>
  key.export({ format: "pem", type, ...extra } as crypto.KeyExportOptions<"pem">).toString();

function ed25519KeyBlob(): string {
  const raw = Buffer.from(crypto.generateKeyPairSync("ed25519").publicKey.export({ format: "jwk" }).x ?? "", "base64url");
  return Buffer.concat([sshStr("ssh-ed25519"), sshStr(raw)]).toString("base64");
}

t.test("operatorParamsProblem", async (t) => {
  const good = [
    "",
    "   ",
    "--git-readonly",
    "--git-readonly=true",
    "--git-readonly=FALSE",
    "--git-branch main",
    "--git-branch=main",
    "--git-branch=feature/x-1.2",
    "--git-path=a,b",
    "--git-path=clusters/prod",
    "--git-poll-interval=5m",
    "--git-poll-interval=1m30s",
    "--git-timeout 20s",
    "--git-user \"Flux Bot\"",
    "--git-user='Flux Bot'",
    "--git-ci-skip-message='[ci skip]'",
    '"--git-branch=main"',
    "--registry-exclude-image=a --registry-exclude-image=b",
    "--sync-state=secret",
    "--git-branch main --git-path=a,b --git-readonly --git-poll-interval=5m",
    "\t--git-readonly\n--sync-garbage-collection ",
    // the agent's splitter: a backslash escapes outside single quotes
    "--git-user=Flux\\ Bot",
    '--git-user="Flux \\"Bot\\""',
    "--git-user=a-b --git-path=a/b-c,d-",
    "--git-branch=release-1",
  ];
  for (const input of good) t.equal(operatorParamsProblem(input), undefined, `accepted: ${JSON.stringify(input)}`);

  const bad: Array<[string, RegExp]> = [
    ["--git-url=x", /--git-url cannot be set/],
    ["--git-url x", /--git-url cannot be set/],
    ['"--git-url=x"', /--git-url cannot be set/],
    ["--k8s-allow-namespace=a", /cannot be set/],
    ["--git-secret=s", /cannot be set/],
    ["--listen=:8080", /cannot be set/],
    ["--unknown-flag", /--unknown-flag is not a Flux daemon flag/],
    ["--Git-Branch=main", /not a --flag/],
    ["--git-poll-interval=abc", /--git-poll-interval must be a positive duration/],
    ["--git-poll-interval=0s", /positive duration/],
    ["--git-poll-interval=5", /positive duration/],
    ["--git-poll-interval=-5m", /positive duration/],
    ["--git-branch=a --git-branch=b", /--git-branch is given more than once/],
    ["--git-readonly --git-readonly", /--git-readonly is given more than once/],
    ["--git-branch", /--git-branch needs a value/],
    ["--git-branch --git-readonly", /--git-branch needs a value/],
    ["--git-user \"unclosed", /quote is not closed/],
    ["--git-user='unclosed", /quote is not closed/],
    ["git-branch=main", /'git-branch=main' is not a --flag/],
    ["-b main", /not a --flag/],
    ["--git-readonly false", /'false' is not a --flag/],
    ["--git-readonly=yes", /must be true or false/],
    ["--git-path=/abs", /relative to the repository root/],
    ["--git-path=a/../b", /relative/],
    ["--git-path=a,,b", /relative/],
    ["--git-branch=a..b", /valid Git reference/],
    ["--git-branch=/main", /valid Git reference/],
    ["--git-branch=main/", /valid Git reference/],
    ["--git-branch='a b'", /valid Git reference/],
    ["--sync-state=x", /must be git or secret/],
    ["--git-user=", /1 to 256 printable/],
    [`--git-user=${"x".repeat(257)}`, /1 to 256 printable/],
    // a value that would be an option where Flux hands it on (git), and control characters
    ["--git-user -x", /--git-user must not start with '-'/],
    ["--git-user=--global", /must not start with '-'/],
    ["--git-email=-c", /must not start with '-'/],
    ["--git-ci-skip-message '-x'", /must not start with '-'/],
    ["--registry-exclude-image=-x", /must not start with '-'/],
    ["--git-branch=-main", /valid Git reference/],
    ["--git-branch -main", /valid Git reference/],
    ["--git-branch=a/-b", /valid Git reference/],
    ["--git-label=--upload-pack=x", /valid Git reference/],
    ["--git-path=-x", /no segment starting with '-'/],
    ["--git-path=a/-x", /no segment starting with '-'/],
    ["--git-path=a,--x", /no segment starting with '-'/],
    ["--git-user=a\u0000b", /control character/],
    ["--git-user=a\u0007b", /control character/],
    ["--git-user=a\u001bb", /control character/],
    ["--git-user=a\u007fb", /control character/],
    ["--git-user=a\u0085b", /control character/],
    ["--git-user=a\u202eb", /control character/],
    ["--git-user='a\nb'", /control character/],
    ['--git-user="a\tb"', /control character/],
    ["--git-path='a\rb'", /control character/],
    ["--git-readonly\u0000", /control character/],
  ];
  for (const [input, why] of bad) t.match(operatorParamsProblem(input) ?? "(accepted)", why, `refused: ${JSON.stringify(input.slice(0, 60))}`);
});

t.test("repositoryTransport", async (t) => {
  const table: Array<[string, "https" | "ssh" | undefined]> = [
    ["https://github.com/example/repo", "https"],
    ["https://github.com/example/repo.git", "https"],
    ["http://host/repo", "https"],
    ["https://host:8443/r.git", "https"],
    ["HTTPS://github.com/example/repo", "https"],
    ["ssh://git@github.com/example/repo.git", "ssh"],
    ["ssh://host/repo", "ssh"],
    ["ssh://git@host:2222/repo", "ssh"],
    ["git@github.com:example/repo.git", "ssh"],
    ["git@github.com:/abs/repo.git", "ssh"],
    ["deploy.user@git.example.com:team/repo", "ssh"],
    // scp-like without a user: refused (the service documents git@host:path)
    ["github.com:example/repo.git", undefined],
    ["git@github.com:", undefined],
    ["git@github.com://example/repo", undefined],
    ["ftp://x/y", undefined],
    ["file:///tmp/repo", undefined],
    ["git://github.com/example/repo", undefined],
    ["https://user:pw@host/repo", undefined],
    ["https://user@host/repo", undefined],
    ["https://:pw@host/repo", undefined],
    ["https://host/re po", undefined],
    [" https://host/repo", undefined],
    ["https://", undefined],
    ["not a url", undefined],
    ["", undefined],
  ];
  for (const [url, expected] of table) t.equal(repositoryTransport(url), expected, `${JSON.stringify(url)} -> ${String(expected)}`);
});

t.test("knownHostsProblem", async (t) => {
  const key = ed25519KeyBlob();
  const good = [
    `github.com ssh-ed25519 ${key}`,
    `github.com ssh-ed25519 ${key}\n`,
    `github.com ssh-ed25519 ${key} a trailing comment`,
    `github.com,140.82.112.3 ssh-ed25519 ${key}`,
    `[git.example.com]:2222 ssh-ed25519 ${key}`,
    `*.example.com,!bad.example.com ssh-ed25519 ${key}`,
    `|1|F1E1KeoE/eEWhi10WpGv4OdiO6Y=|3988QV0VE8wmZL7suNrYQLITLCg= ssh-ed25519 ${key}`,
    `@cert-authority *.example.com ssh-ed25519 ${key}`,
    `@revoked host.example.com ssh-ed25519 ${key}`,
    `# comment\n\n   \nhost ssh-ed25519 ${key}\r\nother ssh-ed25519 ${key}\r\n`,
  ];
  for (const text of good) t.equal(knownHostsProblem(text), undefined, `accepted: ${JSON.stringify(text.slice(0, 50))}`);

  const bad: Array<[string, RegExp]> = [
    ["", /no host key line/],
    ["# only a comment\n\n", /no host key line/],
    ["this is not a known_hosts line", /line 1: (expected|unknown key type|the host pattern)/],
    ["github.com", /line 1: expected: hostnames key-type base64-key/],
    [`github.com ssh-ed25519`, /expected: hostnames/],
    [`@bogus host ssh-ed25519 ${key}`, /unknown marker '@bogus'/],
    [`@cert-authority ssh-ed25519 ${key}`, /line 1:/],
    [`host ssh-foo ${key}`, /unknown key type 'ssh-foo'/],
    [`host ssh-ed25519 not*base64`, /the key is not base64/],
    [`host ssh-ed25519 AAAA`, /the key is truncated/],
    [`host ssh-rsa ${key}`, /does not hold a 'ssh-rsa' key/],
    [`host/path ssh-ed25519 ${key}`, /host pattern is not valid/],
    [`|1|saltonly ssh-ed25519 ${key}`, /host pattern is not valid/],
    [`|1|salt|hash|extra ssh-ed25519 ${key}`, /host pattern is not valid/],
    [`host,,other ssh-ed25519 ${key}`, /host pattern is not valid/],
    [`good ssh-ed25519 ${key}\nbad line`, /^line 2:/],
  ];
  for (const [text, why] of bad) t.match(knownHostsProblem(text) ?? "(accepted)", why, `refused: ${JSON.stringify(text.slice(0, 50))}`);
});

t.test("parsePrivateKey", async (t) => {
  const ed = crypto.generateKeyPairSync("ed25519").privateKey;
  const rsa = crypto.generateKeyPairSync("rsa", { modulusLength: 2048 }).privateKey;
  const ec = crypto.generateKeyPairSync("ec", { namedCurve: "P-256" }).privateKey;
  const dsa = crypto.generateKeyPairSync("dsa", { modulusLength: 2048, divisorLength: 256 }).privateKey;
  const x25519 = crypto.generateKeyPairSync("x25519").privateKey;
  const ed448 = crypto.generateKeyPairSync("ed448").privateKey;

  const good: Array<[string, string, string]> = [
    ["PKCS#8 ed25519", pem(ed, "pkcs8"), "ed25519"],
    ["PKCS#1 RSA", pem(rsa, "pkcs1"), "rsa"],
    ["PKCS#8 RSA", pem(rsa, "pkcs8"), "rsa"],
    ["SEC1 EC", pem(ec, "sec1"), "ec"],
    ["PKCS#8 EC", pem(ec, "pkcs8"), "ec"],
    ["PKCS#8 DSA", pem(dsa, "pkcs8"), "dsa"],
    ["OpenSSH ed25519", openSsh(), "ed25519"],
    ["OpenSSH ssh-rsa type", openSsh({ publicType: "ssh-rsa" }), "rsa"],
    ["OpenSSH ecdsa type", openSsh({ publicType: "ecdsa-sha2-nistp256" }), "ec"],
    ["OpenSSH ssh-dss type", openSsh({ publicType: "ssh-dss" }), "dsa"],
    ["PEM with surrounding text", `key follows\n${pem(ed, "pkcs8")}trailer\n`, "ed25519"],
  ];
  const encPkcs1 = pem(rsa, "pkcs1", { cipher: "aes-256-cbc", passphrase: "pw" });
  const bad: Array<[string, string, RegExp]> = [
    ["garbage", "this is not a key at all", /neither a PEM nor an OpenSSH/],
    ["public key PEM", crypto.createPublicKey(ed).export({ format: "pem", type: "spki" }).toString(), /neither a PEM nor an OpenSSH/],
    ["encrypted PKCS#8", pem(ed, "pkcs8", { cipher: "aes-256-cbc", passphrase: "pw" }), /passphrase/],
    ["encrypted PKCS#1 (Proc-Type)", encPkcs1, /passphrase/],
    ["PEM with a garbage body", "-----BEGIN PRIVATE KEY-----\nAAAA\n-----END PRIVATE KEY-----\n", /not a valid PEM private key/],
    ["x25519 PEM", pem(x25519, "pkcs8"), /unsupported key type 'x25519'/],
    ["ed448 PEM", pem(ed448, "pkcs8"), /unsupported key type 'ed448'/],
    ["OpenSSH aes256-ctr", openSsh({ cipher: "aes256-ctr" }), /passphrase/],
    ["OpenSSH two keys", openSsh({ keys: 2 }), /exactly one key/],
    ["OpenSSH checkints differ", openSsh({ checkints: [1, 2] }), /check integers differ/],
    ["OpenSSH unknown type", openSsh({ publicType: "ssh-foo" }), /unsupported key type 'ssh-foo'/],
    ["OpenSSH private type differs", openSsh({ privateType: "ssh-rsa" }), /unsupported key type/],
    ["OpenSSH truncated", openSsh({ truncate: 60 }), /truncated/],
    ["OpenSSH wrong magic", openSsh({ magic: "openssh-key-v2\0" }), /not an openssh-key-v1 key/],
    ["OpenSSH without END", openSsh().replace("-----END OPENSSH PRIVATE KEY-----", ""), /not delimited/],
  ];
  // twice: the second pass is answered by the verdict cache (keyed by SHA-256), and must agree
  for (const pass of ["parsed", "cached"]) {
    for (const [label, text, type] of good) t.same(parsePrivateKey(Buffer.from(text)), { ok: true, type }, `accepted (${pass}): ${label}`);
    for (const [label, text, why] of bad) {
      const parsed = parsePrivateKey(Buffer.from(text));
      t.equal(parsed.ok, false, `refused (${pass}): ${label}`);
      t.match(parsed.ok ? "(accepted)" : parsed.reason, why, `reason (${pass}): ${label}`);
    }
  }

  // a key once accepted, then cut short by a few characters, is parsed afresh and refused
  const accepted = pem(ed, "pkcs8");
  t.same(parsePrivateKey(Buffer.from(accepted)), { ok: true, type: "ed25519" });
  const lines = accepted.split("\n");
  lines[1] = lines[1]?.slice(0, 40) ?? "";
  const reparsed = parsePrivateKey(Buffer.from(lines.join("\n")));
  t.match(reparsed.ok ? "(accepted)" : reparsed.reason, /not a valid PEM private key/, "the altered key is not served the cached verdict");

  // a caller changing the verdict it got does not change the cached one
  const first = parsePrivateKey(Buffer.from(accepted)) as { ok: boolean; type?: string };
  first.type = "rsa";
  t.same(parsePrivateKey(Buffer.from(accepted)), { ok: true, type: "ed25519" });

  // bounded: many distinct inputs never hold more than the cap
  for (let i = 0; i < PRIVATE_KEY_VERDICTS_MAX + 50; i++) parsePrivateKey(Buffer.from(`not a key ${i}`));
  t.equal(privateKeyVerdictsHeld(), PRIVATE_KEY_VERDICTS_MAX);
  t.same(parsePrivateKey(Buffer.from(accepted)), { ok: true, type: "ed25519" }, "evicted verdicts are parsed again");
});

t.test("kubernetesNameProblem", async (t) => {
  const good: Array<[string, number]> = [
    ["a", 23],
    ["0", 23],
    ["a-b", 23],
    ["0abc-9", 23],
    ["a".repeat(23), 23],
    ["a".repeat(63), 63],
    ["a--b", 23],
  ];
  for (const [name, max] of good) t.equal(kubernetesNameProblem(name, max), undefined, `accepted: ${name} (max ${max})`);
  const bad: Array<[string, number, RegExp]> = [
    ["", 23, /must not be empty/],
    ["a".repeat(24), 23, /at most 23 characters \(got 24\)/],
    ["a".repeat(64), 63, /at most 63/],
    ["Abc", 23, /lower case alphanumeric/],
    ["bad_name", 63, /lower case alphanumeric/],
    ["-a", 23, /start and end/],
    ["a-", 23, /start and end/],
    ["a.b", 23, /lower case alphanumeric/],
    ["a b", 23, /lower case alphanumeric/],
    ["é", 23, /lower case alphanumeric/],
  ];
  for (const [name, max, why] of bad) t.match(kubernetesNameProblem(name, max) ?? "(accepted)", why, `refused: ${JSON.stringify(name.slice(0, 30))} (max ${max})`);
});

t.test("decodeBase64Strict", async (t) => {
  const good: Array<[string, string]> = [
    ["aGVsbG8=", "hello"],
    ["aGVsbA==", "hell"],
    ["aGVs", "hel"],
    ["aGVs\nbG8=", "hello"],
    ["  aGVs bG8=\r\n", "hello"],
    ["+/+/", Buffer.from("+/+/", "base64").toString("latin1")],
  ];
  for (const [input, expected] of good) t.equal(decodeBase64Strict(input)?.toString("latin1"), expected, `decoded: ${JSON.stringify(input)}`);
  const bad = ["", "   ", "not base64!", "aGVsbG8", "aGVsbG8==", "a===", "aGVs=bG8", "-_-_", "aGVsbG8=\u0000", "é"];
  for (const input of bad) t.equal(decodeBase64Strict(input), undefined, `refused: ${JSON.stringify(input)}`);
});

/** rules the OpenAPI schema also enforces over HTTP (so the domain check is unreachable there) */
t.test("validateConfigurationPut: rules behind the schema", async (t) => {
  const targetOf = (properties: Record<string, unknown>, name = "cfg"): string[] => {
    try {
      validateConfigurationPut({ name, properties: { repositoryUrl: "https://github.com/example/repo", ...properties } });
      return [];
    } catch (err) {
      if (!(err instanceof ArmError)) throw err;
      return err.details ? err.details.map((d) => d.target ?? "") : [err.target ?? ""];
    }
  };
  t.same(targetOf({}), [], "the minimal body passes");
  t.same(targetOf({ operatorType: "Helm" }), ["properties.operatorType"]);
  t.same(targetOf({ operatorScope: "galaxy" }), ["properties.operatorScope"]);
  t.same(targetOf({ operatorNamespace: "a".repeat(24) }), ["properties.operatorNamespace"]);
  t.same(targetOf({ operatorInstanceName: "a".repeat(24) }), ["properties.operatorInstanceName"]);
  t.same(targetOf({}, "n".repeat(24)), ["properties.operatorInstanceName"], "defaulted instance name over 23");
  t.same(targetOf({ operatorInstanceName: "x" }, "n".repeat(24)), [], "explicit instance name makes a long configuration name fine");
  t.same(targetOf({ operatorInstanceName: "x" }, "Cfg-ONE"), [], "configuration names are checked lower-cased");
  t.same(targetOf({ helmOperatorProperties: { chartVersion: "latest" } }), ["properties.helmOperatorProperties.chartVersion"]);
  t.same(targetOf({ helmOperatorProperties: { chartVersion: "v1.4.0-rc.1" } }), []);
  const res = validateConfigurationPut({ name: "cfg", properties: { repositoryUrl: "https://github.com/example/repo" } });
  t.match(res.spec, { operatorNamespace: "default", operatorInstanceName: "cfg", operatorType: "Flux", operatorScope: "cluster" }, "defaults");
  t.equal(res.secrets, undefined, "no secrets when none given");
});

t.test(
  "repositoryTransport: an ssh:// URL with a password is refused like an https one",
  async (t) => {
    t.equal(repositoryTransport("ssh://user:pw@host/repo"), undefined);
  },
);

t.test(
  "operatorParamsProblem: a positive duration with a leading zero (0.5m) is accepted",
  async (t) => {
    t.equal(operatorParamsProblem("--git-poll-interval=0.5m"), undefined);
  },
);

t.test("chartValuesProblem: what the agent can turn into helm-operator flags", async (t) => {
  const good = [
    "",
    "--set workers=2",
    "--set workers=2,logFormat=json --set helm.versions=v3",
    "--set=git.defaultRef=main --set-string 'git.pollInterval=5m'",
    "--set git.defaultRef=\"release 1\"",
    "--set image.tag=1.2.3 -f values.yaml",
    "--set a\\ b=c",
    "--set workers=2\n--set logFormat=json",
    "--set note=a-b",
    "--set x=",
  ];
  for (const input of good) t.equal(chartValuesProblem(input), undefined, `accepted: ${JSON.stringify(input)}`);
  const bad: Array<[string, RegExp]> = [
    ["--set a='1", /quote is not closed/],
    ['--set a="1', /quote is not closed/],
    ["--set \"a=1,b=2", /quote is not closed/],
    ["'", /quote is not closed/],
    ["--set git.defaultRef=-x", /value of 'git.defaultRef' must not start with '-'/],
    ["--set=git.defaultRef=--upload-pack=touch", /must not start with '-'/],
    ["--set-string allowNamespace=-n", /must not start with '-'/],
    ["--set workers=2,logFormat=-x", /value of 'logFormat' must not start with '-'/],
    ["--set workers=1\u0000", /control character/],
    ["--set workers=1\u0007", /control character/],
    ["--set workers=1\u007f", /control character/],
    ["--set workers=1\u0085", /control character/],
    ["--set 'workers=1\n2'", /value of 'workers' holds a control character/],
    ["--set 'wor\nkers=1'", /a key holds a control character/],
  ];
  for (const [input, why] of bad) t.match(chartValuesProblem(input) ?? "(accepted)", why, `refused: ${JSON.stringify(input)}`);
});

t.test("validateConfigurationPut: chart values and repository URL refusals name the field, never the value", async (t) => {
  const refusal = (properties: Record<string, unknown>): ArmError => {
    try {
      validateConfigurationPut({ name: "cfg", properties: { repositoryUrl: "https://github.com/example/repo", ...properties } });
    } catch (err) {
      if (err instanceof ArmError) return err;
      throw err;
    }
    throw new Error("accepted");
  };
  const chart = refusal({ enableHelmOperator: true, helmOperatorProperties: { chartValues: "--set workers='2" } });
  t.equal(chart.target, "properties.helmOperatorProperties.chartValues");
  t.match(chart.message, /chart values are not accepted: a ' quote is not closed/);
  for (const url of ["ssh://-oProxyCommand=touch%20x/a", "https://github.com/a/b?access_token=SECRETVALUE1", "https://u:SECRETVALUE2@host/r", "https://host/a\u0000b"]) {
    const err = refusal({ repositoryUrl: url });
    t.equal(err.target, "properties.repositoryUrl");
    t.match(err.message, /^The repository URL is not accepted: /);
    t.notMatch(err.message, /SECRETVALUE|ProxyCommand|\u0000/, "the message quotes nothing of the URL");
  }
});

t.test("parsePublicKey: an agent's deploy key must be a real OpenSSH public key", async (t) => {
  const types = ["ssh-rsa", "ecdsa-sha2-nistp256", "ecdsa-sha2-nistp384", "ecdsa-sha2-nistp521", "ssh-ed25519"] as const;
  for (const type of types) {
    t.same(parsePublicKey(sshPublicKeyLine(type)), { ok: true, type }, `${type} with a comment`);
    t.same(parsePublicKey(sshPublicKeyLine(type, undefined)), { ok: true, type }, `${type} without a comment`);
  }
  t.ok(parsePublicKey(sshPublicKeyLine("ssh-ed25519", "flux-cfg1 user@host (prod) #1")).ok, "a comment with spaces and punctuation");

  const ed = sshPublicKeyBlob("ssh-ed25519");
  const ec = sshPublicKeyBlob("ecdsa-sha2-nistp256");
  const edKey = ed.subarray(ed.length - 32);
  const b = (buf: Buffer) => buf.toString("base64");
  const bad: Array<[string, RegExp]> = [
    ["", /not an OpenSSH public key line/],
    ["not a key <b>", /not an OpenSSH public key line|key type/],
    ["ssh-ed25519", /not an OpenSSH public key line/],
    [`ssh-ed25519 ${b(ed)} <script>`, /not an OpenSSH public key line/],
    [`ssh-ed25519 ${b(ed)} a"b`, /not an OpenSSH public key line/],
    [`ssh-ed25519 ${b(ed)} ${"c".repeat(257)}`, /not an OpenSSH public key line/],
    [`ssh-ed25519 ${b(ed)} a\u0000b`, /not an OpenSSH public key line/],
    [`ssh-ed25519 ${b(ed)} a\nssh-rsa AAAA`, /not an OpenSSH public key line/],
    [`ssh-ed25519 ${b(ed)} é`, /not an OpenSSH public key line/],
    [` ssh-ed25519 ${b(ed)}`, /not an OpenSSH public key line/],
    [`ssh-ed25519 ${b(ed)}\n`, /not an OpenSSH public key line/],
    [`ssh-ed25519  ${b(ed)}`, /not an OpenSSH public key line/],
    [`ssh-dss ${b(ed)}`, /key type is not/],
    [`sk-ssh-ed25519@openssh.com ${b(ed)}`, /key type is not/],
    [`ssh-ed25519 AAAA`, /truncated|encoded type/],
    [`ssh-ed25519 AAAAC3NzaC1lZDI1NTE5AAAAIA`, /truncated|not canonical/],
    [`ssh-ed25519 ${b(ed)}=`, /not canonical base64|not an OpenSSH/],
    [`ssh-rsa ${b(ed)}`, /encoded type does not match/],
    [`ecdsa-sha2-nistp384 ${b(ec)}`, /encoded type does not match/],
    [`ssh-ed25519 ${b(Buffer.concat([ed, Buffer.from([0])]))}`, /trailing bytes/],
    [`ssh-ed25519 ${b(ed.subarray(0, ed.length - 1))}`, /truncated/],
    [`ssh-ed25519 ${b(Buffer.concat([sshString("ssh-ed25519"), sshString(edKey.subarray(0, 31))]))}`, /not 32 bytes/],
    [`ecdsa-sha2-nistp256 ${b(Buffer.concat([sshString("ecdsa-sha2-nistp256"), sshString("nistp384"), sshString(Buffer.alloc(65, 4))]))}`, /curve does not match/],
    [`ecdsa-sha2-nistp256 ${b(Buffer.concat([sshString("ecdsa-sha2-nistp256"), sshString("nistp256"), sshString(Buffer.alloc(33, 2))]))}`, /not an uncompressed point/],
    [`ecdsa-sha2-nistp256 ${b(Buffer.concat([sshString("ecdsa-sha2-nistp256"), sshString("nistp256"), sshString(Buffer.concat([Buffer.from([4]), Buffer.alloc(64, 1)]))]))}`, /not a valid key/],
    [`ssh-rsa ${b(Buffer.concat([sshString("ssh-rsa"), mpint(Buffer.from([1, 0, 1])), mpint(crypto.randomBytes(64))]))}`, /shorter than 1024 bits/],
    [`ssh-rsa ${b(Buffer.concat([sshString("ssh-rsa"), sshString(Buffer.from([1, 0, 1])), sshString(Buffer.concat([Buffer.from([0x80]), crypto.randomBytes(255)]))]))}`, /not positive/],
  ];
  for (const [line, why] of bad) {
    const parsed = parsePublicKey(line);
    t.match(parsed.ok ? "(accepted)" : parsed.reason, why, `refused: ${JSON.stringify(line.slice(0, 50))}`);
  }
});

t.test("servedRepositoryUrl: a URL stored before the rule never shows a credential on GET or list", async (t) => {
  const table: Array<[string, string]> = [
    ["https://github.com/a/b", "https://github.com/a/b"],
    ["git@github.com:a/b.git", "git@github.com:a/b.git"],
    ["ssh://git@host/a", "ssh://git@host/a"],
    ["https://github.com/a/b?access_token=SECRET1", "https://github.com/a/b?access_token=REDACTED"],
    ["https://github.com/a/b?ref=main&private_token=SECRET1;x=1", "https://github.com/a/b?ref=main&private_token=REDACTED;x=1"],
    ["https://host/a?ref=ghp_SECRET1", "https://host/a?ref=REDACTED"],
    ["https://host/a?Token", "https://host/a?REDACTED"],
    ["https://host/a#oauth_token=SECRET1&state=x", "https://host/a#oauth_token=REDACTED&state=x"],
    ["https://user:SECRET1@host/a", "https://REDACTED@host/a"],
    ["https://SECRET1@host/a", "https://REDACTED@host/a"],
    ["ssh://git:SECRET1@host/a?token=SECRET1", "ssh://REDACTED@host/a?token=REDACTED"],
    ["git:SECRET1@host:a/b", "REDACTED@host:a/b"],
    ["ssh://-oProxyCommand=x/a", "ssh://-oProxyCommand=x/a"],
  ];
  for (const [stored, served] of table) {
    t.equal(servedRepositoryUrl(stored), served, stored);
    t.notMatch(servedRepositoryUrl(stored), /SECRET1/);
  }
  const record = {
    id: "/subscriptions/s/x",
    name: "legacy",
    clusterId: "/subscriptions/s/c",
    spec: { repositoryUrl: "https://github.com/a/b?access_token=SECRET1", operatorNamespace: "ns", operatorInstanceName: "i", operatorType: "Flux", operatorScope: "cluster" },
    generation: 1,
    provisioningState: "Succeeded",
    complianceStatus: { complianceState: "Pending" },
    secrets: { protectedSettingKeys: [], hasKnownHosts: false },
    systemData: {},
  } as unknown as ConfigurationRecord;
  const shown = configurationResource({ record, etag: '"1"' });
  t.equal((shown.properties as Record<string, unknown>).repositoryUrl, "https://github.com/a/b?access_token=REDACTED", "the representation (GET and list) serves the redacted form");
});
