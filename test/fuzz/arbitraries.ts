/**
 * fast-check arbitraries for hostile requests: bodies built from each operation's JSON schema (valid-ish
 * values mixed with hostile ones at every leaf), path segments, query strings, headers, and raw requests
 * no well-behaved client could send. Secret material comes from the session (`Secrets`) so every
 * secret a request carries is a known canary.
 */
import fc from "fast-check";
import { paramsOf, resolve, type FuzzRoute, type Schema } from "./routes.js";
import { rawRequest, type WireRequest } from "./wire.js";

/** secret material put into requests; each value is a canary the checks look for in every answer */
export interface Secrets {
  armToken: string;
  /** tokens signed by the agent key of the canary cluster */
  agentToken: string;
  validPublicKeyB64: string;
  /** private keys offered where a public key belongs: PKCS#8 DER base64, PEM, RSA DER base64 */
  privateKeys: string[];
  sshPrivateKeyB64: string;
  httpsUserB64: string;
  httpsKeyB64: string;
  /** repository URLs carrying credentials */
  credentialUrls: string[];
  knownHostsB64: string;
}

export interface Names {
  subscription: string;
  /** per path parameter: names that exist (with canaries) and must survive the run (never PUT or DELETE by
   * the fuzzer), and other names, some of which the fuzzer creates */
  byParam: Record<string, { kept: string[]; free: string[] }>;
}

export interface FuzzCase {
  /** the operation aimed at, or `raw:<template>` for malformed HTTP */
  label: string;
  method: string;
  target: string;
  headers: Array<[string, string]>;
  body?: Buffer;
  /** the bytes sent (built from the fields above unless the case is raw) */
  wire: WireRequest;
  /** the route's output is fixed content (documents), exempt from the size rule */
  fixedContent: boolean;
}

const big = (unit: string, n: number): string => unit.repeat(n);

// ---------------------------------------------------------------- hostile values

const controlChars = fc.string({ unit: fc.integer({ min: 0, max: 0x1f }).map((c) => String.fromCharCode(c)), minLength: 1, maxLength: 20 });

const specialStrings = fc.constantFrom(
  "",
  " ",
  "..",
  "../../../etc/passwd",
  "<script>alert(1)</script>",
  "${jndi:ldap://127.0.0.1/a}",
  "'; DROP TABLE resources; --",
  "\u202egnp.exe",
  "\ud800",
  "\uffff\ufffe",
  "null",
  "0",
  "%00",
  "a\u0000b",
  "\r\nX-Injected: 1",
  "{{7*7}}",
  "$(id)",
  "`id`",
  "__proto__",
  "constructor",
  "-----BEGIN RSA PRIVATE KEY-----",
  "💥🔑",
  "Ā".repeat(300),
);

const hugeString = fc.constantFrom(1_000, 70_000, 600_000).chain((n) => fc.constantFrom("a", "é", "\u0000", "%", "😀").map((u) => big(u, n)));

export const hostileString: fc.Arbitrary<string> = fc.oneof(
  { weight: 3, arbitrary: specialStrings },
  { weight: 2, arbitrary: controlChars },
  { weight: 2, arbitrary: fc.string({ unit: "grapheme", maxLength: 40 }) },
  { weight: 1, arbitrary: fc.string({ unit: "binary", maxLength: 40 }) },
  { weight: 1, arbitrary: hugeString },
);

const nested = (depth: number, leaf: unknown): unknown => {
  let v: unknown = leaf;
  for (let i = 0; i < depth; i++) v = i % 2 ? [v] : { a: v };
  return v;
};

/** own `__proto__` / `constructor` keys, as JSON.parse makes them (an object literal would set the prototype) */
const prototypeKeys = fc.constantFrom(
  '{"__proto__":{"polluted":true}}',
  '{"constructor":{"prototype":{"polluted":true}}}',
  '{"__proto__":null,"a":1}',
  '{"prototype":{"isAdmin":true},"hasOwnProperty":1,"toString":"x"}',
).map((text) => JSON.parse(text) as unknown);

const manyKeys = fc.constantFrom(100, 5_000).map((n) => Object.fromEntries(Array.from({ length: n }, (_, i) => [`k${i}`, i])));

