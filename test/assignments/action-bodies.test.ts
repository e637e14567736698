/**
 * The optional body of halt, resume and rollback (openapi/configurationAssignments.json: RolloutActionRequest,
 * "An optional body"), over HTTPS against the real server: a POST without any body is accepted (202) and acted
 * on, and so is one that says it is empty (Content-Length: 0, with or without a JSON content type); a body that is given is validated against the
 * schema (400 when it breaks it) and nothing is recorded. The migrate-to-Flux-v2 actions
 * (openapi/fluxMigration.json) require their body: without one they answer 400 and change nothing.
 */
import t, { type Test } from "tap";
import { startServer, type TestServer } from "../helpers/server.js";
import { client, type HttpResponse } from "../helpers/http.js";
import { clusterBody, clusterPath, configurationBody, configurationPath, SUB } from "../helpers/fixtures.js";
import { assignmentBody, assignmentPath, CLUSTER_API, SCC_API, withApi } from "../helpers/assignments.js";
import { settle } from "../helpers/reconciler.js";
import { endpointOf, rawRequest, send } from "../fuzz/wire.js";

const RG = "rg-bodies";
const MIGRATION_API = "2026-12-01-preview";

let server: TestServer;
let http: ReturnType<typeof client>;

t.before(async () => {
  server = await startServer();
  http = client(server.url, server.ca, server.token);
  for (const name of ["b1", "b2"]) {
    const res = await http(withApi(clusterPath(name, SUB, RG), CLUSTER_API), { method: "PUT", body: clusterBody() });
    if (res.status !== 201) throw new Error(`cluster PUT ${res.status} ${res.text}`);
  }
});
t.teardown(() => server.close());

const expectStatus = (t: Test, res: HttpResponse, status: number, message: string) => t.equal(res.status, status, message, { body: res.text });

/** no body at all on the wire: no Content-Length, no Transfer-Encoding, no Content-Type (node's client would add Content-Length: 0) */
async function bodyless(path: string): Promise<HttpResponse> {
  const endpoint = endpointOf(server.url, server.ca);
  const r = await send(endpoint, rawRequest("POST", path, [["Host", `${endpoint.host}:${endpoint.port}`], ["Connection", "close"], ["Authorization", `Bearer ${server.token}`]]));
  const text = r.body.toString("utf8");
  let json: unknown;
  try {
    json = JSON.parse(text);
  } catch {
    json = undefined;
  }
  return { status: r.status, headers: r.headers, text, json };
}
/** a body said to be empty: Content-Length: 0, no Content-Type */
const emptyLength = (path: string) => http(path, { method: "POST", headers: { "content-length": "0" } });
/** an empty body labelled JSON (as some clients send an action without a body) */
const emptyJson = (path: string) => http(path, { method: "POST", headers: { "content-type": "application/json", "content-length": "0" } });

