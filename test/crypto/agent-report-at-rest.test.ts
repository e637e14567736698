/**
 * What a cluster reports is customer data too: a canary in an agent's status report (message,
 * deploy key) and heartbeat (agent and Kubernetes versions) is served back by the ARM API and found
 * nowhere in the raw store, on both adapters.
 */
import crypto from "node:crypto";
import t from "tap";
import { systemClock } from "../../src/ports/clock.js";
import { startServer } from "../helpers/server.js";
import { client } from "../helpers/http.js";
import { testAgent } from "../helpers/agent-token.js";
import { openCosmosStore, startCosmos, type CosmosTestServer } from "../helpers/cosmos.js";
import { cosmosItems, findIn, readSqliteFiles } from "../helpers/raw-store.js";
import { clusterBody, clusterPath, configurationBody, configurationPath } from "../helpers/fixtures.js";
import { sshPublicKeyLine } from "../helpers/ssh-public-keys.js";

const V = "api-version=2024-11-01";
const CV = "api-version=2024-01-01";

let cosmos: CosmosTestServer;
t.before(async () => {
  cosmos = await startCosmos();
});
t.teardown(() => cosmos.close());

for (const engine of ["sqlite", "cosmos"] as const) {
  t.test(`${engine}: agent reports are sealed at rest`, async (t) => {
    const database = `rep-${crypto.randomUUID()}`;
    const store = engine === "cosmos" ? await openCosmosStore(cosmos, systemClock, undefined, database) : undefined;
    await store?.migrate();
    const server = await startServer({ store });
    t.teardown(() => server.close());
    const arm = client(server.url, server.ca, server.token);
    const agent = testAgent("ec");
    const canary = `report-canary-${crypto.randomBytes(6).toString("hex")}`;
    t.equal((await arm(`${clusterPath("rep")}?${CV}`, { method: "PUT", body: clusterBody(agent.publicKeyB64) })).status, 201);
    t.equal((await arm(`${configurationPath("rep", "cfg")}?${V}`, { method: "PUT", body: configurationBody() })).status, 201);
    const raw = client(server.url, server.ca);
    const token = await agent.token(clusterPath("rep"));
    const status = await raw(`/agent/v1${clusterPath("rep")}/configurations/cfg/status`, {
      method: "POST",
      token,
      body: { observedGeneration: 1, complianceState: "Installed", message: `applied ${canary}`, messageLevel: "Information", repositoryPublicKey: sshPublicKeyLine("ssh-ed25519", `${canary}-key`) },
    });
    t.equal(status.status, 200, status.text);
    const beat = await raw(`/agent/v1${clusterPath("rep")}/heartbeat`, { method: "POST", token, body: { agentVersion: `${canary}-agent`, kubernetesVersion: `${canary}-k8s`, totalNodeCount: 2 } });
    t.equal(beat.status, 204);

    const shown = await arm(`${configurationPath("rep", "cfg")}?${V}`);
    t.match(shown.json.properties.complianceStatus.message, canary, "the report is served back");
    t.match(shown.json.properties.repositoryPublicKey, canary);
    t.match((await arm(`${clusterPath("rep")}?${CV}`)).json.properties.agentVersion, canary);

    const haystacks =
      engine === "sqlite"
        ? readSqliteFiles(server.dataDir).map((f) => ({ name: f.name, text: f.bytes }))
        : (await cosmosItems(cosmos, database)).map((d) => ({ name: String(d.id), text: JSON.stringify(d) }));
    t.same(findIn(haystacks, canary), [], "nowhere in the raw store");
  });
}