export const hostileValue: fc.Arbitrary<unknown> = fc.oneof(
  { weight: 5, arbitrary: hostileString },
  { weight: 2, arbitrary: fc.oneof(fc.integer(), fc.double(), fc.constantFrom(1e308, -1, 2 ** 53 + 1, -0, 0.1)) },
  { weight: 1, arbitrary: fc.boolean() },
  { weight: 1, arbitrary: fc.constant(null) },
  { weight: 1, arbitrary: fc.array(fc.oneof(fc.string(), fc.integer()), { maxLength: 4 }) },
  { weight: 1, arbitrary: fc.constantFrom(3, 50, 2_000).map((d) => nested(d, "deep")) },
  { weight: 2, arbitrary: prototypeKeys },
  { weight: 1, arbitrary: manyKeys },
  { weight: 1, arbitrary: fc.object({ maxDepth: 2, maxKeys: 4 }) },
);

// ---------------------------------------------------------------- values per property

/** properties whose meaning the service must check, with values that look right and values that are wrong */
function specialValues(name: string, secrets: Secrets): fc.Arbitrary<unknown> | undefined {
  switch (name) {
    case "repositoryUrl":
      return fc.constantFrom(
        "https://github.com/Azure/arc-k8s-demo",
        "git@github.com:example/cluster-config.git",
        "ssh://git@github.com/example/repo.git",
        ...secrets.credentialUrls,
        "file:///etc/passwd",
        "http://169.254.169.254/latest/meta-data/",
        "https://github.com/a/b;rm -rf /",
        "--upload-pack=touch /tmp/pwned",
        "ext::sh -c touch% /tmp/pwned",
        "https://github.com/a/b\n--config=core.sshCommand=id",
        "https://github.com/a/b.git#$(id)",
        "javascript:alert(1)",
        "git@-oProxyCommand=id:x/y.git",
        `https://github.com/${big("a", 70_000)}`,
      );
    case "agentPublicKeyCertificate":
      return fc.constantFrom(secrets.validPublicKeyB64, ...secrets.privateKeys, "AAAA", "-----BEGIN PUBLIC KEY-----\nAAAA\n-----END PUBLIC KEY-----", big("QUFB", 20_000));
    case "configurationProtectedSettings":
      return fc.oneof(
        fc.constant({ sshPrivateKey: secrets.sshPrivateKeyB64 }),
        fc.constant({ httpsUser: secrets.httpsUserB64, httpsKey: secrets.httpsKeyB64 }),
        fc.constant({ sshPrivateKey: secrets.sshPrivateKeyB64, unknownSetting: secrets.httpsKeyB64 }),
        fc.constant({}),
      );
    case "sshKnownHostsContents":
      return fc.constantFrom(secrets.knownHostsB64, "bm90IGtub3duX2hvc3Rz", "%%%");
    case "operatorParams":
      return fc.constantFrom("--git-readonly", "--git-branch=main --sync-garbage-collection", "--git-url=https://evil.example/x", "; rm -rf /", "$(id)", "--git-readonly\n--k8s-allow-namespace=*", "--ssh-keygen-dir=/", `--git-branch=${big("b", 70_000)}`);
    case "location":
      return fc.constantFrom("eastus", "EastUS", "westeurope", "", "global", "mars-north-1", big("l", 70_000));
    default:
      return undefined;
  }
}

function stringFor(schema: Schema): fc.Arbitrary<string> {
  if (schema.enum) {
    const values = schema.enum.filter((v): v is string => typeof v === "string");
    return fc.constantFrom(...values, ...values.map((v) => v.toLowerCase()));
  }
  if (schema.format === "date-time") return fc.date({ noInvalidDate: true, min: new Date(0), max: new Date(4102444800000) }).map((d) => d.toISOString());
  if (schema.format === "uuid") return fc.uuid();
  if (schema.pattern) {
    try {
      return fc.stringMatching(new RegExp(schema.pattern), { maxLength: schema.maxLength ?? 64 });
    } catch {
      // a pattern fast-check cannot generate from: plain strings
    }
  }
  return fc.string({ maxLength: schema.maxLength ?? 40 });
}

