/**
 * A PUT that loses the record to another writer (412 under If-Match) at its commit must not leave its
 * secrets to be served with the winner's record: neither by ARM nor to the agent. With one commit per
 * request the loser's secrets are never stored at all, so the winner's stay whole and keep being served.
 */
import t from "tap";
import { StorePreconditionFailedError } from "../../src/store/port.js";
import { startServer } from "../helpers/server.js";
import { client } from "../helpers/http.js";
import { testAgent } from "../helpers/agent-token.js";
import { clusterBody, clusterPath, configurationBody, configurationPath, knownHostsB64 } from "../helpers/fixtures.js";

const V = "api-version=2024-11-01";

t.test("the loser's secrets are never served with the winner's record", async (t) => {
  const server = await startServer();
  t.teardown(() => server.close());
  const http = client(server.url, server.ca, server.token);
  const agent = testAgent("ec");
  t.equal((await http(`${clusterPath("race")}?api-version=2024-01-01`, { method: "PUT", body: clusterBody(agent.publicKeyB64) })).status, 201);
  const winnerHosts = knownHostsB64("winner.example");
  const created = await http(`${configurationPath("race", "c")}?${V}`, { method: "PUT", body: configurationBody({ sshKnownHostsContents: winnerHosts }) });
  t.equal(created.status, 201);

  // the loser's commit (its record, secrets, their key) finds the record changed under it
  const inner = server.store.inner;
  const commit = inner.commit.bind(inner);
  let lose = true;
  let secretsInLosingCommit = 0;
  inner.commit = async (ops) => {
    const record = ops.find((op) => op.op === "replace" && op.doc.kind === "configuration");
    if (record && record.op === "replace" && lose) {
      lose = false;
      secretsInLosingCommit = ops.filter((op) => op.op !== "delete" && op.doc.kind === "configurationSecrets").length;
      throw new StorePreconditionFailedError(record.doc.kind, record.doc.key);
    }
    return commit(ops);
  };
  const loser = await http(`${configurationPath("race", "c")}?${V}`, {
    method: "PUT",
    headers: { "if-match": created.headers.etag as string },
    body: configurationBody({ sshKnownHostsContents: knownHostsB64("loser.example") }),
  });
  inner.commit = commit;
  t.equal(loser.status, 412, "the loser is told");
  t.equal(secretsInLosingCommit, 1, "its secrets were in the commit that failed");

  const shown = await http(`${configurationPath("race", "c")}?${V}`);
  t.notOk(JSON.stringify(shown.json).includes(Buffer.from("loser.example").toString("base64").slice(0, 12)), "ARM does not show the loser's known_hosts");
  t.equal(shown.json.properties.sshKnownHostsContents, winnerHosts, "the winner's secrets were never replaced");
  t.notMatch(shown.json.properties.complianceStatus, { complianceState: "Failed" }, "nothing to submit again");
  const poll = await client(server.url, server.ca)(`/agent/v1${clusterPath("race")}/configurations`, { token: await agent.token(clusterPath("race")) });
  t.ok(poll.json.configurations[0].protectedSettings, "the cluster still gets the winner's secrets, sealed to it");
  const again = await http(`${configurationPath("race", "c")}?${V}`, { method: "PUT", body: configurationBody({ sshKnownHostsContents: winnerHosts }) });
  t.equal(again.status, 200);
  t.equal((await http(`${configurationPath("race", "c")}?${V}`)).json.properties.sshKnownHostsContents, winnerHosts, "a new PUT recovers it");
});
