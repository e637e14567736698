/**
 * HTTPS client for the agent API. Uses node:https with its own keep-alive Agent (so a self-signed service certificate
 * can be trusted via `ca` without touching process-wide TLS settings) and a cached bearer token re-minted every ~4 min.
 */
import https from "node:https";
import type crypto from "node:crypto";
import { AgentTokenSource, DEFAULT_AUDIENCE } from "./keys.js";
import type { DesiredState, FluxStatusReport, Heartbeat, StatusReport } from "../contract/agent-api.js";

export interface AgentClientOptions {
  /** e.g. https://127.0.0.1:8443 (no trailing /agent/v1) */
  serviceUrl: string;
  /** /subscriptions/{s}/resourceGroups/{rg}/providers/Microsoft.Kubernetes/connectedClusters/{name} */
  clusterId: string;
  privateKey: crypto.KeyObject;
  audience?: string;
  /** PEM CA bundle(s) to trust in addition to nothing else (node replaces the default roots when `ca` is given) */
  ca?: string | Buffer | Array<string | Buffer>;
  /** request timeout beyond the long-poll wait, ms (default 15000) */
  timeoutMs?: number;
  now?: () => number;
}

/** the service refuses longer waits (400) */
export const MAX_WAIT_SECONDS = 60;

export class AgentHttpError extends Error {
  constructor(
    readonly status: number,
    readonly body: string,
    readonly method: string,
    readonly url: string,
  ) {
    super(`${method} ${url} answered ${status}${body ? `: ${body.slice(0, 500)}` : ""}`);
    this.name = "AgentHttpError";
  }
}

/** the service says this agent's key is not the one registered for the cluster (401 AgentKeyMismatch) */
export class AgentKeyMismatchError extends AgentHttpError {
  constructor(status: number, body: string, method: string, url: string, clusterId: string) {
    super(status, body, method, url);
    this.name = "AgentKeyMismatchError";
    this.message = `this key is not the one registered for ${clusterId}: register its public key as properties.agentPublicKeyCertificate with a PUT of the cluster (\`npm run agent -- keygen\` prints the body; see README.md, "The cluster agent")`;
  }
}

function errorCode(body: string): string | undefined {
  try {
    const code = (JSON.parse(body) as { error?: { code?: unknown } }).error?.code;
    return typeof code === "string" ? code : undefined;
  } catch {
    return undefined;
  }
}

export type PollResult = { status: 200; etag: string | undefined; state: DesiredState } | { status: 304 };

interface RawResponse {
  status: number;
  headers: Record<string, string | string[] | undefined>;
  body: string;
}

export class AgentClient {
  readonly base: string;
  private readonly clusterId: string;
  private readonly httpsAgent: https.Agent;
  private readonly tokens: AgentTokenSource;
  private readonly timeoutMs: number;

  constructor(options: AgentClientOptions) {
    const clusterId = options.clusterId.startsWith("/") ? options.clusterId : `/${options.clusterId}`;
    this.clusterId = clusterId;
    this.base = `${options.serviceUrl.replace(/\/+$/, "")}/agent/v1${clusterId}`;
    this.httpsAgent = new https.Agent({ keepAlive: true, ...(options.ca !== undefined ? { ca: options.ca } : {}) });
    this.tokens = new AgentTokenSource(options.privateKey, clusterId, options.audience ?? DEFAULT_AUDIENCE, options.now ?? Date.now);
    this.timeoutMs = options.timeoutMs ?? 15_000;
  }

  async poll(opts: { waitSeconds?: number; etag?: string; signal?: AbortSignal } = {}): Promise<PollResult> {
    const wait = Math.min(MAX_WAIT_SECONDS, Math.max(0, Math.floor(opts.waitSeconds ?? 0)));
    const headers: Record<string, string> = { accept: "application/json" };
    if (opts.etag) headers["if-none-match"] = opts.etag;
    const res = await this.request("GET", `/configurations?waitSeconds=${wait}`, undefined, headers, wait * 1000 + this.timeoutMs, opts.signal);
    if (res.status === 304) return { status: 304 };
    if (res.status !== 200) throw this.error("GET", "/configurations", res);
    const etag = res.headers.etag;
    return { status: 200, etag: Array.isArray(etag) ? etag[0] : etag, state: parseJson(res.body, "desired state") as DesiredState };
  }

  async reportStatus(name: string, report: StatusReport, signal?: AbortSignal): Promise<{ accepted: boolean }> {
    const path = `/configurations/${encodeURIComponent(name)}/status`;
    const res = await this.request("POST", path, report, {}, this.timeoutMs, signal);
    if (res.status !== 200) throw this.error("POST", path, res);
    const body = res.body ? (parseJson(res.body, "status answer") as { accepted?: unknown }) : {};
    return { accepted: body.accepted === true };
  }

  /** a Flux v2 fluxConfiguration's status (issue #16) */
  async reportFluxStatus(name: string, report: FluxStatusReport, signal?: AbortSignal): Promise<{ accepted: boolean }> {
    const path = `/fluxConfigurations/${encodeURIComponent(name)}/status`;
    const res = await this.request("POST", path, report, {}, this.timeoutMs, signal);
    if (res.status !== 200) throw this.error("POST", path, res);
    const body = res.body ? (parseJson(res.body, "status answer") as { accepted?: unknown }) : {};
    return { accepted: body.accepted === true };
  }

  async heartbeat(info: Heartbeat, signal?: AbortSignal): Promise<void> {
    const res = await this.request("POST", "/heartbeat", info, {}, this.timeoutMs, signal);
    if (res.status !== 204 && res.status !== 200) throw this.error("POST", "/heartbeat", res);
  }

  close(): void {
    this.httpsAgent.destroy();
  }

  private error(method: string, path: string, res: RawResponse): AgentHttpError {
    if (res.status === 401) this.tokens.invalidate();
    if (res.status === 401 && errorCode(res.body) === "AgentKeyMismatch") return new AgentKeyMismatchError(res.status, res.body, method, `${this.base}${path}`, this.clusterId);
    return new AgentHttpError(res.status, res.body, method, `${this.base}${path}`);
  }

  private async request(
    method: string,
    path: string,
    body: unknown,
    extraHeaders: Record<string, string>,
    timeoutMs: number,
    signal: AbortSignal | undefined,
  ): Promise<RawResponse> {
    const token = await this.tokens.token();
    const payload = body === undefined ? undefined : Buffer.from(JSON.stringify(body));
    const headers: Record<string, string> = { authorization: `Bearer ${token}`, ...extraHeaders };
    if (payload) {
      headers["content-type"] = "application/json";
      headers["content-length"] = String(payload.length);
    }
    return new Promise<RawResponse>((resolve, reject) => {
      const req = https.request(`${this.base}${path}`, { method, headers, agent: this.httpsAgent, ...(signal ? { signal } : {}) }, (res) => {
        const chunks: Buffer[] = [];
        res.on("data", (c: Buffer) => chunks.push(c));
        res.on("error", reject);
        res.on("end", () => resolve({ status: res.statusCode ?? 0, headers: res.headers, body: Buffer.concat(chunks).toString("utf8") }));
      });
      req.setTimeout(timeoutMs, () => req.destroy(new Error(`${method} ${this.base}${path} timed out after ${timeoutMs} ms`)));
      req.on("error", reject);
      req.end(payload);
    });
  }
}

function parseJson(text: string, what: string): unknown {
  try {
    return JSON.parse(text);
  } catch {
    throw new Error(`the service sent an unreadable ${what}: ${text.slice(0, 200)}`);
  }
}