t.test("halt, resume and rollback without a body: 202 and acted on; a body that breaks the schema: 400", async (t) => {
  const base = assignmentPath("bodyless", RG);
  const url = withApi(base);
  // generation 1 everywhere (no gate), then generation 2 waits on its canary's gate (no agent reports)
  const policy = (min: number) => ({ stages: [{ name: "canary", percentage: 50, gates: { minInstalledPercentage: min, progressDeadline: "PT1H" } }, { name: "rest", gates: { minInstalledPercentage: min } }] });
  const body = (min: number, branch: string) => assignmentBody({ configurationName: "bodyless", rolloutPolicy: policy(min) }, { operatorParams: `--git-readonly --git-branch=${branch}` });
  expectStatus(t, await http(url, { method: "PUT", body: body(0, "main") }), 201, "generation 1");
  await settle(server);
  t.match((await http(url)).json.properties.rollout, { status: "Completed", generation: 1 }, "generation 1 completed (gates of 0 %)");
  expectStatus(t, await http(url, { method: "PUT", body: body(100, "v2") }), 200, "generation 2");
  await settle(server);
  t.match((await http(url)).json.properties.rollout, { status: "InProgress", generation: 2, stages: [{ state: "Waiting" }, { state: "NotStarted" }] });

  // bodies that break RolloutActionRequest: refused before anything is recorded, whatever the action
  const refusals: Array<[string, unknown]> = [
    ["a reason that is not a string", { reason: 42 }],
    ["a reason over 256 characters", { reason: "x".repeat(257) }],
    ["an array", [{ reason: "why" }]],
  ];
  for (const action of ["halt", "resume", "rollback"]) {
    for (const [label, bad] of refusals) {
      const res = await http(withApi(`${base}/${action}`), { method: "POST", body: bad });
      expectStatus(t, res, 400, `${action}: ${label}`);
      t.match(res.json, { error: { code: String, message: String } }, `${action}: ${label}: an ARM error`);
      t.notOk(res.headers.location, `${action}: ${label}: no operation to follow`);
    }
    const notJson = await http(withApi(`${base}/${action}`), { method: "POST", rawBody: "reason=why", headers: { "content-type": "text/plain" } });
    expectStatus(t, notJson, 415, `${action}: a body that is not JSON`);
  }
  t.match((await http(url)).json.properties.rollout, { status: "InProgress", generation: 2 }, "none of the refused requests did anything");
  t.notOk((await http(url)).json.properties.rollout.haltedReason, "not halted");

  // halt, no body at all
  const halt = await bodyless(withApi(`${base}/halt`));
  expectStatus(t, halt, 202, "halt without a body: accepted");
  t.match(String(halt.headers.location), /\/configurationAssignments\/bodyless\/operationResults\/[0-9a-f-]+\?api-version=/, "with an operation to follow");
  await settle(server);
  expectStatus(t, await http(String(halt.headers.location)), 200, "the halt: done");
  t.match((await http(url)).json.properties, { provisioningState: "Canceled", rollout: { status: "Halted", haltedReason: "User" } }, "halted by the body-less request");
  expectStatus(t, await bodyless(withApi(`${base}/halt`)), 409, "halt without a body, again: nothing to halt (judged as with a body)");

  // resume, Content-Length: 0 and a JSON content type
  const resume = await emptyJson(withApi(`${base}/resume`));
  expectStatus(t, resume, 202, "resume with an empty body labelled JSON: accepted");
  await settle(server);
  t.match((await http(url)).json.properties.rollout, { status: "InProgress", generation: 2, stages: [{ state: "Waiting" }] }, "resumed: the canary waits again");
  expectStatus(t, await bodyless(withApi(`${base}/resume`)), 409, "resume without a body, again: nothing to resume");

  // rollback, Content-Length: 0
  const rollback = await emptyLength(withApi(`${base}/rollback`));
  expectStatus(t, rollback, 202, "rollback with an empty body: accepted");
  await settle(server);
  expectStatus(t, await http(String(rollback.headers.location)), 200, "the rollback: done");
  t.match((await http(url)).json.properties, { provisioningState: "Succeeded", configuration: { operatorParams: "--git-readonly --git-branch=main" }, rollout: { status: "Completed", generation: 3, rolledBackFrom: 2 } }, "rolled back to generation 1's configuration");

  // the subscription-scope rows: a body-less halt of a missing assignment is judged on the assignment, not the body
  const atSub = await bodyless(withApi(`${assignmentPath("no-such-assignment")}/halt`));
  expectStatus(t, atSub, 404, "a body-less halt of a missing subscription-scope assignment: 404, not a body error");
});

t.test("migrateToFluxV2 requires its body: without one, 400 and nothing changes", async (t) => {
  const scc = withApi(configurationPath("b2", "legacy", SUB, RG), SCC_API);
  expectStatus(t, await http(scc, { method: "PUT", body: configurationBody() }), 201, "a Flux v1 configuration");
  const one = withApi(`${configurationPath("b2", "legacy", SUB, RG)}/migrateToFluxV2`, MIGRATION_API);
  const cluster = withApi(`${clusterPath("b2", SUB, RG)}/providers/Microsoft.KubernetesConfiguration/migrateToFluxV2`, MIGRATION_API);
  for (const [label, target] of [["one configuration", one], ["the whole cluster", cluster]] as const) {
    for (const [how, send] of [["no body", bodyless], ["Content-Length: 0", emptyLength], ["an empty body labelled JSON", emptyJson]] as const) {
      const res = await send(target);
      expectStatus(t, res, 400, `${label}, ${how}: 400`);
      t.match(res.json, { error: { code: "InvalidRequestContent", message: /missing/i } }, `${label}, ${how}: the request content is missing`);
    }
  }
  const still = await http(scc);
  expectStatus(t, still, 200, "the v1 configuration is still there");
  const fluxConfigurations = await http(`${clusterPath("b2", SUB, RG)}/providers/Microsoft.KubernetesConfiguration/fluxConfigurations?api-version=2024-11-01`);
  t.same(fluxConfigurations.json?.value ?? [], [], "no fluxConfiguration was created");
  // the same action with its body works (so the 400 above was about the body, nothing else)
  const whatIf = await http(one, { method: "POST", body: { whatIf: true } });
  expectStatus(t, whatIf, 200, "with a body: answered");
});