function validish(schema: Schema, definitions: Record<string, Schema>, secrets: Secrets, depth: number): fc.Arbitrary<unknown> {
  const s = resolve(schema, definitions);
  if (depth > 6) return fc.constant({});
  const type = s.type ?? (s.properties ? "object" : undefined);
  switch (type) {
    case "string":
      return stringFor(s);
    case "integer":
      return fc.integer({ min: s.minimum ?? -10, max: s.maximum ?? 1_000 });
    case "number":
      return fc.double({ noNaN: true, min: s.minimum ?? -1e6, max: s.maximum ?? 1e6 });
    case "boolean":
      return fc.boolean();
    case "array":
      return fc.array(valueFor("item", s.items ?? {}, definitions, secrets, depth + 1), { maxLength: 4 });
    case "object": {
      if (s.properties) {
        const entries = Object.entries(s.properties).map(([k, v]) => [k, valueFor(k, v, definitions, secrets, depth + 1)] as const);
        const record = Object.fromEntries(entries) as Record<string, fc.Arbitrary<unknown>>;
        const required = (s.required ?? []).filter((k) => k in record);
        return fc.oneof({ weight: 4, arbitrary: fc.record(record, { requiredKeys: required }) }, { weight: 1, arbitrary: fc.record(record, { requiredKeys: [] }) });
      }
      const value = typeof s.additionalProperties === "object" ? valueFor("value", s.additionalProperties, definitions, secrets, depth + 1) : fc.string({ maxLength: 20 });
      return fc.dictionary(fc.oneof(fc.string({ maxLength: 12 }), hostileString), value, { maxKeys: 5 });
    }
    default:
      return fc.oneof(fc.string({ maxLength: 10 }), fc.integer(), fc.constant(null));
  }
}

/** a property's value: valid-ish most of the time, hostile sometimes, with meaning-bearing names handled first */
export function valueFor(name: string, schema: Schema, definitions: Record<string, Schema>, secrets: Secrets, depth = 0): fc.Arbitrary<unknown> {
  const special = specialValues(name, secrets);
  const normal = special ? fc.oneof({ weight: 3, arbitrary: special }, { weight: 1, arbitrary: validish(schema, definitions, secrets, depth) }) : validish(schema, definitions, secrets, depth);
  return fc.oneof({ weight: 6, arbitrary: normal }, { weight: 1, arbitrary: hostileValue });
}

/** extra members in a body: unknown and prototype keys beside the real ones */
const extraMembers = fc.dictionary(fc.constantFrom("__proto__", "constructor", "prototype", "unknownProperty", "properties", "id", "type", "systemData"), hostileValue, { maxKeys: 2 });

// ---------------------------------------------------------------- valid bodies, then mutated

/** a body each operation accepts, so mutations of one or two members reach the rules behind the schema */
function validTemplate(operationId: string, secrets: Secrets): Record<string, unknown> | undefined {
  const spec = { repositoryUrl: "git@github.com:example/cluster-config.git", operatorNamespace: "flux", operatorInstanceName: "flux", operatorType: "Flux", operatorScope: "namespace", operatorParams: "--git-readonly" };
  if (operationId.startsWith("ConnectedCluster_")) return { location: "eastus", tags: { env: "fuzz" }, identity: { type: "SystemAssigned" }, properties: { agentPublicKeyCertificate: secrets.validPublicKeyB64, distribution: "k3s", infrastructure: "generic" } };
  if (operationId === "SourceControlConfigurations_MigrateToFluxV2") return { whatIf: true, fluxConfigurationName: "migrated", configurationProtectedSettings: { sshPrivateKey: secrets.sshPrivateKeyB64 } };
  if (operationId === "SourceControlConfigurations_MigrateClusterToFluxV2") return { whatIf: false, configurations: [{ name: "baseline", fluxConfigurationName: "migrated", configurationProtectedSettings: { sshPrivateKey: secrets.sshPrivateKeyB64 } }] };
  if (operationId.startsWith("SourceControlConfigurations_"))
    return { properties: { ...spec, configurationProtectedSettings: { sshPrivateKey: secrets.sshPrivateKeyB64 }, sshKnownHostsContents: secrets.knownHostsB64, enableHelmOperator: true, helmOperatorProperties: { chartVersion: "1.4.0", chartValues: "--set helm.versions=v3" } } };
  if (operationId.startsWith("ConfigurationAssignments_")) return { properties: { configurationName: "baseline", clusterSelector: { tags: { ring: "prod" } }, enforcementMode: "Default", configuration: { ...spec, operatorScope: "cluster" } } };
  if (operationId.startsWith("FluxConfigurations_"))
    return {
      properties: {
        scope: "cluster",
        namespace: "flux-system",
        sourceKind: "GitRepository",
        gitRepository: { url: "ssh://git@github.com/example/cluster-config.git", repositoryRef: { branch: "main" }, sshKnownHosts: secrets.knownHostsB64 },
        kustomizations: { infra: { path: "./infra", prune: true }, apps: { path: "./apps", dependsOn: ["infra"] } },
        configurationProtectedSettings: { sshPrivateKey: secrets.sshPrivateKeyB64 },
      },
    };
  if (operationId === "Agent_ReportFluxStatus") return { observedGeneration: 1, complianceState: "Compliant", statuses: [{ name: "x", namespace: "flux-system", kind: "GitRepository", complianceState: "Compliant" }], protectedSettingsReceived: true };
  if (operationId === "Subscriptions_Put") return { state: "Registered", properties: { tenantId: "72f988bf-86f1-41af-91ab-2d7cd011db47" } };
  if (operationId === "Agent_ReportStatus") return { observedGeneration: 1, complianceState: "Installed", message: "applied", messageLevel: "Information", lastConfigApplied: "2026-01-01T00:00:00Z", protectedSettingsReceived: true };
  if (operationId === "Agent_Heartbeat") return { agentVersion: "1.2.3", kubernetesVersion: "1.30.2", totalNodeCount: 3 };
  return undefined;
}

