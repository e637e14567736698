/**
 * The contract of configurationAssignments (2026-11-01-preview): every request/response pair the
 * service answers, at both scopes and in every state (created, rolled out, updated, paged lists and
 * compliance results, deletion running and completed, missing, errors), is recorded and validated
 * with the real `oav validate-traffic` against our own openapi/configurationAssignments.json, every
 * operation of the document covered and passed. A managed sourceControlConfiguration GET (top-level
 * read-only managedBy) is validated against openapi/sourceControlConfigurations.json (2024-11-01).
 * Negative controls show oav does check these bodies (so a pass is not vacuous).
 */
import fs from "node:fs";
import path from "node:path";
import t, { type Test } from "tap";
import { OPENAPI_DIR } from "../../src/openapi/index.js";
import { startServer, tempDir, type TestServer } from "../helpers/server.js";
import { client, type HttpResponse } from "../helpers/http.js";
import { recordingClient, stageSpec } from "../helpers/contract-traffic.js";
import { clusterBody, clusterPath, configurationPath, SUB } from "../helpers/fixtures.js";
import { ASSIGNMENT_API, assignmentBody, assignmentPath, assignmentsPath, CLUSTER_API, SCC_API, withApi } from "../helpers/assignments.js";
import { SCC_2024, validateTraffic, type OavReport } from "../helpers/oav.js";
import type { TrafficPair } from "../helpers/traffic.js";
import { settle } from "../helpers/reconciler.js";

const RG = "rg-contract";
const CLUSTERS = ["k1", "k2", "k3"];
const ASSIGNMENTS_SPEC = path.join(OPENAPI_DIR, "configurationAssignments.json");
const SCC_SPEC = path.join(OPENAPI_DIR, "sourceControlConfigurations.json");
const work = tempDir("kcrp-contract-");

let server: TestServer;
let recorder: ReturnType<typeof recordingClient>;

t.before(async () => {
  server = await startServer({ assignments: { batchSize: 2 }, pageSize: 2 });
  recorder = recordingClient(server.url, server.ca, server.token);
  const setup = client(server.url, server.ca, server.token); // not recorded: another document
  for (const name of CLUSTERS) {
    const res = await setup(withApi(clusterPath(name, SUB, RG), CLUSTER_API), { method: "PUT", body: clusterBody() });
    if (res.status !== 201) throw new Error(`cluster PUT ${res.status} ${res.text}`);
  }
});
t.teardown(() => server.close());

const request = (target: string, options?: Parameters<typeof recorder.request>[1]) => recorder.request(target, options);

/** asserts a status, showing the body only when it is not the expected one */
const expectStatus = (t: Test, res: HttpResponse, status: number, message: string) => t.equal(res.status, status, message, { body: res.text });

/** every operationId of a document, read from it (so the expectation cannot drift from the document) */
function operationIds(spec: string): string[] {
  const doc = JSON.parse(fs.readFileSync(spec, "utf8")) as { paths: Record<string, Record<string, { operationId?: string }>> };
  return Object.values(doc.paths)
    .flatMap((item) => Object.values(item).map((op) => op.operationId))
    .filter((id): id is string => typeof id === "string")
    .sort();
}

/** oav's jsonReport lists passed operations per spec file: [{ spec, operationIds }] */
const passedOperations = (report: OavReport): string[] =>
  (report.passedOperationsList as unknown as Array<{ operationIds?: string[] } | string>).flatMap((e) => (typeof e === "string" ? [e] : (e.operationIds ?? []))).sort();
const failedOperations = (report: OavReport): unknown => (report as unknown as { failedOperations?: unknown }).failedOperations;

/** follows nextLink from `first`, returning every page (the first included) */
async function allPages(t: Test, first: string): Promise<Array<{ value: unknown[]; nextLink?: string }>> {
  const pages: Array<{ value: unknown[]; nextLink?: string }> = [];
  let next: string | undefined = first;
  while (next !== undefined && pages.length < 20) {
    const res = await request(next);
    expectStatus(t, res, 200, `page ${pages.length + 1}`);
    pages.push(res.json);
    next = res.json?.nextLink;
  }
  return pages;
}

const scopes = [
  { label: "resource group", rg: RG as string | undefined, name: "rg-baseline", configurationName: "baseline" },
  { label: "subscription", rg: undefined, name: "sub-fleet", configurationName: "fleet" },
];

