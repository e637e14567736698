/**
 * The agent does not trust the desired state it pulls: a configuration with a hostile repository URL (as a
 * tampered or stale store could hand over) is reported Failed, without the URL, and nothing is written for it.
 */
import crypto from "node:crypto";
import fs from "node:fs";
import os from "node:os";
import path from "node:path";
import t from "tap";
import { Agent, type AgentApi } from "../../src/agent/agent.js";
import type { PollResult } from "../../src/agent/client.js";
import type { DesiredConfiguration, StatusReport } from "../../src/contract/agent-api.js";

function desired(name: string, repositoryUrl: string): DesiredConfiguration {
  return {
    name,
    id: `/subscriptions/s/resourceGroups/rg/providers/Microsoft.Kubernetes/connectedClusters/c1/providers/Microsoft.KubernetesConfiguration/sourceControlConfigurations/${name}`,
    generation: 1,
    deleted: false,
    properties: { repositoryUrl, operatorNamespace: "ns", operatorInstanceName: name, operatorType: "Flux", operatorScope: "namespace" },
  };
}

t.test("hostile URLs are reported Failed without being quoted; the good configuration beside them is applied", async (t) => {
  const out = fs.mkdtempSync(path.join(os.tmpdir(), "agent-hostile-"));
  t.teardown(() => fs.rmSync(out, { recursive: true, force: true }));
  const hostile = {
    inject: "ssh://-oProxyCommand=touch%20/tmp/pwned/a",
    token: "https://github.com/a/b?access_token=SECRET-TOKEN-1",
    control: "https://github.com/a/b\u0007\u001b",
  };
  const configurations = [...Object.entries(hostile).map(([name, url]) => desired(name, url)), desired("good", "git@github.com:example/repo.git")];
  const reports: Array<{ name: string; report: StatusReport }> = [];
  const client: AgentApi = {
    poll: async (): Promise<PollResult> => ({ status: 200, etag: '"1"', state: { generation: 1, pollIntervalSeconds: 5, configurations } }),
    reportStatus: async (name, report) => {
      reports.push({ name, report });
      return { accepted: true };
    },
    heartbeat: async () => undefined,
  };
  const { privateKey } = crypto.generateKeyPairSync("ec", { namedCurve: "P-256" });
  const result = await new Agent({ client, privateKey, outDir: out }).runOnce();
  t.same(result.failed.sort(), Object.keys(hostile).sort());
  t.same(result.applied, ["good"]);
  for (const [name, url] of Object.entries(hostile)) {
    const report = reports.find((r) => r.name === name)?.report;
    t.equal(report?.complianceState, "Failed", name);
    t.match(report?.message, /^the repository URL is refused: /);
    t.notOk(JSON.stringify(report).includes("SECRET-TOKEN") || JSON.stringify(report).includes("ProxyCommand") || report?.message?.includes(url), `${name}: the report quotes nothing of the URL`);
    t.notOk(fs.existsSync(path.join(out, name)), `${name}: nothing written`);
  }
  const written = fs.readdirSync(path.join(out, "good")).map((f) => fs.readFileSync(path.join(out, "good", f), "utf8")).join("\n");
  t.match(written, /--git-url=git@github.com:example\/repo.git/);
});