/** every member path of a JSON value, objects included ([] is the root) */
function memberPaths(value: unknown, at: string[] = []): string[][] {
  if (typeof value !== "object" || value === null || Array.isArray(value)) return [at];
  return [at, ...Object.entries(value).flatMap(([k, v]) => memberPaths(v, [...at, k]))];
}

function withMember(root: unknown, path: string[], value: unknown): unknown {
  if (path.length === 0) return value;
  const [head = "", ...rest] = path;
  const copy = { ...(root as Record<string, unknown>) };
  if (rest.length === 0 && value === undefined) delete copy[head];
  else copy[head] = withMember(copy[head], rest, value);
  return copy;
}

/** one or two members replaced by a value for their name (meaning-bearing names first), a hostile value, or removed */
function mutated(template: Record<string, unknown>, secrets: Secrets): fc.Arbitrary<unknown> {
  const paths = memberPaths(template).filter((p) => p.length > 0);
  // members whose meaning the service checks (URLs, keys, secrets) are picked half of the time
  const meaningful = paths.filter((p) => specialValues(p[p.length - 1] ?? "", secrets) !== undefined);
  const pick = meaningful.length > 0 ? fc.oneof(fc.constantFrom(...paths), fc.constantFrom(...meaningful)) : fc.constantFrom(...paths);
  const one = fc.tuple(pick, fc.nat({ max: 9 })).chain(([path, how]) => {
    const name = path[path.length - 1] ?? "";
    const value = how < 5 ? valueFor(name, {}, {}, secrets) : how < 8 ? hostileValue : fc.constant(undefined);
    return value.map((v) => ({ path, v }));
  });
  return fc.array(one, { minLength: 1, maxLength: 2 }).map((changes) => changes.reduce<unknown>((body, { path, v }) => withMember(body, path, v), template));
}

export function bodyValue(route: FuzzRoute, secrets: Secrets): fc.Arbitrary<unknown> {
  if (!route.body) return fc.constant({});
  const template = validTemplate(route.operationId, secrets);
  const fromSchema = valueFor("body", route.body.schema, route.body.definitions, secrets);
  const base = template
    ? fc.oneof({ weight: 2, arbitrary: fc.constant(template) }, { weight: 5, arbitrary: mutated(template, secrets) }, { weight: 3, arbitrary: fromSchema })
    : fromSchema;
  return fc.tuple(base, fc.option(extraMembers, { nil: undefined, freq: 3 })).map(([value, extra]) => {
    if (!extra || typeof value !== "object" || value === null || Array.isArray(value)) return value;
    // JSON round trip so a `__proto__` member stays an own property
    const text = JSON.stringify(value);
    const extraText = JSON.stringify(extra);
    return JSON.parse(extraText.length > 2 ? `${text.slice(0, -1)}${text.length > 2 ? "," : ""}${extraText.slice(1)}` : text) as unknown;
  });
}

// ---------------------------------------------------------------- bodies as bytes

const garbageBodies = fc.constantFrom(
  "",
  "{",
  '{"properties":',
  "null",
  "[]",
  '"text"',
  "1",
  '{"a":1,"a":2}',
  "\ufeff{}",
  "[".repeat(10_000),
  "[".repeat(5_000) + "]".repeat(5_000),
  '{"a":' + "[".repeat(3_000) + "]".repeat(3_000) + "}",
  '{"__proto__":{"isAdmin":true},"properties":{}}',
  '{"constructor":{"prototype":{"isAdmin":true}}}',
  "properties=1&location=eastus",
  '{"properties":{"repositoryUrl":"\\u0000"}}',
  "\u0000\u0001\u0002",
  JSON.stringify({ pad: big(" ", 1_100_000) }),
).map((s) => Buffer.from(s, "utf8"));

