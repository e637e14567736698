/**
 * Runs `oav validate-traffic` (the real CLI) on recorded traffic against a reference swagger.
 * oav passes traffic of an api-version its swagger does not define without a word, so callers must
 * check `coveredOperations`; `specForVersion` makes a copy of the reference tree stamped with another
 * api-version (the 2023-05-01 swagger has the same content as 2024-11-01, see SOURCE.txt).
 */
import { execFile } from "node:child_process";
import fs from "node:fs";
import path from "node:path";
import { promisify } from "node:util";

const run = promisify(execFile);

export const REFERENCE_ROOT = path.resolve(import.meta.dirname, "../fixtures/azure-rest-api-specs");
const KC = "specification/kubernetesconfiguration/resource-manager/Microsoft.KubernetesConfiguration";
export const SCC_2024 = path.join(REFERENCE_ROOT, KC, "sourceControlConfigurations/stable/2024-11-01/kubernetesconfiguration.json");
/** the official Flux v2 document (issue #16) */
export const FLUX_2024 = path.join(REFERENCE_ROOT, KC, "fluxConfigurations/stable/2024-11-01/fluxconfiguration.json");
export const SCC_2021 = path.join(REFERENCE_ROOT, KC, "stable/2021-03-01/kubernetesconfiguration.json");
const HK = "specification/hybridkubernetes/resource-manager/Microsoft.Kubernetes/stable";
/** the official connectedClusters swagger of an api-version we serve (2021-10-01, 2024-01-01) */
export const connectedClustersSpec = (version: "2021-10-01" | "2024-01-01"): string => path.join(REFERENCE_ROOT, HK, version, "connectedClusters.json");

export interface OavReport {
  exitCode: number;
  coveredOperations: number;
  passedOperationsList: string[];
  errors: Array<{ operationId?: string; errorCode?: string; errorMessage?: string }>;
  stdout: string;
}

/** a copy of the reference tree where the 2024-11-01 SCC swagger is published as `version` */
export function specForVersion(workDir: string, version: string): string {
  const root = path.join(workDir, "spec");
  fs.cpSync(REFERENCE_ROOT, root, { recursive: true });
  const fromDir = path.join(root, KC, "sourceControlConfigurations/stable/2024-11-01");
  const toDir = path.join(root, KC, `sourceControlConfigurations/stable/${version}`);
  fs.renameSync(fromDir, toDir);
  const file = path.join(toDir, "kubernetesconfiguration.json");
  const doc = JSON.parse(fs.readFileSync(file, "utf8")) as { info: { version: string } };
  doc.info.version = version;
  fs.writeFileSync(file, JSON.stringify(doc, null, 2));
  return file;
}

export async function validateTraffic(trafficDir: string, spec: string, workDir: string): Promise<OavReport> {
  const reportFile = path.join(workDir, `oav-${path.basename(trafficDir)}.json`);
  const bin = path.resolve(import.meta.dirname, "../../node_modules/oav/dist/cli.js");
  let exitCode = 0;
  let stdout = "";
  try {
    const out = await run(process.execPath, [bin, "validate-traffic", trafficDir, spec, "--report", "", "-l", "warn", "--jsonReport", reportFile], { cwd: workDir, env: { ...process.env, HOME: workDir }, maxBuffer: 64 * 1024 * 1024 });
    stdout = out.stdout;
  } catch (err) {
    const e = err as { code?: number; stdout?: string };
    exitCode = typeof e.code === "number" ? e.code : 1;
    stdout = e.stdout ?? "";
  }
  const report = JSON.parse(fs.readFileSync(reportFile, "utf8")) as Omit<OavReport, "exitCode" | "stdout">;
  return { ...report, exitCode, stdout };
}