/** the deliberately invalid request (its body breaks the document's request schema): validated on its own */
const isSensitiveInput = (p: TrafficPair) => JSON.stringify(p.liveRequest.body ?? null).includes("configurationProtectedSettings");
const isAssignment = (p: TrafficPair) => p.liveRequest.url.includes("/configurationAssignments") && !isSensitiveInput(p);
const isManagedConfiguration = (p: TrafficPair) => p.liveRequest.url.includes("/sourceControlConfigurations/");

t.test("every operation at both scopes, in every state", async (t) => {
  for (const scope of scopes) {
    const url = withApi(assignmentPath(scope.name, scope.rg));
    const body = assignmentBody({ configurationName: scope.configurationName, clusterSelector: { tags: { env: "test" }, distribution: "k3s" }, enforcementMode: "Default" });

    const created = await request(url, { method: "PUT", body });
    expectStatus(t, created, 201, `${scope.label}: created`);
    t.equal(created.json.properties.provisioningState, "Accepted");
    expectStatus(t, await request(url), 200, `${scope.label}: GET before the rollout`);

    await settle(server);
    await server.reconciler.refreshAllSummaries();
    const rolledOut = await request(url);
    t.equal(rolledOut.json.properties.provisioningState, "Succeeded", `${scope.label}: rolled out`);
    t.match(rolledOut.json.properties.rollout, { status: "Completed", clustersTotal: 3, generation: 1 });
    t.match(rolledOut.json.properties.complianceSummary, { totalClusters: 3 });

    const updated = await request(url, {
      method: "PUT",
      body: assignmentBody(
        { configurationName: scope.configurationName, clusterSelector: { tags: { env: "test" } } },
        { operatorParams: "--git-readonly --git-branch=v2", operatorType: "Flux", enableHelmOperator: true, helmOperatorProperties: { chartVersion: "1.4.0", chartValues: "--set helm.versions=v3" } },
      ),
    });
    expectStatus(t, updated, 200, `${scope.label}: updated`);
    t.equal(updated.json.properties.provisioningState, "Updating");
    expectStatus(t, await request(url), 200, `${scope.label}: GET while the update rolls out`);
    await settle(server);
    await server.reconciler.refreshAllSummaries();
    t.match((await request(url)).json.properties, { provisioningState: "Succeeded", rollout: { status: "Completed", generation: 2 } }, `${scope.label}: update rolled out`);
  }

  // more assignments than a page holds (selecting no cluster), so both lists page
  for (const [i, rg] of [RG, RG, undefined].entries()) {
    const res = await request(withApi(assignmentPath(`extra-${i}`, rg)), { method: "PUT", body: assignmentBody({ configurationName: `extra-${i}`, clusterSelector: { tags: { ring: "none" } } }) });
    expectStatus(t, res, 201, `extra-${i} created`);
  }
  await settle(server);
  await server.reconciler.refreshAllSummaries();

  const byRg = await allPages(t, withApi(assignmentsPath(RG)));
  t.ok(byRg.length >= 2, `list by resource group paged (${byRg.map((p) => p.value.length).join("+")})`);
  t.equal(byRg.flatMap((p) => p.value).length, 3);
  const bySub = await allPages(t, withApi(assignmentsPath()));
  t.ok(bySub.length >= 3, `list by subscription paged (${bySub.map((p) => p.value.length).join("+")})`);
  t.equal(bySub.flatMap((p) => p.value).length, 5, "both scopes listed");

  for (const scope of scopes) {
    const results = await allPages(t, withApi(`${assignmentPath(scope.name, scope.rg)}/complianceResults`));
    t.ok(results.length >= 2, `${scope.label}: compliance results paged (${results.map((p) => p.value.length).join("+")})`);
    t.equal(results.flatMap((p) => p.value).length, 3);
  }

  // the managed configurations, read through sourceControlConfigurations
  for (const scope of scopes) {
    const managed = await request(withApi(configurationPath("k1", scope.configurationName, SUB, RG), SCC_API));
    expectStatus(t, managed, 200, `${scope.label}: managed configuration`);
    t.match(managed.json.managedBy, new RegExp(`/configurationAssignments/${scope.name}$`), `${scope.label}: managedBy`);
  }

  // staged rollouts (#15): a rollout policy, its stage status, whatIf, halt, resume, rollback and their operation results
  for (const scope of [
    { label: "resource group", rg: RG as string | undefined, name: "staged-rg" },
    { label: "subscription", rg: undefined, name: "staged-sub" },
  ]) {
    const base = assignmentPath(scope.name, scope.rg);
    const url = withApi(base);
    const policy = (minInstalledPercentage: number) => ({
      stages: [
        { name: "canary", percentage: 33, bakeTime: "PT0S", gates: { minInstalledPercentage, progressDeadline: "PT1H", maxFailures: 0 } },
        { name: "rest", clusterSelector: { tags: { env: "test" } }, gates: { minInstalledPercentage, maxFailurePercentage: 10 } },
      ],
    });
    const staged = (min: number, branch: string) => assignmentBody({ configurationName: scope.name, rolloutPolicy: policy(min) }, { operatorParams: `--git-readonly --git-branch=${branch}` });
    expectStatus(t, await request(url, { method: "PUT", body: staged(0, "main") }), 201, `${scope.label}: staged assignment created`);
    await settle(server);
    const first = await request(url);
    t.match(first.json.properties.rollout, { status: "Completed", generation: 1, stages: [{ name: "canary", state: "Passed", clustersTotal: 1 }, { name: "rest", state: "Passed", clustersTotal: 2 }] }, `${scope.label}: both stages passed (gates of 0 %)`);
    t.match(first.json.properties.rolloutPolicy.stages[1], { name: "rest", bakeTime: "PT0S", gates: { minInstalledPercentage: 0, progressDeadline: "PT1H", maxFailurePercentage: 10 } }, "defaults shown");

    // generation 2 waits on its canary's gate: no agent reports
    expectStatus(t, await request(url, { method: "PUT", body: staged(100, "v2") }), 200, `${scope.label}: generation 2`);
    await settle(server);
    t.match((await request(url)).json.properties.rollout, { status: "InProgress", currentStage: "canary", stages: [{ state: "Waiting", applied: 1, installed: 0 }, { state: "NotStarted" }] });

    // no body (the recorder would write it as null, which oav reads as a body): sent unrecorded; an empty body recorded
    const whatIf = await client(server.url, server.ca, server.token)(withApi(`${base}/whatIf`), { method: "POST" });
    expectStatus(t, whatIf, 200, `${scope.label}: whatIf of the stored assignment`);
    t.same((await request(withApi(`${base}/whatIf`), { method: "POST", body: {} })).json.stages, whatIf.json.stages, "an empty body: the stored assignment too");
    t.match(whatIf.json.stages, [{ name: "canary", clusters: 1 }, { name: "rest", clusters: 2 }]);
    const proposed = await request(withApi(`${base}/whatIf`), { method: "POST", body: staged(100, "v3") });
    expectStatus(t, proposed, 200, `${scope.label}: whatIf of a proposed change`);
    const changes = [...(proposed.json.value ?? []), ...(proposed.json.nextLink ? (await request(proposed.json.nextLink, { method: "POST", body: staged(100, "v3") })).json.value : [])];
    t.ok(changes.length >= 1 && changes.every((c: { change: string; changedProperties?: string[] }) => c.change === "Modify" && c.changedProperties?.includes("operatorParams")), "each cluster: Modify operatorParams", { changes });

    const halt = await request(withApi(`${base}/halt`), { method: "POST", body: { reason: "investigating INC-42" } });
    expectStatus(t, halt, 202, `${scope.label}: halt accepted`);
    const haltLocation = String(halt.headers.location);
    t.match(haltLocation, new RegExp(`/configurationAssignments/${scope.name}/operationResults/[0-9a-f-]+\\?api-version=${ASSIGNMENT_API}$`));
    expectStatus(t, await request(haltLocation), 202, `${scope.label}: halt not acted on yet`);
    await settle(server);
    expectStatus(t, await request(haltLocation), 200, `${scope.label}: halted`);
    t.match((await request(url)).json.properties, { provisioningState: "Canceled", rollout: { status: "Halted", haltedReason: "User", haltedMessage: /investigating INC-42/ } });
    expectStatus(t, await request(withApi(`${base}/halt`), { method: "POST", body: {} }), 409, `${scope.label}: nothing to halt`);

    const resume = await request(withApi(`${base}/resume`), { method: "POST", body: {} });
    expectStatus(t, resume, 202, `${scope.label}: resume accepted`);
    await settle(server);
    expectStatus(t, await request(String(resume.headers.location)), 202, `${scope.label}: resumed, the canary still waits`);
    expectStatus(t, await request(withApi(`${base}/resume`), { method: "POST", body: {} }), 409, `${scope.label}: nothing to resume`);

    const rollback = await request(withApi(`${base}/rollback`), { method: "POST", body: {} });
    expectStatus(t, rollback, 202, `${scope.label}: rollback accepted`);
    await settle(server);
    expectStatus(t, await request(String(rollback.headers.location)), 200, `${scope.label}: rolled back`);
    t.match((await request(url)).json.properties, { provisioningState: "Succeeded", configuration: { operatorParams: "--git-readonly --git-branch=main" }, rollout: { status: "Completed", generation: 3, rolledBackFrom: 2 } });
    expectStatus(t, await request(withApi(`${base}/rollback`), { method: "POST", body: {} }), 409, `${scope.label}: nothing to roll back to`);
  }

  // Flux v2 (#16): an assignment switched from configuration to fluxConfiguration, staged; whatIf shows Migrate;
  // compliance results name the fluxConfigurations; rollback to the Flux v1 generation; deletion
  {
    // clusters of their own, in a subscription of their own (a cluster carrying the subscription-scope assignments'
    // Flux v1 configurations would be a clash: never a mixed cluster)
    const FLUX_RG = "rg-contract-flux";
    const FLUX_SUB = "00000000-0000-0000-0000-0000000000f2";
    const setup = client(server.url, server.ca, server.token);
    for (const name of CLUSTERS) expectStatus(t, await setup(withApi(clusterPath(name, FLUX_SUB, FLUX_RG), CLUSTER_API), { method: "PUT", body: clusterBody() }), 201, "a cluster of the Flux v2 block");
    const base = assignmentPath("flux-rg", FLUX_RG, FLUX_SUB);
    const url = withApi(base);
    const flux = (rolloutPolicy?: unknown) => ({
      properties: {
        configurationName: "flux-rg",
        fluxConfiguration: {
          scope: "cluster",
          namespace: "flux-rg",
          gitRepository: { url: "https://github.com/example/fleet-baseline.git", repositoryRef: { branch: "main" } },
          kustomizations: { infra: { path: "./infrastructure", prune: true }, apps: { path: "./apps", dependsOn: ["infra"] } },
        },
        ...(rolloutPolicy ? { rolloutPolicy } : {}),
      },
    });
    const policy = { stages: [{ name: "canary", percentage: 33, gates: { minInstalledPercentage: 0 } }, { name: "rest", gates: { minInstalledPercentage: 0 } }] };
    expectStatus(t, await request(url, { method: "PUT", body: assignmentBody({ configurationName: "flux-rg" }) }), 201, "a Flux v1 assignment");
    await settle(server);
    const proposed = await request(withApi(`${base}/whatIf`), { method: "POST", body: flux(policy) });
    expectStatus(t, proposed, 200, "whatIf of the switch to Flux v2");
    t.match(proposed.json.value[0], { change: "Migrate", stage: String, message: /retired and the fluxConfiguration 'flux-rg' created in one desired-state version/ });
    t.match(proposed.json.stages, [{ name: "canary", clusters: 1 }, { name: "rest", clusters: 2 }]);
    expectStatus(t, await request(url, { method: "PUT", body: { properties: { ...flux().properties, configuration: assignmentBody().properties.configuration } } }), 400, "both kinds at once");
    const switched = await request(url, { method: "PUT", body: flux(policy) });
    expectStatus(t, switched, 200, "switched to Flux v2: a new generation");
    t.match(switched.json.properties, { fluxConfiguration: { gitRepository: { url: "https://github.com/example/fleet-baseline.git" } }, rollout: { generation: 2 } });
    await settle(server);
    const done = await request(url);
    t.match(done.json.properties, { provisioningState: "Succeeded", rollout: { status: "Completed", generation: 2, stages: [{ state: "Passed" }, { state: "Passed" }] } });
    const compliance = await request(withApi(`${base}/complianceResults`));
    t.ok(compliance.json.value.every((r: { configurationId: string }) => /\/fluxConfigurations\/flux-rg$/.test(r.configurationId)), "compliance read from the managed fluxConfigurations");
    const rollback = await request(withApi(`${base}/rollback`), { method: "POST", body: {} });
    expectStatus(t, rollback, 202, "rollback to the Flux v1 generation");
    await settle(server);
    expectStatus(t, await request(String(rollback.headers.location)), 200, "rolled back to Flux v1");
    t.match((await request(url)).json.properties, { configuration: { operatorParams: "--git-readonly --git-branch=main" }, rollout: { status: "Completed", generation: 3, rolledBackFrom: 2 } });
    expectStatus(t, await request(url, { method: "DELETE" }), 202, "deleted");
    await settle(server);
  }

  // error responses to requests the document allows
  const credentials = await request(withApi(assignmentPath("bad", RG)), { method: "PUT", body: assignmentBody({}, { repositoryUrl: "https://user:pw@example.com/x.git" }) });
  expectStatus(t, credentials, 400, "credentials in the repository URL");
  const rename = await request(withApi(assignmentPath("sub-fleet")), { method: "PUT", body: assignmentBody({ configurationName: "renamed" }) });
  expectStatus(t, rename, 400, "configurationName cannot change");
  t.equal(rename.json.error.code, "PropertyChangeNotAllowed");
  expectStatus(t, await request(withApi(assignmentPath("never-existed"))), 404, "GET of a missing assignment");
  expectStatus(t, await request(withApi(assignmentPath("never-existed", RG))), 404, "GET of a missing assignment");
  // ... and to one it forbids (validated separately)
  const secret = await request(withApi(assignmentPath("bad", RG)), { method: "PUT", body: assignmentBody({}, { configurationProtectedSettings: { sshPrivateKey: "c2VjcmV0" } }) });
  expectStatus(t, secret, 400, "protected settings are not accepted");
  t.equal(secret.json.error.code, "SensitiveInputNotAllowed");

  // deletion: 202 + Location, the operation running (202), no PUT meanwhile (409), completed (200), then 204
  for (const scope of scopes) {
    const url = withApi(assignmentPath(scope.name, scope.rg));
    const del = await request(url, { method: "DELETE" });
    expectStatus(t, del, 202, `${scope.label}: delete accepted`);
    t.equal(del.headers["retry-after"], "5");
    const location = String(del.headers.location);
    t.match(location, new RegExp(`/configurationAssignments/${scope.name}/operationResults/[0-9a-f-]+\\?api-version=${ASSIGNMENT_API}$`));
    expectStatus(t, await request(location), 202, `${scope.label}: operation running`);
    expectStatus(t, await request(url, { method: "PUT", body: assignmentBody({ configurationName: scope.configurationName }) }), 409, `${scope.label}: no PUT while deleting`);
    await settle(server);
    expectStatus(t, await request(location), 200, `${scope.label}: operation completed`);
    expectStatus(t, await request(url, { method: "DELETE" }), 204, `${scope.label}: already gone`);
    expectStatus(t, await request(withApi(assignmentPath("never-existed", scope.rg)), { method: "DELETE" }), 204, `${scope.label}: never existed`);
  }
});