const oddEncodings = fc.constantFrom(Buffer.from([0xff, 0xfe, 0x7b, 0x00, 0x7d, 0x00]), Buffer.from([0xc3, 0x28, 0x7b, 0x7d]), Buffer.from('{"a":"\xff"}', "latin1"));

function bodyBytes(route: FuzzRoute, secrets: Secrets, method: string): fc.Arbitrary<Buffer | undefined> {
  const json = bodyValue(route, secrets).map((v) => Buffer.from(JSON.stringify(v) ?? "null", "utf8"));
  const carriesBody = method === "PUT" || method === "POST" || method === "PATCH";
  if (!carriesBody) return fc.oneof({ weight: 8, arbitrary: fc.constant(undefined) }, { weight: 1, arbitrary: json }, { weight: 1, arbitrary: garbageBodies });
  return fc.oneof({ weight: 10, arbitrary: json }, { weight: 2, arbitrary: garbageBodies }, { weight: 1, arbitrary: oddEncodings }, { weight: 1, arbitrary: fc.constant(undefined) });
}

// ---------------------------------------------------------------- path, query, headers

/** encoded, unicode, dotted, long and empty names; written to the request line as they are */
const hostileSegment = fc.oneof(
  fc.constantFrom("..", ".", "...", "a.", ".a", "a..b", "%2e%2e", "%2F", "a%2Fb", "%00", "%", "%zz", "%C0%AF", "a%20b", "*", ";", "a;b=c", "~", "con", "A".repeat(91), "a".repeat(300), "a".repeat(5_000)),
  fc.string({ unit: "grapheme", minLength: 1, maxLength: 12 }).map((s) => encodeURIComponent(s)),
  fc.string({ unit: "grapheme", minLength: 1, maxLength: 12 }).map((s) => Buffer.from(s, "utf8").toString("latin1")),
  hostileString.filter((s) => s.length < 2_000).map((s) => encodeURIComponent(s.replace(/[\ud800-\udfff]/g, "x"))),
);

const armName = fc.stringMatching(/^[a-zA-Z0-9][-_.a-zA-Z0-9]{0,20}[a-zA-Z0-9]$/);

/** the value a well-behaved client would put in a path parameter */
function usualSegment(param: string, names: Names, mutating: boolean, isLast: boolean): fc.Arbitrary<string> {
  switch (param) {
    case "subscriptionId":
      // lifecycle PUTs go to other subscriptions: the fuzzer must not suspend the one holding its resources
      return mutating && isLast ? fc.uuid() : fc.constant(names.subscription);
    case "resourceGroupName":
      return fc.constant("rg1");
    case "clusterRp":
      return fc.constant("Microsoft.Kubernetes");
    case "clusterResourceName":
      return fc.constant("connectedClusters");
    case "name":
      return fc.constantFrom("agent.json", "sourceControlConfigurations", "index.html", "static/index.html");
    default: {
      const pool = names.byParam[param] ?? { kept: [], free: ["fuzz-x"] };
      return fc.constantFrom(...(mutating && isLast ? pool.free : [...pool.kept, ...pool.kept, ...pool.free]));
    }
  }
}

function segment(param: string, names: Names, mutating: boolean, isLast: boolean): fc.Arbitrary<string> {
  const usual = usualSegment(param, names, mutating, isLast);
  // upper-cased names are the same resources: a kept name stays out of reach of PUT and DELETE that way too
  const keptOutOfReach = mutating && isLast;
  const variants =
    param === "subscriptionId"
      ? keptOutOfReach
        ? fc.uuid()
        : fc.oneof(fc.uuid(), fc.constant(names.subscription.toUpperCase()))
      : fc.oneof(armName, usual.map((v) => (keptOutOfReach ? v : v.toUpperCase())));
  return fc.oneof({ weight: 4, arbitrary: usual }, { weight: 2, arbitrary: variants }, { weight: 3, arbitrary: hostileSegment });
}

const apiVersionGarbage = fc.constantFrom("", "2024-11-01 ", "2099-01-01", "2024-13-45", "latest", "2024-11-01-preview", "1", big("9", 5_000), "2024-11-01%00", "%ZZ", "2024-11-01,2021-03-01");

