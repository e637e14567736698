/**
 * Cluster ids and cluster keys are distinct types: an id (the PUT's casing, shown to users) is made
 * only by clusterId(), a key (lower-cased, what the store and the outbox hold) only from an id or a
 * stored key. The @ts-expect-error lines are checked by the typecheck: they fail it if the brand goes.
 */
import t from "tap";
import { clusterId, clusterKeyOf, storedClusterKey, type ClusterId, type ClusterKey } from "../../src/arm/resource-ids.js";
import type { ClusterRecord } from "../../src/domain/types.js";

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
