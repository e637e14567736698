/**
 * `npm run flux-migrate` end to end on a small subscription, through the ARM API only: three clusters (two v1
 * configurations, one with an SSH key; none; one the migration must refuse: plain http). --dry-run prints the
 * table, writes the fluxConfiguration bodies (valid against the official document, no secret in them) and
 * changes nothing; the real run migrates what it can, says why the rest is refused, exits 1; a second run finds
 * no Flux v1 left where it migrated. Bad arguments: usage and exit 2.
 */
import { execFile } from "node:child_process";
import fs from "node:fs";
import path from "node:path";
import t from "tap";
import { client } from "./helpers/http.js";
import { b64, clusterBody, clusterPath, configurationPath, knownHostsB64, sshPrivateKeyB64, SUB } from "./helpers/fixtures.js";
import { ROOT } from "./helpers/process.js";
import { startServer, tempDir, type TestServer } from "./helpers/server.js";
import { validateFluxConfiguration } from "./helpers/official-flux-schema.js";

function cli(args: string[], env: Record<string, string> = {}): Promise<{ status: number | null; stdout: string; stderr: string }> {
  return new Promise((resolve) => {
    execFile(process.execPath, ["--import", "tsx", path.join(ROOT, "src/cli/flux-migrate.ts"), ...args], { cwd: ROOT, env: { ...process.env, ...env }, encoding: "utf8", timeout: 60_000 }, (err, stdout, stderr) =>
      resolve({ status: err ? (typeof err.code === "number" ? err.code : null) : 0, stdout, stderr }),
    );
  });
}

const STACK = /\n\s+at /;
const V1 = "api-version=2024-11-01";

t.test("usage: --help, bad and missing arguments", async (t) => {
  const env = { DATA_DIR: tempDir() };
  const help = await cli(["--help"], env);
  t.equal(help.status, 0);
  t.match(help.stdout, /^usage: npm run flux-migrate/);
  for (const args of [[], ["--subscription", "not-a-guid"], ["--subscription", SUB, "--url", "http://x"], ["--subscription", SUB, "--url", "::"], ["--subscription", SUB, "extra"], ["--subscription", SUB, "--bogus"], ["--subscription", SUB, "--token", "x y"]]) {
    const bad = await cli(args, env);
    t.equal(bad.status, 2, `${args.join(" ")}: exit 2`);
    t.match(bad.stderr, /usage: npm run flux-migrate/);
    t.notMatch(bad.stderr, STACK);
  }
});

t.test("a small subscription: dry run, then the migration", async (t) => {
  const server: TestServer = await startServer();
  t.teardown(() => server.close());
  const http = client(server.url, server.ca, server.token);
  for (const c of ["c-a", "c-b", "c-c"]) t.equal((await http(`${clusterPath(c)}?api-version=2024-01-01`, { method: "PUT", body: clusterBody() })).status, 201);
  const key = sshPrivateKeyB64();
  const put = (c: string, n: string, properties: Record<string, unknown>) => http(`${configurationPath(c, n)}?${V1}`, { method: "PUT", body: { properties } });
  t.equal((await put("c-a", "apps", { repositoryUrl: "git@github.com:example/apps.git", operatorParams: "--git-readonly --git-branch=main", configurationProtectedSettings: { sshPrivateKey: key }, sshKnownHostsContents: knownHostsB64() })).status, 201);
  t.equal((await put("c-a", "web", { repositoryUrl: "https://github.com/example/web", operatorParams: "--manifest-generation", configurationProtectedSettings: { httpsUser: b64("bot-user"), httpsKey: b64("pat-secret") } })).status, 201);
  t.equal((await put("c-c", "legacy", { repositoryUrl: "http://git.example.com/legacy" })).status, 201);
  const caFile = path.join(tempDir(), "ca.pem");
  fs.writeFileSync(caFile, server.ca);
  const common = ["--subscription", SUB, "--url", server.url, "--ca", caFile];
  const env = { DATA_DIR: server.dataDir };
  const secrets = [key, "bot-user", b64("bot-user"), "pat-secret", b64("pat-secret")];

  const out = tempDir();
  const dry = await cli([...common, "--dry-run", "--out", out], env);
  t.equal(dry.status, 1, "a configuration would be blocked");
  t.match(dry.stdout, /^CLUSTER\s+CONFIGURATION\s+RESULT\s+WARNINGS$/m);
  t.match(dry.stdout, /^rg1\/c-a\s+apps\s+WouldMigrate\s+.*GitReadOnly\(--git-readonly\)/m);
  t.match(dry.stdout, /^rg1\/c-a\s+web\s+WouldMigrate\s+.*HttpsUserInPlainText/m);
  t.match(dry.stdout, /^rg1\/c-b\s+-\s+NoFluxV1/m);
  t.match(dry.stdout, /^rg1\/c-c\s+legacy\s+Blocked: .*https:\/\//m);
  t.notMatch(dry.stderr, STACK);
  const written = ["apps", "web", "legacy"].map((n) => path.join(out, "rg1", n === "legacy" ? "c-c" : "c-a", `${n}.json`));
  for (const file of written.slice(0, 2)) {
    t.ok(fs.existsSync(file), `${file} written`);
    const body = JSON.parse(fs.readFileSync(file, "utf8"));
    t.ok(validateFluxConfiguration(body, "strict").valid, "a valid fluxConfiguration body");
  }
  for (const text of [dry.stdout, dry.stderr, ...written.slice(0, 2).map((f) => fs.readFileSync(f, "utf8"))]) for (const s of secrets) t.notOk(text.includes(s), "no secret printed or written");
  t.equal((await http(`${configurationPath("c-a", "apps")}?${V1}`)).status, 200, "the dry run changed nothing");

  const real = await cli(common, env);
  t.equal(real.status, 1, "c-c is refused");
  t.match(real.stdout, /^rg1\/c-a\s+apps\s+Migrated/m);
  t.match(real.stdout, /^rg1\/c-a\s+web\s+Migrated/m);
  t.match(real.stdout, /^rg1\/c-c\s+\*\s+Refused: Conflict: .*legacy/m);
  for (const s of secrets) t.notOk(real.stdout.includes(s));
  t.equal((await http(`${configurationPath("c-a", "apps")}?${V1}`)).status, 404, "v1 retired");
  const v2 = await http(`${clusterPath("c-a")}/providers/Microsoft.KubernetesConfiguration/fluxConfigurations/apps?${V1}`);
  t.equal(v2.status, 200, "v2 created");
  t.equal((await http(`${configurationPath("c-c", "legacy")}?${V1}`)).status, 200, "the refused cluster keeps its v1 configuration");

  const again = await cli(common, env);
  t.match(again.stdout, /^rg1\/c-a\s+-\s+NoFluxV1/m, "nothing left to migrate on c-a");
  t.equal(fs.readdirSync(path.join(out, "rg1")).sort().join(), "c-a", "no body for the configuration that cannot be mapped");
});