function query(route: FuzzRoute): fc.Arbitrary<Array<[string, string]>> {
  const valid = route.apiVersions.length > 0 ? fc.constantFrom(...route.apiVersions) : fc.constant("2024-11-01");
  const apiVersion = fc.oneof(
    { weight: 10, arbitrary: valid.map((v) => [["api-version", v]] as Array<[string, string]>) },
    { weight: 1, arbitrary: fc.constant([] as Array<[string, string]>) },
    { weight: 2, arbitrary: apiVersionGarbage.map((v) => [["api-version", encodeURIComponent(v)]] as Array<[string, string]>) },
    { weight: 1, arbitrary: fc.tuple(valid, apiVersionGarbage).map(([a, b]) => [["api-version", a], ["api-version", encodeURIComponent(b)]] as Array<[string, string]>) },
    { weight: 1, arbitrary: valid.map((v) => [["API-VERSION", v], ["api-version[]", v]] as Array<[string, string]>) },
  );
  const skipToken = fc.oneof(fc.base64String({ maxLength: 80 }), fc.constantFrom("", "%ZZ", big("A", 20_000), "eyJhbGciOiJub25lIn0.e30.", "null"), hostileString.filter((s) => s.length < 5_000).map((s) => encodeURIComponent(s.replace(/[\ud800-\udfff]/g, "x"))));
  const extra = fc.array(
    fc.oneof(
      skipToken.map((v) => ["$skipToken", v] as [string, string]),
      fc.constantFrom("0", "1", "-1", "100000", "abc", "1e3").map((v) => ["$top", v] as [string, string]),
      fc.constantFrom("0", "1", "-1", "61", "abc", "0.5", "").map((v) => ["waitSeconds", v] as [string, string]),
      fc.constantFrom("__proto__", "constructor", "$filter", "a[b]", "%zz").map((k) => [k, "1"] as [string, string]),
    ),
    { maxLength: 3 },
  );
  return fc.tuple(apiVersion, extra).map(([a, e]) => [...a, ...e]);
}

const etagGarbage = fc.oneof(fc.constantFrom("*", '"abc"', 'W/"abc"', "", '"a", "b"', ",,,,", "W/", '"', big("x", 8_000), '"*"', "null"), fc.string({ unit: fc.integer({ min: 0x20, max: 0x7e }).map((c) => String.fromCharCode(c)), maxLength: 40 }));

const contentTypes = fc.constantFrom(
  "application/json",
  "application/json; charset=utf-8",
  "APPLICATION/JSON",
  "application/json; charset=utf-16",
  "application/json;;;",
  "text/plain",
  "application/merge-patch+json",
  "application/x-www-form-urlencoded",
  "multipart/form-data; boundary=x",
  "",
  "application/jsonx",
  "application/json, text/plain",
  "*/*",
);

const printable = (max: number) => fc.string({ unit: fc.integer({ min: 0x20, max: 0x7e }).map((c) => String.fromCharCode(c)), maxLength: max });

function headers(route: FuzzRoute, secrets: Secrets, hasBody: boolean): fc.Arbitrary<Array<[string, string]>> {
  const good = route.surface === "agent" ? secrets.agentToken : secrets.armToken;
  const other = route.surface === "agent" ? secrets.armToken : secrets.agentToken;
  const auth = fc.oneof(
    { weight: 12, arbitrary: fc.constant([["Authorization", `Bearer ${good}`]] as Array<[string, string]>) },
    { weight: 1, arbitrary: fc.constant([] as Array<[string, string]>) },
    {
      weight: 2,
      arbitrary: fc.constantFrom(`Bearer ${other}`, "Bearer", "Bearer x.y.z", "Basic YTpi", `Bearer ${big("A", 12_000)}`, `bearer ${good}`, `Bearer ${good}x`).map((v) => [["Authorization", v]] as Array<[string, string]>),
    },
    { weight: 1, arbitrary: fc.constant([["Authorization", `Bearer ${good}`], ["Authorization", "Bearer other"]] as Array<[string, string]>) },
  );
  const contentType = hasBody
    ? fc.oneof({ weight: 8, arbitrary: fc.constant([["Content-Type", "application/json"]] as Array<[string, string]>) }, { weight: 2, arbitrary: contentTypes.map((v) => [["Content-Type", v]] as Array<[string, string]>) }, {
        weight: 1,
        arbitrary: fc.constant([["Content-Type", "application/json"], ["Content-Type", "text/plain"]] as Array<[string, string]>),
      })
    : fc.oneof({ weight: 6, arbitrary: fc.constant([] as Array<[string, string]>) }, { weight: 1, arbitrary: contentTypes.map((v) => [["Content-Type", v]] as Array<[string, string]>) });
  const optional = fc.array(
    fc.oneof(
      etagGarbage.map((v) => ["If-Match", v] as [string, string]),
      etagGarbage.map((v) => ["If-None-Match", v] as [string, string]),
      printable(60).map((v) => ["x-ms-client-request-id", v] as [string, string]),
      fc.constant(["x-ms-return-client-request-id", "true"] as [string, string]),
      fc.oneof(printable(60), fc.constant(big("c", 8_000))).map((v) => ["x-ms-correlation-request-id", v] as [string, string]),
      fc.oneof(printable(80), fc.constant('{"createdBy":"x","createdAt":"never"}')).map((v) => ["x-ms-arm-resource-system-data", v] as [string, string]),
      fc.constantFrom("text/html", "*/*", "application/xml", "").map((v) => ["Accept", v] as [string, string]),
      fc.constantFrom("gzip", "deflate", "br", "identity").map((v) => ["Content-Encoding", v] as [string, string]),
      fc.constantFrom("en-US", big("x", 4_000)).map((v) => ["Accept-Language", v] as [string, string]),
    ),
    { maxLength: 3 },
  );
  return fc.tuple(auth, contentType, optional).map(([a, c, o]) => [...a, ...c, ...o]);
}

