/**
 * For validating what the service answers against our own openapi/ documents with `oav validate-traffic`
 * (helpers/oav.ts): the test HTTPS client of helpers/http.ts recording every request/response pair in
 * oav's traffic format (helpers/traffic.ts), without the authorization header; and a copy of a
 * document placed where oav can attribute traffic to it.
 */
import fs from "node:fs";
import path from "node:path";
import { client, type HttpResponse, type RequestOptions } from "./http.js";
import type { TrafficPair } from "./traffic.js";

const flatten = (headers: Record<string, string | string[] | undefined>): Record<string, string> =>
  Object.fromEntries(
    Object.entries(headers)
      .filter((entry): entry is [string, string | string[]] => entry[1] !== undefined)
      .map(([name, value]) => [name, Array.isArray(value) ? value.join(", ") : value]),
  );

export function recordingClient(baseUrl: string, ca: string, token?: string) {
  const send = client(baseUrl, ca, token);
  const pairs: TrafficPair[] = [];
  const request = async (target: string, options: RequestOptions = {}): Promise<HttpResponse> => {
    const res = await send(target, options);
    const headers: Record<string, string> = { ...options.headers };
    if (options.body !== undefined && options.rawBody === undefined) headers["content-type"] ??= "application/json";
    delete headers.authorization;
    pairs.push({
      liveRequest: { method: (options.method ?? "GET").toUpperCase(), url: new URL(target, baseUrl).href, headers, body: options.body ?? null },
      liveResponse: { statusCode: String(res.status), headers: flatten(res.headers), body: res.json ?? null },
    });
    return res;
  };
  /** writes the chosen pairs, one file each, into `dir`; returns how many */
  const writeTo = (dir: string, filter: (p: TrafficPair) => boolean = () => true): number => {
    fs.mkdirSync(dir, { recursive: true });
    const chosen = pairs.filter(filter);
    chosen.forEach((pair, i) => fs.writeFileSync(path.join(dir, `${String(i).padStart(3, "0")}.json`), JSON.stringify(pair, null, 2)));
    return chosen.length;
  };
  return { request, pairs, writeTo };
}

/**
 * oav validate-traffic attributes a pair to a swagger file only when the file's path contains the
 * provider namespace and the api-version (trafficValidator findSwaggerByOperationInfo); otherwise it
 * logs "Undefined operation", which throws on a circular structure, ends the run with exit code 1 and
 * an empty report. So the document is copied, unchanged, to
 * `<workDir>/specification/<service>/resource-manager/<Provider>/<stable|preview>/<info.version>/<file>`.
 */
export function stageSpec(document: string, workDir: string, provider = "Microsoft.KubernetesConfiguration"): string {
  const doc = JSON.parse(fs.readFileSync(document, "utf8")) as { info: { version: string } };
  const version = doc.info.version;
  const service = provider.split(".").slice(1).join(".").toLowerCase();
  const dir = path.join(workDir, "specification", service, "resource-manager", provider, version.includes("preview") ? "preview" : "stable", version);
  fs.mkdirSync(dir, { recursive: true });
  const target = path.join(dir, path.basename(document));
  fs.copyFileSync(document, target);
  return target;
}
