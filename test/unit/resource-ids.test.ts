/**
 * Cluster ids and cluster keys are distinct types: an id (the PUT's casing, shown to users) is made
 * only by clusterId(), a key (lower-cased, what the store and the outbox hold) only from an id or a
 * stored key. Configuration and assignment ids are branded the same way. The @ts-expect-error lines
 * are checked by the typecheck: they fail it if a brand goes. The refs are what the ARM surface parses
 * a path into, once (src/surfaces/arm/targets.ts).
 */
import t from "tap";
import {
  assignmentId,
  assignmentRef,
  assignmentScope,
  clusterId,
  clusterKeyOf,
  clusterRef,
  configurationId,
  configurationRef,
  storedClusterKey,
  type AssignmentId,
  type AssignmentRef,
  type AssignmentScope,
  type ClusterId,
  type ClusterKey,
  type ClusterRef,
  type ConfigurationId,
  type ConfigurationRef,
} from "../../src/arm/resource-ids.js";
import type { ClusterRecord } from "../../src/domain/types.js";
import {
  assignmentOperationTarget,
  assignmentTarget,
  clusterTarget,
  configurationParentTarget,
  configurationTarget,
  scopeTarget,
  subscriptionTarget,
} from "../../src/surfaces/arm/targets.js";

const SUB = "00000000-0000-0000-0000-000000000001";

t.test("an id keeps the casing, its key is lower-cased", async (t) => {
  const id: ClusterId = clusterId(SUB, "RG1", "Cluster-A");
  t.equal(id, `/subscriptions/${SUB}/resourceGroups/RG1/providers/Microsoft.Kubernetes/connectedClusters/Cluster-A`);
  const key: ClusterKey = clusterKeyOf(id);
  t.equal(key, id.toLowerCase());
  t.equal(storedClusterKey(id), key, "a stored key read back is the same key");
});

t.test("the types keep ids, keys and plain strings apart", async (t) => {
  const key = clusterKeyOf(clusterId(SUB, "rg1", "c1"));
  // @ts-expect-error an outbox or store key is not a cluster id
  const asId: ClusterId = key;
  // @ts-expect-error nor is a plain string
  const fromString: ClusterId = "/subscriptions/x/resourceGroups/y/providers/Microsoft.Kubernetes/connectedClusters/z";
  // @ts-expect-error a record's id is a ClusterId
  const record: Pick<ClusterRecord, "id"> = { id: key };
  t.ok(asId && fromString && record, "the assignments compile only with @ts-expect-error");
});

t.test("configuration and assignment ids are made only by their constructors", async (t) => {
  const cluster = clusterId(SUB, "RG1", "Cluster-A");
  const config: ConfigurationId = configurationId(cluster, "Cfg-1");
  t.equal(config, `${cluster}/providers/Microsoft.KubernetesConfiguration/sourceControlConfigurations/Cfg-1`);
  const atGroup: AssignmentId = assignmentId(SUB, "RG1", "Everywhere");
  t.equal(atGroup, `/subscriptions/${SUB}/resourceGroups/RG1/providers/Microsoft.KubernetesConfiguration/configurationAssignments/Everywhere`);
  t.equal(assignmentId(SUB, undefined, "a"), `/subscriptions/${SUB}/providers/Microsoft.KubernetesConfiguration/configurationAssignments/a`);

  // @ts-expect-error a plain string is not a configuration id
  const configFromString: ConfigurationId = "/subscriptions/x/resourceGroups/y/providers/z";
  // @ts-expect-error nor is a cluster key
  const configFromKey: ConfigurationId = clusterKeyOf(cluster);
  // @ts-expect-error nor a cluster id
  const configFromCluster: ConfigurationId = cluster;
  // @ts-expect-error a plain string is not an assignment id
  const assignmentFromString: AssignmentId = "/subscriptions/x/providers/y";
  // @ts-expect-error nor is a cluster key
  const assignmentFromKey: AssignmentId = clusterKeyOf(cluster);
  // @ts-expect-error nor a configuration id
  const assignmentFromConfig: AssignmentId = config;
  // @ts-expect-error a configuration is made under a cluster id, not any string
  configurationId("/subscriptions/x", "c");
  t.ok(configFromString && configFromKey && configFromCluster && assignmentFromString && assignmentFromKey && assignmentFromConfig);
});

t.test("a ref carries the names it was parsed from and the id they make", async (t) => {
  const cluster: ClusterRef = clusterRef(SUB, "RG1", "Cluster-A");
  t.same(cluster, { subscriptionId: SUB, resourceGroup: "RG1", name: "Cluster-A", id: clusterId(SUB, "RG1", "Cluster-A") });
  const config: ConfigurationRef = configurationRef(cluster, "Cfg-1");
  t.same(config, { subscriptionId: SUB, resourceGroup: "RG1", clusterName: "Cluster-A", configurationName: "Cfg-1", cluster, id: configurationId(cluster.id, "Cfg-1") });
  const atSubscription: AssignmentScope = assignmentScope(SUB);
  t.same(atSubscription, { subscriptionId: SUB }, "no resourceGroup key at subscription scope");
  t.notOk("resourceGroup" in atSubscription);
  const assignment: AssignmentRef = assignmentRef(assignmentScope(SUB, "RG1"), "Everywhere");
  t.same(assignment, { subscriptionId: SUB, resourceGroup: "RG1", name: "Everywhere", id: assignmentId(SUB, "RG1", "Everywhere") });
  t.equal(assignmentRef(atSubscription, "a").id, assignmentId(SUB, undefined, "a"));
});

t.test("the ARM surface parses a path's parameters once into these refs", async (t) => {
  const cluster = { subscriptionId: SUB, resourceGroupName: "RG1", clusterName: "Cluster-A" };
  t.same(clusterTarget(cluster), clusterRef(SUB, "RG1", "Cluster-A"));
  t.same(scopeTarget({ subscriptionId: SUB }), { subscriptionId: SUB }, "a subscription-wide list names no resource group");
  t.same(scopeTarget({ subscriptionId: SUB, resourceGroupName: "RG1" }), { subscriptionId: SUB, resourceGroup: "RG1" });

  const parent = { ...cluster, clusterRp: "microsoft.kubernetes", clusterResourceName: "CONNECTEDCLUSTERS" };
  t.same(configurationParentTarget(parent), clusterRef(SUB, "RG1", "Cluster-A"), "the parent's provider and type compare case-insensitively");
  t.same(configurationTarget({ ...parent, sourceControlConfigurationName: "Cfg-1" }), configurationRef(clusterRef(SUB, "RG1", "Cluster-A"), "Cfg-1"));
  const managed = { ...cluster, clusterRp: "Microsoft.ContainerService", clusterResourceName: "managedClusters", sourceControlConfigurationName: "Cfg-1" };
  t.throws(() => configurationTarget(managed), { statusCode: 400, code: "InvalidResourceType" }, "only connected clusters are parents here");

  const assignment = { subscriptionId: SUB, configurationAssignmentName: "Everywhere" };
  t.same(assignmentTarget(assignment), assignmentRef(assignmentScope(SUB), "Everywhere"));
  t.same(assignmentOperationTarget({ ...assignment, resourceGroupName: "RG1", operationId: "op-1" }), {
    assignment: assignmentRef(assignmentScope(SUB, "RG1"), "Everywhere"),
    operationId: "op-1",
  });
  t.same(subscriptionTarget({ subscriptionId: SUB }), { subscriptionId: SUB });
  t.throws(() => clusterTarget({ subscriptionId: SUB, resourceGroupName: "RG1" }), /no :clusterName/, "a row whose path lacks the parameter is a wrong row");
});