function caseOf(label: string, method: string, target: string, extra: Array<[string, string]>, body: Buffer | undefined, fixedContent: boolean, host: string): FuzzCase {
  const framing: Array<[string, string]> = [["Host", host], ["Connection", "close"]];
  if (body !== undefined) framing.push(["Content-Length", String(body.length)]);
  // header values are latin1 on the wire; the generators only produce printable ASCII here
  const all = [...framing, ...extra];
  return { label, method, target, headers: extra, body, wire: rawRequest(method, target, all, body), fixedContent };
}

const OTHER_METHODS = ["GET", "PUT", "DELETE", "POST", "PATCH", "HEAD", "OPTIONS"];

/** which part of a request is hostile: one at a time gets past the earlier checks to the later ones */
type Focus = "body" | "path" | "query" | "headers" | "method" | "all";
const focuses = fc.constantFrom<Focus>("body", "body", "body", "path", "query", "headers", "method", "all");

function usualHeaders(route: FuzzRoute, secrets: Secrets, hasBody: boolean): Array<[string, string]> {
  const h: Array<[string, string]> = [["Authorization", `Bearer ${route.surface === "agent" ? secrets.agentToken : secrets.armToken}`]];
  if (hasBody) h.push(["Content-Type", "application/json"]);
  return h;
}

export function routeCase(routes: FuzzRoute[], secrets: Secrets, names: Names, host: string): fc.Arbitrary<FuzzCase> {
  // writes carry the bodies and reach the most rules: they are drawn three times as often
  const weighted = routes.flatMap((r) => (r.body ? [r, r, r] : [r]));
  return fc.tuple(fc.constantFrom(...weighted), focuses).chain(([route, focus]) => {
    const hostile = (part: Focus) => focus === part || focus === "all";
    const method = hostile("method") ? fc.oneof({ weight: 1, arbitrary: fc.constant(route.method) }, { weight: 3, arbitrary: fc.constantFrom(...OTHER_METHODS) }) : fc.constant(route.method);
    return method.chain((m) => {
      const params = paramsOf(route.url);
      const mutating = m !== "GET" && m !== "HEAD" && m !== "OPTIONS";
      const segments = fc.tuple(...params.map((p, i) => (hostile("path") ? segment(p, names, mutating, i === params.length - 1) : usualSegment(p, names, mutating, i === params.length - 1))));
      const usualQuery: Array<[string, string]> = route.apiVersions[0] ? [["api-version", route.apiVersions[0]]] : [];
      const q = hostile("query") ? query(route) : fc.constant(usualQuery);
      const shape = hostile("path") ? fc.constantFrom("as-is", "as-is", "lower", "trailing-slash", "double-slash") : fc.constant("as-is");
      const body = hostile("body") || hostile("method") ? bodyBytes(route, secrets, m) : bodyValue(route, secrets).map((v) => (route.body ? Buffer.from(JSON.stringify(v) ?? "null", "utf8") : undefined));
      return fc.tuple(segments, q, body, shape).chain(([segs, qs, b, how]) =>
        (hostile("headers") ? headers(route, secrets, b !== undefined) : fc.constant(usualHeaders(route, secrets, b !== undefined))).map((h) => {
          let i = 0;
          let path = route.url.replace(/:([A-Za-z0-9_]+)/g, () => segs[i++] ?? "x");
          if (how === "lower") path = path.toLowerCase();
          if (how === "trailing-slash") path = `${path}/`;
          if (how === "double-slash") path = path.replace("/providers/", "//providers/");
          const qsText = qs.map(([k, v]) => `${k}=${v}`).join("&");
          return caseOf(route.operationId, m, qsText ? `${path}?${qsText}` : path, h, b, route.fixedContent, host);
        }),
      );
    });
  });
}

