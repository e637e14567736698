/**
 * npm run flux-migrate -- --subscription <id> [--dry-run] [--url … --ca … --token …] [--out dir]
 *
 * Moves a whole subscription off Flux v1 through the ARM API only (docs/design/flux-v2.md): lists the
 * subscription's connected clusters and each one's sourceControlConfigurations, calls the cluster's
 * migrateToFluxV2 action (whatIf with --dry-run), prints one table row per configuration (cluster,
 * configuration, result, warnings) and, with --out, writes the fluxConfiguration body each one becomes
 * (<out>/<resource group>/<cluster>/<fluxConfiguration>.json; never a protected setting). Exit 0 when every
 * cluster migrated (or, with --dry-run, would), 1 when any is blocked or failed, 2 on bad arguments.
 */
import fs from "node:fs";
import https from "node:https";
import path from "node:path";
import { parseArgs } from "node:util";
import { loadOrCreateDevIdentity } from "../auth/dev-identity.js";
import { CliError, runCli, UsageError } from "./usage.js";

const USAGE = `usage: npm run flux-migrate -- --subscription <id> [--dry-run] [--url <service>] [--ca <pem>] [--token <bearer>] [--out <dir>]
  migrates every Flux v1 sourceControlConfiguration of the subscription's connected clusters to Flux v2
  --dry-run  whatIf: prints what each configuration becomes and the warnings, changes nothing
  --url      the service (default https://127.0.0.1:8443)
  --ca       a PEM file to trust for its certificate (default $DATA_DIR/tls/cert.pem when it exists)
  --token    a bearer token (default: a dev-mode token minted with the key under $DATA_DIR, default ./.data)
  --out      writes the fluxConfiguration body of each configuration there (no protected setting in them)`;

const CLUSTER_API = "2024-01-01";
const V1_API = "2024-11-01";
const MIGRATE_API = "2026-12-01-preview";
const GUID = /^[0-9a-f]{8}-[0-9a-f]{4}-[0-9a-f]{4}-[0-9a-f]{4}-[0-9a-f]{12}$/i;

interface Options {
  subscription: string;
  dryRun: boolean;
  url: URL;
  caFile?: string;
  token?: string;
  out?: string;
}

function parse(argv: string[], dataDir: string): Options {
  const { values, positionals } = parseArgs({
    args: argv,
    allowPositionals: true,
    options: {
      subscription: { type: "string" },
      "dry-run": { type: "boolean", default: false },
      url: { type: "string", default: "https://127.0.0.1:8443" },
      ca: { type: "string" },
      token: { type: "string" },
      out: { type: "string" },
      help: { type: "boolean", short: "h" },
    },
  });
  if (values.help) throw new UsageError();
  if (positionals.length > 0) throw new UsageError(`unexpected argument '${positionals[0]}'`);
  if (!values.subscription) throw new UsageError("--subscription is required");
  if (!GUID.test(values.subscription)) throw new UsageError("--subscription must be a subscription id (a GUID)");
  let url: URL;
  try {
    url = new URL(values.url);
  } catch {
    throw new UsageError("--url must be a URL such as https://127.0.0.1:8443");
  }
  if (url.protocol !== "https:") throw new UsageError("--url must be an https:// URL");
  if (values.token !== undefined && !/^[\w-]+\.[\w-]+\.[\w-]*$/.test(values.token)) throw new UsageError("--token must be a bearer token (a JWT)");
  const defaultCa = path.join(dataDir, "tls", "cert.pem");
  const caFile = values.ca ?? (fs.existsSync(defaultCa) ? defaultCa : undefined);
  return { subscription: values.subscription, dryRun: values["dry-run"] === true, url, ...(caFile !== undefined ? { caFile } : {}), ...(values.token !== undefined ? { token: values.token } : {}), ...(values.out !== undefined ? { out: values.out } : {}) };
}

interface Response {
  status: number;
  json: any; // eslint-disable-line @typescript-eslint/no-explicit-any
}

function requester(base: URL, token: string, ca: string | undefined) {
  const agent = new https.Agent({ keepAlive: true, ...(ca !== undefined ? { ca } : {}) });
  const call = (target: string, method = "GET", body?: unknown): Promise<Response> =>
    new Promise((resolve, reject) => {
      const url = new URL(target, base);
      const payload = body === undefined ? undefined : JSON.stringify(body);
      const headers: Record<string, string> = { authorization: `Bearer ${token}`, ...(payload !== undefined ? { "content-type": "application/json", "content-length": String(Buffer.byteLength(payload)) } : {}) };
      const req = https.request(url, { method, headers, agent }, (res) => {
        const chunks: Buffer[] = [];
        res.on("data", (c: Buffer) => chunks.push(c));
        res.on("end", () => {
          const text = Buffer.concat(chunks).toString("utf8");
          let json: unknown;
          try {
            json = text.length > 0 ? JSON.parse(text) : undefined;
          } catch {
            json = undefined;
          }
          resolve({ status: res.statusCode ?? 0, json });
        });
      });
      req.on("error", (err) => reject(new CliError(`cannot reach ${base.origin}: ${err.message}`)));
      if (payload !== undefined) req.write(payload);
      req.end();
    });
  return {
    call,
    close: () => agent.destroy(),
    /** every item of an ARM list, following nextLink */
    async all(first: string): Promise<any[]> { // eslint-disable-line @typescript-eslint/no-explicit-any
      const items: unknown[] = [];
      let next: string | undefined = first;
      while (next) {
        const res = await call(next);
        if (res.status !== 200) throw new CliError(`GET ${new URL(next, base).pathname} answered ${res.status}: ${armMessage(res)}`);
        items.push(...((res.json?.value ?? []) as unknown[]));
        next = typeof res.json?.nextLink === "string" ? res.json.nextLink : undefined;
      }
      return items as any[]; // eslint-disable-line @typescript-eslint/no-explicit-any
    },
  };
}

