/**
 * README.md, replayed as a newcomer would: every shell block (and the SDK snippet) in order, against the
 * built service started the way `npm start` starts it, on a fresh DATA_DIR. The test stands for the two
 * set-up lines at the top (npm ci && npm start / npm test); blocks after `<!-- not replayed: ... -->` are
 * skipped (they need an Azure account). Only the port and `.data` (DATA_DIR) are substituted; curl is wrapped
 * so an HTTP error fails the step (--fail-with-body). Fails when a step fails or when the assignment example
 * does not land its configuration on the README's cluster.
 */
import { spawn, spawnSync } from "node:child_process";
import fs from "node:fs";
import path from "node:path";
import t from "tap";
import { client } from "./helpers/http.js";
import { exited, freePort, ready, ROOT } from "./helpers/process.js";
import { tempDir } from "./helpers/server.js";

interface Block {
  lang: "sh" | "js";
  code: string;
  line: number;
}

/** the fenced sh/js blocks of README.md, in order, without the set-up block and the ones marked not replayed */
function readmeBlocks(): Block[] {
  const lines = fs.readFileSync(path.join(ROOT, "README.md"), "utf8").split("\n");
  const blocks: Block[] = [];
  for (let i = 0; i < lines.length; i++) {
    const open = /^```(sh|bash|js)\s*$/.exec(lines[i] ?? "");
    if (!open) continue;
    const start = i;
    const body: string[] = [];
    for (i++; i < lines.length && !/^```\s*$/.test(lines[i] ?? ""); i++) body.push(lines[i] ?? "");
    const skipped = /<!--\s*not replayed/.test(lines[start - 1] ?? "");
    if (!skipped) blocks.push({ lang: open[1] === "js" ? "js" : "sh", code: body.join("\n"), line: start + 1 });
  }
  return blocks;
}

const curlPresent = spawnSync("curl", ["--version"], { stdio: "ignore" }).status === 0;

t.test("README.md's steps work as written", { skip: curlPresent ? false : "curl is not installed: the README's steps use it" }, async (t) => {
  const blocks = readmeBlocks();
  t.ok(blocks[0]?.code.includes("npm start"), "the first block is the set-up the test stands for");
  const steps = blocks.slice(1);
  t.ok(steps.length >= 4, "calling it, the SDK, the agent, assignments");

  // the built service, as `npm start` runs it (the build is skipped when dist/ is current)
  const build = spawnSync(process.execPath, [path.join(ROOT, "scripts/build-if-stale.mjs")], { cwd: ROOT, encoding: "utf8" });
  t.equal(build.status, 0, build.stderr);
  const dataDir = tempDir("kcrp-readme-");
  const port = await freePort();
  const url = `https://127.0.0.1:${port}`;
  let log = "";
  const service = spawn(process.execPath, [path.join(ROOT, "dist/src/main.js")], {
    cwd: ROOT,
    env: { ...process.env, DATA_DIR: dataDir, PORT: String(port), LOG_LEVEL: "warn" },
    stdio: ["ignore", "pipe", "pipe"],
  });
  service.stdout.on("data", (c: Buffer) => (log += c.toString()));
  service.stderr.on("data", (c: Buffer) => (log += c.toString()));
  t.teardown(() => void service.kill("SIGKILL"));
  const ca = await ready(url, dataDir);

  const substitute = (code: string) => code.replaceAll("https://127.0.0.1:8443", url).replace(/(?<![\w./-])\.data\//g, `${dataDir}/`);
  const script = [
    "set -eo pipefail",
    // an HTTP error is a failed step; a newline after each answer keeps the transcript readable
    'curl() { command curl --silent --show-error --fail-with-body "$@" && echo; }',
    ...steps.map((b, i) =>
      b.lang === "sh"
        ? `echo "::step ${i + 1} (README.md line ${b.line})::"\n${substitute(b.code)}`
        : `echo "::step ${i + 1} (README.md line ${b.line}, node)::"\nnode --input-type=module <<'README_JS'\n${substitute(b.code)}\nREADME_JS`,
    ),
    'echo "::done::"',
  ].join("\n");
  const run = spawn("bash", ["-c", script], { cwd: ROOT, env: { ...process.env, DATA_DIR: dataDir }, stdio: ["ignore", "pipe", "pipe"] });
  let transcript = "";
  run.stdout.on("data", (c: Buffer) => (transcript += c.toString()));
  run.stderr.on("data", (c: Buffer) => (transcript += c.toString()));
  const code = await exited(run);
  const failedAt = [...transcript.matchAll(/::step [^:]+::/g)].at(-1)?.[0];
  t.equal(code, 0, `every step succeeds${code === 0 ? "" : `; failed in ${failedAt}:\n${transcript.slice(-3000)}\nservice:\n${log.slice(-2000)}`}`);
  t.match(transcript, /::done::/);

  // what each step visibly did
  t.match(transcript, /cfg1 https:\/\/github\.com\/Azure\/arc-k8s-demo Succeeded/, "the SDK snippet prints the configuration");
  t.ok(fs.existsSync(path.join(dataDir, "manifests", "cfg1")), "the agent wrote cfg1's manifests");
  t.equal((transcript.match(/^applied cfg1 generation/gm) ?? []).length, 1, "the agent says so once");
  t.notMatch(transcript, /ERR_JWS|AgentKeyMismatch|is not the one registered/, "the agent's key is the registered one");

  // the assignment example lands on the README's cluster (the rollout runs in the background: allow it a moment)
  const token = fs.readFileSync(path.join(dataDir, "dev-token"), "utf8").trim();
  const http = client(url, ca, token);
  const sub = "/subscriptions/00000000-0000-0000-0000-000000000001";
  const assignment = `${sub}/providers/Microsoft.KubernetesConfiguration/configurationAssignments/baseline`;
  const onCluster = `${sub}/resourceGroups/rg1/providers/Microsoft.Kubernetes/connectedClusters/c1/providers/Microsoft.KubernetesConfiguration/sourceControlConfigurations/baseline?api-version=2024-11-01`;
  let landed = false;
  let results: { value?: Array<{ clusterId?: string; id?: string }> } = {};
  for (let i = 0; i < 100 && !landed; i++) {
    results = (await http(`${assignment}/complianceResults?api-version=2026-11-01-preview`)).json as typeof results;
    const configuration = await http(onCluster);
    landed = configuration.status === 200 && JSON.stringify(results.value ?? []).toLowerCase().includes("/connectedclusters/c1");
    if (!landed) await new Promise((r) => setTimeout(r, 200));
  }
  t.ok(landed, `the assignment's configuration is on c1 and c1 is in its complianceResults: ${JSON.stringify(results).slice(0, 500)}`);
  const shown = (await http(`${assignment}?api-version=2026-11-01-preview`)).json as { properties: { complianceSummary?: { totalClusters: number } } };
  for (let i = 0; i < 100 && shown.properties.complianceSummary?.totalClusters !== 1; i++) {
    await new Promise((r) => setTimeout(r, 200));
    Object.assign(shown, (await http(`${assignment}?api-version=2026-11-01-preview`)).json);
  }
  t.equal(shown.properties.complianceSummary?.totalClusters, 1, "the summary counts the one selected cluster");

  service.kill("SIGTERM");
  t.equal(await exited(service), 0);
});
