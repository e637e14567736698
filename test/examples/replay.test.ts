/**
 * The reference examples replayed against the service: each example's request is sent as written
 * and must get the example's status with a body of the example's shape (same properties, same JSON
 * types; values the agent reports later are listed in AGENT_REPORTED).
 *
 * Some example values break rules the service enforces (Kubernetes names, protected-setting keys).
 * The verbatim request is sent first and must be refused with a 400 naming each offending property;
 * then it is replayed with the documented SUBSTITUTIONS. The examples' subscription id `subId1` is not
 * a GUID, which ARM refuses (InvalidSubscriptionId) before anything else: that refusal is checked
 * once, and every request then uses EXAMPLE_SUBSCRIPTION in its place.
 */
import fs from "node:fs";
import path from "node:path";
import t, { type Test } from "tap";
import { startServer, type TestServer } from "../helpers/server.js";
import { client } from "../helpers/http.js";
import { clusterBody, sshPrivateKeyB64 } from "../helpers/fixtures.js";
import { REFERENCE_ROOT } from "../helpers/oav.js";

const KC = path.join(REFERENCE_ROOT, "specification/kubernetesconfiguration/resource-manager/Microsoft.KubernetesConfiguration");

/** example values the service refuses, what it says, and what the replay uses instead */
const SUBSTITUTIONS = [
  { param: "sourceControlConfigurationName", from: "SRS_GitHubConfig", to: "srs-githubconfig", target: "name", why: "Kubernetes names allow no '_'" },
  { param: "operatorNamespace", from: "SRS_Namespace", to: "srs-namespace", target: "properties.operatorNamespace", why: "Kubernetes names allow no '_'" },
  { param: "operatorInstanceName", from: "SRSGitHubFluxOp-01", to: "srsgithubfluxop-01", target: "properties.operatorInstanceName", why: "Kubernetes names are lower case" },
  { param: "configurationProtectedSettings", from: "protectedSetting1Key", to: "sshPrivateKey", target: "properties.configurationProtectedSettings.protectedSetting1Key", why: "only sshPrivateKey, httpsUser, httpsKey are accepted, base64" },
] as const;

const EXAMPLE_SUBSCRIPTION_VERBATIM = "subId1";
const EXAMPLE_SUBSCRIPTION = "00000000-0000-0000-0000-0000000000e1";

/** values the cluster agent reports after applying; a freshly created resource does not have them yet */
const AGENT_REPORTED = new Set(["properties.complianceStatus.lastConfigApplied", "properties.complianceStatus.message", "properties.complianceStatus.messageLevel", "properties.repositoryPublicKey", "systemData", "properties.configurationProtectedSettings"]);

interface Example {
  file: string;
  parameters: Record<string, unknown>;
  responses: Record<string, { body?: unknown }>;
}

const load = (rel: string): Example => ({ file: rel, ...(JSON.parse(fs.readFileSync(path.join(KC, rel), "utf8")) as Omit<Example, "file">) });

/** "a.b[].c: string" for every leaf of an example body */
function shape(value: unknown, prefix = "", out = new Map<string, string>()): Map<string, string> {
  if (Array.isArray(value)) value.forEach((v) => shape(v, `${prefix}[]`, out));
  else if (value !== null && typeof value === "object") {
    const entries = Object.entries(value as Record<string, unknown>);
    if (entries.length === 0) out.set(prefix, "object");
    for (const [k, v] of entries) shape(v, prefix ? `${prefix}.${k}` : k, out);
  } else out.set(prefix, value === null ? "null" : typeof value);
  return out;
}

function checkShape(t: Test, label: string, expected: unknown, actual: unknown): void {
  const want = shape(expected);
  const got = shape(actual);
  for (const [p, type] of want) {
    const normalized = p.replace(/^value\[\]\./, "");
    if ([...AGENT_REPORTED].some((a) => normalized === a || normalized.startsWith(`${a}.`))) continue;
    if (p === "nextLink") continue; // the example's single page has a link; ours fits on one page
    t.equal(got.get(p), type, `${label}: ${p} is a ${type}`);
  }
}

/** the example's parameters with a subscription id ARM accepts; nothing else changed */
function withGuidSubscription(parameters: Record<string, unknown>): Record<string, unknown> {
  return parameters.subscriptionId === EXAMPLE_SUBSCRIPTION_VERBATIM ? { ...parameters, subscriptionId: EXAMPLE_SUBSCRIPTION } : parameters;
}

function substitute(parameters: Record<string, unknown>): Record<string, unknown> {
  const copy = withGuidSubscription(JSON.parse(JSON.stringify(parameters)) as Record<string, unknown>);
  if (copy.sourceControlConfigurationName === "SRS_GitHubConfig") copy.sourceControlConfigurationName = "srs-githubconfig";
  const body = copy.sourceControlConfiguration as { properties?: Record<string, unknown> } | undefined;
  const p = body?.properties;
  if (p) {
    if (p.operatorNamespace === "SRS_Namespace") p.operatorNamespace = "srs-namespace";
    if (p.operatorInstanceName === "SRSGitHubFluxOp-01") p.operatorInstanceName = "srsgithubfluxop-01";
    if (p.configurationProtectedSettings) p.configurationProtectedSettings = { sshPrivateKey: sshPrivateKeyB64() };
  }
  return copy;
}