function showErrors(t: Test, report: OavReport): void {
  if (report.exitCode !== 0 || report.errors.length > 0) t.comment(`oav errors:\n${JSON.stringify(report.errors, null, 2)}`);
}

t.test("the recorded traffic passes oav validate-traffic against our configurationAssignments document", async (t) => {
  const dir = path.join(work, "traffic-assignments");
  const written = recorder.writeTo(dir, isAssignment);
  const recorded = new Set(recorder.pairs.filter(isAssignment).map((p) => `${p.liveRequest.method} ${p.liveResponse.statusCode}`));
  t.ok(written >= 40, `${written} request/response pairs recorded`);
  for (const s of ["PUT 201", "PUT 200", "PUT 400", "PUT 409", "GET 200", "GET 202", "GET 404", "DELETE 202", "DELETE 204", "POST 202", "POST 200", "POST 409"]) t.ok(recorded.has(s), `recorded ${s}`);

  const report = await validateTraffic(dir, stageSpec(ASSIGNMENTS_SPEC, work), work);
  showErrors(t, report);
  t.equal(report.exitCode, 0, "oav exit code");
  t.same(report.errors, [], "no errors");
  const expected = operationIds(ASSIGNMENTS_SPEC);
  t.equal(expected.length, 20, "the document defines 20 operations (12, and halt, resume, rollback, whatIf at both scopes)");
  t.equal(report.coveredOperations, expected.length, "every operation covered (traffic was not silently skipped)");
  t.same(passedOperations(report), expected, "every operation of the document passed");
  t.equal(failedOperations(report), 0, "no operation failed");
});

