/**
 * Protected settings are write-only: a canary planted in every protected setting appears in no
 * response, no log line, and no resource record (only in the separate secrets sidecar, which the
 * encryption-at-rest work seals).
 */
import path from "node:path";
import Database from "better-sqlite3";
import t from "tap";
import { startServer } from "../helpers/server.js";
import { client } from "../helpers/http.js";
import { b64, clusterBody, clusterPath, configurationBody, configurationPath, configurationsPath, sshPrivateKeyB64 } from "../helpers/fixtures.js";

const V = "api-version=2024-11-01";

t.test("canaries in protected settings never leave the service", async (t) => {
  const server = await startServer();
  t.teardown(() => server.close());
  const http = client(server.url, server.ca, server.token);
  t.equal((await http(`${clusterPath("canary")}?api-version=2024-01-01`, { method: "PUT", body: clusterBody() })).status, 201);

  const sshKey = sshPrivateKeyB64();
  const pemBody = Buffer.from(sshKey, "base64").toString().split("\n")[1] ?? "";
  const user = "canary-user-7f3a9c";
  const password = "canary-token-51e0d2";
  const canaries = [sshKey, pemBody, b64(user), user, b64(password), password];

  const responses: string[] = [];
  const ssh = await http(`${configurationPath("canary", "ssh")}?${V}`, {
    method: "PUT",
    body: configurationBody({ configurationProtectedSettings: { sshPrivateKey: sshKey } }),
  });
  t.equal(ssh.status, 201, ssh.text);
  const httpsCfg = await http(`${configurationPath("canary", "https")}?${V}`, {
    method: "PUT",
    body: configurationBody({ repositoryUrl: "https://git.example.com/org/repo.git", configurationProtectedSettings: { httpsUser: b64(user), httpsKey: b64(password) } }),
  });
  t.equal(httpsCfg.status, 201, httpsCfg.text);
  // a refused request that carries the secrets must not echo them either
  const refused = await http(`${configurationPath("canary", "bad")}?${V}`, {
    method: "PUT",
    body: configurationBody({ repositoryUrl: "not a url", configurationProtectedSettings: { httpsUser: b64(user), httpsKey: b64(password) } }),
  });
  t.equal(refused.status, 400);
  responses.push(ssh.text, httpsCfg.text, refused.text);
  responses.push((await http(`${configurationPath("canary", "ssh")}?${V}`)).text);
  responses.push((await http(`${configurationPath("canary", "https")}?${V}`)).text);
  responses.push((await http(`${configurationsPath("canary")}?${V}`)).text);
  t.same(ssh.json.properties.configurationProtectedSettings, {});

  for (const c of canaries) {
    t.notOk(responses.some((r) => r.includes(c)), `no response contains canary ${c.slice(0, 12)}…`);
    t.notOk(server.logs.some((l) => l.includes(c)), `no log line contains canary ${c.slice(0, 12)}…`);
  }

  const db = new Database(path.join(server.dataDir, "store.db"), { readonly: true, fileMustExist: true });
  t.teardown(() => db.close());
  const tables = db.prepare("SELECT name FROM sqlite_master WHERE type = 'table'").all() as Array<{ name: string }>;
  let recordRows = 0;
  let sidecarRows = 0;
  for (const { name } of tables) {
    for (const row of db.prepare(`SELECT * FROM "${name}"`).all() as Array<Record<string, unknown>>) {
      const text = JSON.stringify(row);
      if (row.kind === "configurationSecrets") {
        sidecarRows++;
        continue;
      }
      if (row.kind === "configuration") recordRows++;
      for (const c of canaries) t.notOk(text.includes(c), `table ${name}, kind ${String(row.kind)}: no canary`);
    }
  }
  t.equal(recordRows, 2, "both configuration records were inspected");
  t.equal(sidecarRows, 2, "the secrets live in their own sidecar documents");
});
