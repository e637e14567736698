/**
 * The reference in-cluster agent.
 * `npm run agent -- keygen --out <dir> [--kind ec|rsa]`
 *     writes <dir>/agent-key.pem (0600) and <dir>/agent-key.pub (base64 DER SPKI) and prints the public key to register as the cluster's agentPublicKeyCertificate.
 * `npm run agent -- run --url https://127.0.0.1:8443 --cluster <clusterId> --key <pem> --out <dir> [--ca <file>] [--once]
 *                       [--wait <seconds>] [--audience <aud>] [--kubernetes-version <v>] [--nodes <n>]`
 *     pulls the cluster's configurations and writes their Flux manifests under <dir>; --once polls a single time.
 * Imports only src/agent (which itself imports only node, jose).
 */
import fs from "node:fs";
import path from "node:path";
import { parseArgs } from "node:util";
import { Agent } from "../agent/agent.js";
import { AgentClient, AgentHttpError, AgentKeyMismatchError } from "../agent/client.js";
import { DEFAULT_AUDIENCE, generateAgentKey, loadAgentKey } from "../agent/keys.js";
import { CliError, runCli, UsageError } from "./usage.js";

const USAGE = `usage:
  npm run agent -- keygen --out <dir> [--kind ec|rsa]
  npm run agent -- run --url <https://host:port> --cluster <clusterResourceId> --key <pem> --out <dir> [--ca <file>] [--once]
                       [--wait <seconds>] [--audience <aud>] [--kubernetes-version <v>] [--nodes <n>]`;

function keygen(argv: string[]): void {
  const { values } = parseArgs({ args: argv, options: { out: { type: "string" }, kind: { type: "string", default: "ec" }, help: { type: "boolean", short: "h" } } });
  if (values.help) throw new UsageError();
  if (!values.out) throw new UsageError("keygen needs --out <dir>");
  if (values.kind !== "ec" && values.kind !== "rsa") throw new UsageError("--kind is ec or rsa");
  const file = path.join(values.out, "agent-key.pem");
  if (fs.existsSync(file)) throw new CliError(`${file} exists; refusing to overwrite an agent key (its public key is in ${file.replace(/\.pem$/, ".pub")})`);
  const { privateKeyPem, publicKeyB64 } = generateAgentKey(values.kind);
  fs.mkdirSync(values.out, { recursive: true, mode: 0o700 });
  fs.writeFileSync(file, privateKeyPem, { mode: 0o600, flag: "wx" });
  // the public half beside it, one line, so scripts can register it: PUB=$(cat <dir>/agent-key.pub)
  const publicFile = path.join(values.out, "agent-key.pub");
  fs.writeFileSync(publicFile, `${publicKeyB64}\n`, { mode: 0o644 });
  process.stdout.write(`wrote ${file} and ${publicFile}\n\nagentPublicKeyCertificate:\n${publicKeyB64}\n\ncluster PUT body:\n`);
  process.stdout.write(
    `${JSON.stringify({ location: "eastus", identity: { type: "SystemAssigned" }, properties: { agentPublicKeyCertificate: publicKeyB64, distribution: "k3s", infrastructure: "generic" } }, null, 2)}\n`,
  );
}

async function run(argv: string[]): Promise<void> {
  const { values } = parseArgs({
    args: argv,
    options: {
      url: { type: "string" },
      cluster: { type: "string" },
      key: { type: "string" },
      out: { type: "string" },
      ca: { type: "string" },
      once: { type: "boolean", default: false },
      wait: { type: "string", default: "30" },
      audience: { type: "string", default: DEFAULT_AUDIENCE },
      "kubernetes-version": { type: "string", default: "unknown" },
      nodes: { type: "string", default: "1" },
      help: { type: "boolean", short: "h" },
    },
  });
  if (values.help) throw new UsageError();
  if (!values.url || !values.cluster || !values.key || !values.out) throw new UsageError("run needs --url, --cluster, --key and --out");
  const waitSeconds = Number(values.wait);
  const nodes = Number(values.nodes);
  if (!Number.isInteger(waitSeconds) || waitSeconds < 0) throw new UsageError("--wait is a whole number of seconds");
  if (!Number.isInteger(nodes) || nodes < 0) throw new UsageError("--nodes is a whole number");
  const privateKey = readKey(values.key);
  const client = new AgentClient({
    serviceUrl: values.url,
    clusterId: values.cluster,
    privateKey,
    audience: values.audience,
    ...(values.ca ? { ca: readInput(values.ca, "the CA certificate", "--ca names the service's certificate, e.g. .data/tls/cert.pem") } : {}),
  });
  const agent = new Agent({
    client,
    privateKey,
    outDir: values.out,
    waitSeconds,
    heartbeat: { kubernetesVersion: values["kubernetes-version"], totalNodeCount: nodes },
    log: (level, message) => process.stderr.write(`${new Date().toISOString()} ${level} ${message}\n`),
    onApplied: (e) => process.stdout.write(`${e.removed ? "removed" : "applied"} ${e.kind === "v2" ? "fluxConfiguration " : ""}${e.name} generation ${e.generation}${e.accepted ? "" : " (status not accepted)"}\n`),
  });
  try {
    if (values.once) {
      await client.heartbeat({ agentVersion: "0.1.0", kubernetesVersion: values["kubernetes-version"], totalNodeCount: nodes }).catch((err: unknown) => {
        if (err instanceof AgentKeyMismatchError) throw err; // the poll would fail the same way: say it once
        process.stderr.write(`heartbeat failed: ${err instanceof Error ? err.message : String(err)}\n`);
      });
      const r = await agent.runOnce();
      process.stdout.write(`${JSON.stringify(r)}\n`);
      if (r.failed.length > 0) process.exitCode = 2;
      return;
    }
    const controller = new AbortController();
    const stop = () => controller.abort();
    process.once("SIGINT", stop);
    process.once("SIGTERM", stop);
    await agent.run({ signal: controller.signal });
  } catch (err) {
    // the service's refusals are the user's to act on: one line, no stack
    if (err instanceof AgentHttpError) throw new CliError(err.message);
    throw err;
  } finally {
    client.close();
  }
}

/** a file the user named: a missing or unreadable one is one line saying which and what to do, not a stack */
function readInput(file: string, what: string, hint: string): Buffer {
  try {
    return fs.readFileSync(file);
  } catch (err) {
    throw new CliError(`cannot read ${what} ${file}: ${(err as NodeJS.ErrnoException).code ?? String(err)} (${hint})`);
  }
}

function readKey(file: string): ReturnType<typeof loadAgentKey> {
  const pem = readInput(file, "the agent key", "create one with `npm run agent -- keygen --out <dir>`");
  try {
    return loadAgentKey(pem);
  } catch (err) {
    throw new CliError(`${file} is not a usable agent key: ${err instanceof Error ? err.message : String(err)}`);
  }
}

async function main(): Promise<void> {
  const [command, ...rest] = process.argv.slice(2);
  if (command === "keygen") return keygen(rest);
  if (command === "run") return run(rest);
  if (command === "--help" || command === "-h" || command === "help") throw new UsageError();
  if (command === undefined) throw new UsageError("a command is needed");
  throw new UsageError(`unknown command '${command.slice(0, 40)}'`);
}

runCli(USAGE, main);