t.test("the error answering a request with protected settings is an ErrorResponse; only the request breaks the document", async (t) => {
  const dir = path.join(work, "traffic-sensitive-input");
  t.equal(recorder.writeTo(dir, isSensitiveInput), 1);
  const report = await validateTraffic(dir, stageSpec(ASSIGNMENTS_SPEC, work), work);
  t.equal(report.coveredOperations, 1, "validated (not silently skipped)");
  t.match(report.errors, [{ operationId: "ConfigurationAssignments_CreateOrUpdate", errorCode: "OBJECT_ADDITIONAL_PROPERTIES", errorMessage: /configurationProtectedSettings/, issueSource: "request" }], "the document does not accept protected settings");
  t.equal(report.errors.length, 1, "and nothing in the response is reported", { errors: report.errors });
});

t.test("a managed configuration GET passes oav validate-traffic against our sourceControlConfigurations document", async (t) => {
  const dir = path.join(work, "traffic-scc");
  const written = recorder.writeTo(dir, isManagedConfiguration);
  t.equal(written, 2, "the managed configuration GETs of both scopes");
  const report = await validateTraffic(dir, stageSpec(SCC_SPEC, work), work);
  showErrors(t, report);
  t.equal(report.exitCode, 0, "oav exit code");
  t.same(report.errors, [], "no errors");
  t.equal(report.coveredOperations, 1, "the GET was validated (not silently skipped)");
  t.same(passedOperations(report), ["SourceControlConfigurations_Get"]);
});

