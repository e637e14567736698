/**
 * The command lines a newcomer types first: wrong arguments get a usage line and exit 2 (never a stack
 * trace), --help gets the usage and exit 0, and an agent whose key is not the cluster's registered one
 * says so in one line and, with --once, exits non-zero instead of retrying forever.
 */
import { execFile } from "node:child_process";
import fs from "node:fs";
import path from "node:path";
import t from "tap";
import { generateAgentKey } from "../src/agent/keys.js";
import { client } from "./helpers/http.js";
import { clusterBody, clusterPath } from "./helpers/fixtures.js";
import { ROOT } from "./helpers/process.js";
import { startServer, tempDir } from "./helpers/server.js";

/** runs a CLI asynchronously: an in-process server must keep answering meanwhile */
function cli(name: string, args: string[], env: Record<string, string> = {}): Promise<{ status: number | null; stdout: string; stderr: string }> {
  return new Promise((resolve) => {
    execFile(
      process.execPath,
      ["--import", "tsx", path.join(ROOT, "src/cli", `${name}.ts`), ...args],
      { cwd: ROOT, env: { ...process.env, ...env }, encoding: "utf8", timeout: 60_000 },
      (err, stdout, stderr) => resolve({ status: err ? (typeof err.code === "number" ? err.code : null) : 0, stdout, stderr }),
    );
  });
}

const STACK = /\n\s+at /;

t.test("token: only the token on stdout; usage for --help and bad arguments", async (t) => {
  const env = { DATA_DIR: tempDir() };
  const ok = await cli("token", ["--hours", "2", "--claims", '{"tid":"t1"}'], env);
  t.equal(ok.status, 0, ok.stderr);
  t.match(ok.stdout, /^[\w-]+\.[\w-]+\.[\w-]+\n$/, "one line: the token");
  const help = await cli("token", ["--help"], env);
  t.equal(help.status, 0);
  t.match(help.stdout, /^usage: npm run --silent token/);
  for (const args of [["--hours", "-5"], ["--hours", "x"], ["--claims", "notjson"], ["--claims", "[1]"], ["--nope"]]) {
    const bad = await cli("token", args, env);
    t.equal(bad.status, 2, `${args.join(" ")}: exit 2`);
    t.match(bad.stderr, /usage: npm run --silent token/, `${args.join(" ")}: the usage`);
    t.notMatch(bad.stderr, STACK, `${args.join(" ")}: no stack trace`);
    t.equal(bad.stdout, "", "nothing a script would capture as a token");
  }
});

t.test("agent and keys: usage for --help and bad arguments", async (t) => {
  const env = { DATA_DIR: tempDir() };
  t.equal((await cli("agent", ["--help"], env)).status, 0);
  t.equal((await cli("keys", ["--help"], env)).status, 0);
  for (const [name, args] of [
    ["agent", []],
    ["agent", ["deploy"]],
    ["agent", ["keygen"]],
    ["agent", ["keygen", "--out", tempDir(), "--kind", "dsa"]],
    ["agent", ["run", "--url", "https://127.0.0.1:1"]],
    ["agent", ["run", "--url", "https://127.0.0.1:1", "--cluster", "/x", "--key", "k", "--out", "o", "--wait", "soon"]],
    ["agent", ["run", "--bogus"]],
    ["keys", []],
    ["keys", ["spin"]],
    ["keys", ["rotate", "extra"]],
  ] as const) {
    const bad = await cli(name, [...args], env);
    t.equal(bad.status, 2, `${name} ${args.join(" ")}: exit 2`);
    t.match(bad.stderr, /usage:\s+npm run/, `${name} ${args.join(" ")}: the usage`);
    t.notMatch(bad.stderr, STACK, `${name} ${args.join(" ")}: no stack trace`);
  }
  const missingKey = await cli("agent", ["run", "--url", "https://127.0.0.1:1", "--cluster", "/x", "--key", path.join(tempDir(), "none.pem"), "--out", tempDir(), "--once"], env);
  t.equal(missingKey.status, 1);
  t.match(missingKey.stderr, /cannot read the agent key .*keygen/);
  t.notMatch(missingKey.stderr, STACK);
  const keyDir = tempDir();
  t.equal((await cli("agent", ["keygen", "--out", keyDir])).status, 0);
  const missingCa = await cli("agent", ["run", "--url", "https://127.0.0.1:1", "--cluster", "/x", "--key", path.join(keyDir, "agent-key.pem"), "--ca", path.join(keyDir, "none.pem"), "--out", tempDir(), "--once"], env);
  t.equal(missingCa.status, 1);
  t.match(missingCa.stderr, /cannot read the CA certificate .*none\.pem/);
  t.notMatch(missingCa.stderr, STACK);
});

t.test("agent with a key that is not the cluster's: one line naming the fix, --once exits non-zero", async (t) => {
  const server = await startServer();
  t.teardown(() => server.close());
  const registered = generateAgentKey("ec");
  const put = await client(server.url, server.ca, server.token)(`${clusterPath("keyed")}?api-version=2024-01-01`, { method: "PUT", body: clusterBody(registered.publicKeyB64) });
  t.equal(put.status, 201, put.text);
  const dir = tempDir();
  const keygen = await cli("agent", ["keygen", "--out", dir]); // a different key than the registered one
  t.equal(keygen.status, 0, keygen.stderr);
  t.equal(fs.readFileSync(path.join(dir, "agent-key.pub"), "utf8").trim().length > 0, true, "keygen writes the public key beside the private one");
  const caFile = path.join(dir, "ca.pem");
  fs.writeFileSync(caFile, server.ca);
  const cluster = clusterPath("keyed");
  const started = Date.now();
  const run = await cli("agent", ["run", "--url", server.url, "--ca", caFile, "--cluster", cluster, "--key", path.join(dir, "agent-key.pem"), "--out", path.join(dir, "out"), "--once"]);
  t.ok(Date.now() - started < 30_000, "no retrying");
  t.not(run.status, 0, "--once exits non-zero");
  t.equal(run.stderr.trim().split("\n").length, 1, `one line: ${run.stderr}`);
  t.match(run.stderr, `this key is not the one registered for ${cluster}: register its public key`);
  t.notMatch(run.stderr, STACK);

  // the service tells this failure apart from other 401s
  const again = await cli("agent", ["run", "--url", server.url, "--ca", caFile, "--cluster", clusterPath("unknown"), "--key", path.join(dir, "agent-key.pem"), "--out", path.join(dir, "out"), "--once"]);
  t.not(again.status, 0);
  t.notMatch(again.stderr, /this key is not the one registered/, "an unregistered cluster is another failure");
  t.match(again.stderr, /InvalidAuthenticationToken/);
});