// ---------------------------------------------------------------- malformed HTTP

/** the documents and metrics: their size does not depend on the request */
const FIXED_CONTENT = /^\/(metrics|openapi|docs)\b/i;

export function rawCase(sampleTargets: string[], secrets: Secrets, host: string): fc.Arbitrary<FuzzCase> {
  const target = fc.constantFrom(...sampleTargets);
  const auth = `Bearer ${secrets.armToken}`;
  const make = (label: string, method: string, t: string, hs: Array<[string, string]>, body?: Buffer) => {
    const wire = rawRequest(method, t, hs, body);
    return { label: `raw:${label}`, method, target: t, headers: hs, body, wire, fixedContent: FIXED_CONTENT.test(t) };
  };
  const std = (extra: Array<[string, string]> = []): Array<[string, string]> => [["Host", host], ["Connection", "close"], ["Authorization", auth], ...extra];
  return fc.oneof(
    fc.tuple(target, fc.constantFrom("a\u0001b", "a\u007fb", "a\u0000b", "\u00ff\u00fe")).map(([t, v]) => make("invalid-header-char", "GET", t, std([["X-Fuzz", v]]))),
    target.map((t) => make("header-name-with-space", "GET", t, std([["Bad Header", "x"]]))),
    fc.tuple(target, fc.constantFrom("GET  {t} HTTP/1.1", "GET {t} HTTP/1.1 extra", "GET {t} HTTP/2.0", "GET {t} HTTP/1.", "GET {t}", "GET\t{t} HTTP/1.1", "GET {t}\u0000 HTTP/1.1", "GET x{t} HTTP/1.1", "GET * HTTP/1.1", "GET http://127.0.0.1{t} HTTP/1.1", "\u0016\u0003\u0001GET {t}")).map(([t, line]) => {
      const head = `${line.replace("{t}", t)}\r\nHost: ${host}\r\nConnection: close\r\n\r\n`;
      return { label: "raw:bad-request-line", method: "?", target: line.replace("{t}", t), headers: [], body: undefined, wire: { bytes: Buffer.from(head, "latin1") }, fixedContent: FIXED_CONTENT.test(t) };
    }),
    fc.tuple(target, fc.constantFrom("FOO", "BREW", "PATCH", "POST", "OPTIONS", "TRACE", "PROPFIND", "MKCOL", "LOCK", "SEARCH", "PURGE", "HEAD", "get", "CONNECT")).map(([t, m]) => make("method", m, t, std())),
    fc.tuple(target, fc.constantFrom(20_000, 60_000)).map(([t, n]) => make("huge-header", "GET", t, std([["X-Big", big("h", n)]]))),
    target.map((t) => make("many-headers", "GET", t, std(Array.from({ length: 600 }, (_, i) => [`X-H${i}`, big("v", 50)] as [string, string])))),
    fc.constantFrom(9_000, 20_000, 70_000).map((n) => make("long-url", "GET", `/subscriptions/${big("a", n)}?api-version=2024-11-01`, std())),
    fc.tuple(target, fc.constantFrom("abc", "-1", "1, 2", "99999999999999999999")).map(([t, v]) => make("bad-content-length", "PUT", t, std([["Content-Type", "application/json"], ["Content-Length", v]]), Buffer.from("{}"))),
    target.map((t) => make("cl-and-te", "PUT", t, std([["Content-Type", "application/json"], ["Content-Length", "2"], ["Transfer-Encoding", "chunked"]]), Buffer.from("2\r\n{}\r\n0\r\n\r\n"))),
    target.map((t) => make("bad-chunk", "PUT", t, std([["Content-Type", "application/json"], ["Transfer-Encoding", "chunked"]]), Buffer.from("zz\r\n{}\r\n0\r\n\r\n"))),
    target.map((t) => make("te-gzip", "PUT", t, std([["Content-Type", "application/json"], ["Transfer-Encoding", "gzip, chunked"]]), Buffer.from("2\r\n{}\r\n0\r\n\r\n"))),
    target.map((t) => make("too-large", "PUT", t, std([["Content-Type", "application/json"], ["Content-Length", String(2_000_002)]]), Buffer.from(`"${big("a", 2_000_000)}"`))),
    target.map((t) => make("no-host", "GET", t, [["Connection", "close"], ["Authorization", auth]])),
  );
}