t.test("negative controls: oav does check what these tests pass", async (t) => {
  // the reference 2024-11-01 swagger has no managedBy: the same GETs fail there
  const sccDir = path.join(work, "traffic-scc-reference");
  recorder.writeTo(sccDir, isManagedConfiguration);
  const reference = await validateTraffic(sccDir, SCC_2024, work);
  t.equal(reference.coveredOperations, 1, "validated against the reference swagger");
  t.match(reference.errors, [{ operationId: "SourceControlConfigurations_Get", errorCode: "OBJECT_ADDITIONAL_PROPERTIES", errorMessage: /managedBy/ }], "managedBy is what our document adds");

  // an assignment GET whose body breaks the document fails against it
  const dir = path.join(work, "traffic-broken");
  fs.mkdirSync(dir, { recursive: true });
  const pair = recorder.pairs.find((p) => isAssignment(p) && p.liveRequest.method === "GET" && p.liveResponse.statusCode === "200" && !p.liveRequest.url.includes("complianceResults") && /configurationAssignments\/[^/?]+\?/.test(p.liveRequest.url));
  if (pair === undefined) throw new Error("no assignment GET recorded");
  const broken = structuredClone(pair) as TrafficPair & { liveResponse: { body: { properties: Record<string, unknown> } } };
  broken.liveResponse.body.properties.rollout = { ...(broken.liveResponse.body.properties.rollout as object), clustersProcessed: "three" };
  broken.liveResponse.body.properties.unexpected = true;
  fs.writeFileSync(path.join(dir, "000.json"), JSON.stringify(broken, null, 2));
  const report = await validateTraffic(dir, stageSpec(ASSIGNMENTS_SPEC, work), work);
  t.not(report.exitCode, 0, "oav fails");
  t.ok(report.errors.some((e) => e.errorCode === "INVALID_TYPE"), "a string where the document says integer is reported", { errors: report.errors });
  t.ok(report.errors.some((e) => e.errorCode === "OBJECT_ADDITIONAL_PROPERTIES" && /unexpected/.test(e.errorMessage ?? "")), "an undocumented property is reported", { errors: report.errors });
});