const sccPath = (p: Record<string, unknown>, withName: boolean): string =>
  `/subscriptions/${String(p.subscriptionId)}/resourceGroups/${String(p.resourceGroupName)}/providers/${String(p.clusterRp)}/${String(p.clusterResourceName)}/${String(p.clusterName)}` +
  `/providers/Microsoft.KubernetesConfiguration/sourceControlConfigurations${withName ? `/${String(p.sourceControlConfigurationName)}` : ""}?api-version=${String(p["api-version"])}`;

let server: TestServer;
let http: ReturnType<typeof client>;
t.before(async () => {
  server = await startServer();
  http = client(server.url, server.ca, server.token);
  // the parent every example lives under
  const res = await http(`/subscriptions/${EXAMPLE_SUBSCRIPTION}/resourceGroups/rg1/providers/Microsoft.Kubernetes/connectedClusters/clusterName1?api-version=2024-01-01`, { method: "PUT", body: clusterBody() });
  if (res.status !== 201) throw new Error(`cluster: ${res.status} ${res.text}`);
});
t.teardown(() => server.close());

for (const [version, dir, listDir] of [
  ["2024-11-01", "sourceControlConfigurations/stable/2024-11-01/examples", "stable/2024-11-01/examples"],
  ["2021-03-01", "stable/2021-03-01/examples", "stable/2021-03-01/examples"],
] as const) {
  t.test(`sourceControlConfigurations examples ${version}`, async (t) => {
    const create = load(`${dir}/CreateSourceControlConfiguration.json`);
    const notGuid = await http(sccPath(create.parameters, true), { method: "PUT", body: create.parameters.sourceControlConfiguration });
    t.equal(notGuid.status, 400, "the example's subscription id is not a GUID");
    t.equal(notGuid.json?.error?.code, "InvalidSubscriptionId");
    const verbatim = await http(sccPath(withGuidSubscription(create.parameters), true), { method: "PUT", body: create.parameters.sourceControlConfiguration });
    t.equal(verbatim.status, 400, "the verbatim example is refused");
    if (version === "2021-03-01") {
      // that version's ErrorDefinition has code and message only: the targets are read at the latest version
      t.same(Object.keys(verbatim.json.error).sort(), ["code", "message"], "2021-03-01 error shape");
      const latest = await http(sccPath({ ...withGuidSubscription(create.parameters), "api-version": "2024-11-01" }, true), { method: "PUT", body: create.parameters.sourceControlConfiguration });
      verbatim.json = latest.json;
    }
    const targets = [verbatim.json?.error?.target, ...((verbatim.json?.error?.details ?? []) as { target: string }[]).map((d) => d.target)];
    for (const s of SUBSTITUTIONS) t.ok(targets.includes(s.target), `refusal names ${s.target} (${s.why})`);

    const params = substitute(create.parameters);
    const first = await http(sccPath(params, true), { method: "PUT", body: params.sourceControlConfiguration });
    t.equal(first.status, 201, `create: ${first.text.slice(0, 300)}`);
    checkShape(t, "create 201", create.responses["201"]?.body, first.json);
    const again = await http(sccPath(params, true), { method: "PUT", body: params.sourceControlConfiguration });
    t.equal(again.status, 200, "replay of the create is an update");
    checkShape(t, "create 200", create.responses["200"]?.body, again.json);

    const get = load(`${dir}/GetSourceControlConfiguration.json`);
    const got = await http(sccPath(substitute(get.parameters), true));
    t.equal(got.status, 200);
    checkShape(t, "get", get.responses["200"]?.body, got.json);

    const list = load(`${listDir}/ListSourceControlConfiguration.json`);
    const listed = await http(sccPath(withGuidSubscription(list.parameters), false));
    t.equal(listed.status, 200);
    checkShape(t, "list", list.responses["200"]?.body, listed.json);

    const del = load(`${dir}/DeleteSourceControlConfiguration.json`);
    const deleted = await http(sccPath(substitute(del.parameters), true), { method: "DELETE" });
    t.equal(deleted.status, 200, "delete of the example's configuration");
    const missing = await http(sccPath(substitute(del.parameters), true), { method: "DELETE" });
    t.equal(missing.status, 204, "delete again: 204, as the example's other response");
  });
}

t.test("operations list examples", async (t) => {
  for (const rel of ["operations/stable/2024-11-01/examples/OperationsList.json", "stable/2021-03-01/examples/OperationsList.json"]) {
    const example = load(rel);
    const res = await http(`/providers/Microsoft.KubernetesConfiguration/operations?api-version=${String(example.parameters["api-version"])}`);
    t.equal(res.status, 200, rel);
    const names = new Set((res.json.value as { name: string }[]).map((o) => o.name));
    for (const op of (example.responses["200"]?.body as { value: { name: string }[] }).value.filter((o) => o.name.includes("sourceControlConfigurations"))) {
      t.ok(names.has(op.name), `${rel}: ${op.name} listed`);
    }
    const first = (res.json.value as unknown[])[0];
    checkShape(t, rel, { value: [(example.responses["200"]?.body as { value: unknown[] }).value[0]] }, { value: [first] });
  }
});
