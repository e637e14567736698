/** The pure decision of applying one assignment on one cluster: every branch, each for its reason. */
import t from "tap";
import { decideApply as decideHeld } from "../../src/domain/assignment-apply.js";
import { assignmentId, clusterId, configurationId, type AssignmentId } from "../../src/arm/resource-ids.js";
import type { AssignmentRecord, ClusterRecord, ConfigurationRecord, ConfigurationSpec, EnforcementMode } from "../../src/domain/types.js";

const SUB = "00000000-0000-0000-0000-000000000001";
const CLUSTER_ID = clusterId(SUB, "rg1", "c1");
const ASSIGNMENT_ID = assignmentId(SUB, undefined, "baseline");
const spec: ConfigurationSpec = { repositoryUrl: "https://github.com/Azure/arc-k8s-demo", operatorNamespace: "baseline", operatorInstanceName: "baseline", operatorType: "Flux", operatorScope: "cluster" };

function assignment(over: { mode?: EnforcementMode; deleting?: boolean; ring?: string; resourceGroup?: string } = {}): AssignmentRecord {
  return {
    id: ASSIGNMENT_ID,
    name: "baseline",
    subscriptionId: SUB,
    ...(over.resourceGroup !== undefined ? { resourceGroup: over.resourceGroup } : {}),
    spec: { configurationName: "baseline", configuration: spec, clusterSelector: { tags: { ring: over.ring ?? "prod" } }, enforcementMode: over.mode ?? "Default" },
    generation: 1,
    ...(over.deleting ? { deletion: { operationId: "op1", requestedAt: "2026-01-01T00:00:00Z" } } : {}),
    systemData: {},
  };
}

const cluster = (ring: string): ClusterRecord => ({
  id: CLUSTER_ID,
  name: "c1",
  resourceGroup: "rg1",
  subscriptionId: SUB,
  location: "eastus",
  tags: { ring },
  identity: { type: "SystemAssigned" },
  properties: { agentPublicKeyCertificate: "", connectivityStatus: "Connected", provisioningState: "Succeeded" },
  systemData: {},
});

function configuration(over: { managedBy?: AssignmentId | null; spec?: Partial<ConfigurationSpec>; secrets?: boolean } = {}): ConfigurationRecord {
  return {
    id: configurationId(CLUSTER_ID, "baseline"),
    name: "baseline",
    clusterId: CLUSTER_ID,
    spec: { ...spec, ...over.spec },
    generation: 1,
    provisioningState: "Succeeded",
    complianceStatus: { complianceState: "Pending" },
    secrets: { protectedSettingKeys: over.secrets ? ["sshPrivateKey"] : [], hasKnownHosts: false },
    ...(over.managedBy === null ? {} : { managedBy: over.managedBy ?? assignmentId(SUB.toUpperCase(), undefined, "BASELINE") }),
    systemData: {},
  };
}

/** the decision from the Flux v1 configuration of the name alone (the Flux v2 cases: test/assignments/flux-v2.test.ts) */
const decideApply = (a: AssignmentRecord, c: ClusterRecord, live: ConfigurationRecord | undefined) => decideHeld(a, c, live ? { v1: live } : {});

t.test("a matching cluster under Default enforcement", async (t) => {
  const a = assignment();
  const c = cluster("prod");
  t.equal(decideApply(a, c, undefined), "write", "nothing there: create it");
  t.equal(decideApply(a, c, configuration()), "unchanged", "its own, as wanted (managedBy compares ids case-insensitively)");
  t.equal(decideApply(a, c, configuration({ spec: { operatorNamespace: "other" } })), "write", "its own, drifted: rewrite");
  t.equal(decideApply(a, c, configuration({ secrets: true })), "write", "its own with secrets a user added: rewrite without them");
  t.equal(decideApply(a, c, configuration({ managedBy: null })), "clash", "a user's configuration of that name: left alone");
  t.equal(decideApply(a, c, configuration({ managedBy: assignmentId(SUB, undefined, "baseline-other") })), "clash", "another assignment's");
});

t.test("DoNotEnforce only reports", async (t) => {
  const a = assignment({ mode: "DoNotEnforce" });
  t.equal(decideApply(a, cluster("prod"), undefined), "unchanged");
  t.equal(decideApply(a, cluster("prod"), configuration({ spec: { operatorNamespace: "other" } })), "unchanged");
  t.equal(decideApply(a, cluster("dev"), configuration()), "unchanged", "not even a cluster that stopped matching loses it");
});

t.test("a cluster the assignment does not (or no longer) select", async (t) => {
  t.equal(decideApply(assignment(), cluster("dev"), undefined), "unchanged", "nothing there");
  t.equal(decideApply(assignment(), cluster("dev"), configuration()), "remove", "what the assignment created goes");
  t.equal(decideApply(assignment(), cluster("dev"), configuration({ managedBy: null })), "unchanged", "a user's configuration stays");
  t.equal(decideApply(assignment({ resourceGroup: "rg2" }), cluster("prod"), configuration()), "remove", "out of scope (another resource group)");
});

t.test("a deleting assignment takes back what it created, whatever its mode", async (t) => {
  t.equal(decideApply(assignment({ deleting: true }), cluster("prod"), configuration()), "remove");
  t.equal(decideApply(assignment({ deleting: true, mode: "DoNotEnforce" }), cluster("prod"), configuration()), "remove");
  t.equal(decideApply(assignment({ deleting: true }), cluster("prod"), configuration({ managedBy: null })), "unchanged", "never a user's");
  t.equal(decideApply(assignment({ deleting: true }), cluster("prod"), undefined), "unchanged");
});