const armMessage = (res: Response): string => (res.json?.error ? `${res.json.error.code}: ${res.json.error.message}` : "no ARM error body");

interface Row {
  cluster: string;
  configuration: string;
  result: string;
  warnings: string;
}

function table(rows: Row[]): string {
  const head: Row = { cluster: "CLUSTER", configuration: "CONFIGURATION", result: "RESULT", warnings: "WARNINGS" };
  const all = [head, ...rows];
  const width = (k: keyof Row) => Math.max(...all.map((r) => r[k].length));
  const [wc, wn, wr] = [width("cluster"), width("configuration"), width("result")];
  return all.map((r) => `${r.cluster.padEnd(wc)}  ${r.configuration.padEnd(wn)}  ${r.result.padEnd(wr)}  ${r.warnings}`.trimEnd()).join("\n");
}

/** a path segment of a file name written under --out (ARM names: no separators, no dot-dot) */
const segment = (name: string): string => name.replace(/[^A-Za-z0-9._-]/g, "_").replace(/^\.+/, "_");

async function main(): Promise<void> {
  const dataDir = path.resolve(process.env.DATA_DIR ?? ".data");
  const options = parse(process.argv.slice(2), dataDir);
  let ca: string | undefined;
  if (options.caFile !== undefined) {
    try {
      ca = fs.readFileSync(options.caFile, "utf8");
    } catch (err) {
      throw new CliError(`cannot read the CA certificate ${options.caFile}: ${(err as Error).message}`);
    }
  }
  const token = options.token ?? (await (await loadOrCreateDevIdentity(dataDir)).mint({ lifetimeSeconds: 3600 }));
  const api = requester(options.url, token, ca);
  try {
    const rows: Row[] = [];
    let failed = false;
    const clusters = await api.all(`/subscriptions/${options.subscription}/providers/Microsoft.Kubernetes/connectedClusters?api-version=${CLUSTER_API}`);
    clusters.sort((a, b) => String(a.id).localeCompare(String(b.id)));
    for (const cluster of clusters) {
      const id = String(cluster.id);
      const name = String(cluster.name);
      const group = /\/resourceGroups\/([^/]+)\//i.exec(id)?.[1] ?? "";
      const label = `${group}/${name}`;
      const v1 = await api.all(`${id}/providers/Microsoft.KubernetesConfiguration/sourceControlConfigurations?api-version=${V1_API}`);
      if (v1.length === 0) {
        rows.push({ cluster: label, configuration: "-", result: "NoFluxV1", warnings: "" });
        continue;
      }
      const action = `${id}/providers/Microsoft.KubernetesConfiguration/migrateToFluxV2?api-version=${MIGRATE_API}`;
      let res = await api.call(action, "POST", { whatIf: options.dryRun });
      let refusal: string | undefined;
      if (res.status !== 200 && !options.dryRun) {
        // the migration is all or nothing per cluster: say why, and show each configuration's plan (whatIf)
        refusal = armMessage(res);
        res = await api.call(action, "POST", { whatIf: true });
      }
      if (res.status !== 200) {
        failed = true;
        rows.push({ cluster: label, configuration: "*", result: `Failed (${res.status})`, warnings: armMessage(res) });
        continue;
      }
      for (const item of res.json.value as any[]) { // eslint-disable-line @typescript-eslint/no-explicit-any
        const configuration = String(item.sourceControlConfigurationId).split("/").at(-1) ?? "";
        const blocked = item.result === "Blocked";
        if (blocked || refusal !== undefined) failed = true;
        const result = blocked ? `Blocked: ${item.message}` : refusal !== undefined ? "NotMigrated" : String(item.result);
        const warnings = (item.warnings as { code: string; source?: string }[]).map((w) => (w.source ? `${w.code}(${w.source})` : w.code)).join(", ");
        rows.push({ cluster: label, configuration, result, warnings });
        // a configuration that cannot be mapped at all has no body to write
        if (options.out !== undefined && Object.keys(item.fluxConfiguration?.properties ?? {}).length > 0) {
          const dir = path.join(options.out, segment(group), segment(name));
          fs.mkdirSync(dir, { recursive: true });
          const fluxName = String(item.fluxConfigurationId).split("/").at(-1) ?? configuration;
          fs.writeFileSync(path.join(dir, `${segment(fluxName)}.json`), `${JSON.stringify(item.fluxConfiguration, null, 2)}\n`);
        }
      }
      if (refusal !== undefined) rows.push({ cluster: label, configuration: "*", result: `Refused: ${refusal}`, warnings: "" });
    }
    process.stdout.write(`${table(rows)}\n`);
    if (options.out !== undefined) process.stdout.write(`fluxConfiguration bodies written under ${options.out}\n`);
    if (failed) throw new CliError(options.dryRun ? "some configurations would be blocked (see RESULT)" : "some clusters were not migrated (see RESULT)");
  } finally {
    api.close();
  }
}

runCli(USAGE, main);
