/**
 * A PUT that writes its secrets and then loses the record to another writer (412 under If-Match)
 * must not leave its secrets to be served with the winner's record: neither by ARM nor to the agent.
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

  // the loser's record write finds the record changed under it, after its secrets were written
  const inner = server.store.inner;
  const replace = inner.replace.bind(inner);
  let lose = true;
  inner.replace = async (doc, ifMatch) => {
    if (doc.kind === "configuration" && lose) {
      lose = false;
      throw new StorePreconditionFailedError(doc.kind, doc.key);
    }
    return replace(doc, ifMatch);
  };
  const loser = await http(`${configurationPath("race", "c")}?${V}`, {
    method: "PUT",
    headers: { "if-match": created.headers.etag as string },
    body: configurationBody({ sshKnownHostsContents: knownHostsB64("loser.example") }),
  });
  inner.replace = replace;
  t.equal(loser.status, 412, "the loser is told");

  const shown = await http(`${configurationPath("race", "c")}?${V}`);
  t.not(shown.json.properties.sshKnownHostsContents, knownHostsB64("loser.example"));
  t.notOk(JSON.stringify(shown.json).includes(Buffer.from("loser.example").toString("base64").slice(0, 12)), "ARM does not show the loser's known_hosts");
  t.match(shown.json.properties.complianceStatus, { complianceState: "Failed", messageLevel: "Error" }, "and says they must be submitted again");
  const poll = await client(server.url, server.ca)(`/agent/v1${clusterPath("race")}/configurations`, { token: await agent.token(clusterPath("race")) });
  t.notOk(poll.json.configurations[0].protectedSettings, "nothing is sealed to the cluster from the loser's secrets");
  const again = await http(`${configurationPath("race", "c")}?${V}`, { method: "PUT", body: configurationBody({ sshKnownHostsContents: winnerHosts }) });
  t.equal(again.status, 200);
  t.equal((await http(`${configurationPath("race", "c")}?${V}`)).json.properties.sshKnownHostsContents, winnerHosts, "a new PUT recovers it");
});
