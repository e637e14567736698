/**
 * What the local Key Vault stand-ins share (for tests only): an HTTPS server on 127.0.0.1, the bearer
 * challenge (a request without the expected token gets 401 with `WWW-Authenticate: Bearer
 * authorization="...", resource="https://vault.azure.net"`, as the real vault answers the SDKs' first,
 * token-less request), errors as `{"error":{"code","message"}}`, and the fault modes: "throttle" (429 with
 * Retry-After), "down" (dropped connections), "stall" (accepted, never answered). A subclass answers
 * the routes of its own API (keys: fake-key-vault.ts, secrets: fake-secret-vault.ts).
 */
import crypto from "node:crypto";
import https from "node:https";
import type { IncomingMessage, ServerResponse } from "node:http";
import type { AddressInfo } from "node:net";

export type VaultMode = "up" | "throttle" | "down" | "stall";

export interface VaultExchange {
  method: string;
  url: URL;
  body: string;
  send(status: number, body: unknown, headers?: Record<string, string>): void;
  fail(status: number, code: string, message: string, headers?: Record<string, string>): void;
}

export abstract class FakeVaultServer {
  readonly token = crypto.randomBytes(24).toString("base64url");
  mode: VaultMode = "up";
  /** how many token-less requests were answered with the 401 challenge */
  challenges = 0;
  /** every request received, whatever the answer (a dropped or throttled one included) */
  requests = 0;
  /** seconds announced by a 429 in "throttle" mode */
  retryAfterSeconds = 7;
  /** requests held unanswered in "stall" mode (released, by destroying them, on stop) */
  readonly stalled = new Set<ServerResponse>();
  private server?: https.Server;
  url = "";

  constructor(private readonly tls: { key: string; cert: string }) {}

  async start(): Promise<void> {
    this.server = https.createServer({ key: this.tls.key, cert: this.tls.cert }, (req, res) => void this.receive(req, res));
    await new Promise<void>((r) => this.server?.listen(0, "127.0.0.1", r));
    this.url = `https://127.0.0.1:${(this.server.address() as AddressInfo).port}`;
  }

  async stop(): Promise<void> {
    this.server?.closeAllConnections();
    await new Promise<void>((r) => this.server?.close(() => r()));
  }

  /** answers one authenticated, unthrottled request of the subclass's API */
  protected abstract route(exchange: VaultExchange): void;

  private async receive(req: IncomingMessage, res: ServerResponse): Promise<void> {
    this.requests++;
    const chunks: Buffer[] = [];
    for await (const c of req) chunks.push(c as Buffer);
    const send = (status: number, body: unknown, headers: Record<string, string> = {}) => {
      res.writeHead(status, { "content-type": "application/json; charset=utf-8", ...headers });
      res.end(JSON.stringify(body));
    };
    const fail = (status: number, code: string, message: string, headers: Record<string, string> = {}) => send(status, { error: { code, message } }, headers);

    if (this.mode === "down") {
      req.socket.destroy();
      return;
    }
    if (this.mode === "stall") {
      this.stalled.add(res);
      res.on("close", () => this.stalled.delete(res));
      return;
    }
    if (req.headers.authorization !== `Bearer ${this.token}`) {
      this.challenges++;
      return fail(401, "Unauthorized", "AKV10000: Request is missing a Bearer or PoP token.", {
        "www-authenticate": 'Bearer authorization="https://login.microsoftonline.com/72f988bf-86f1-41af-91ab-2d7cd011db47", resource="https://vault.azure.net"',
      });
    }
    if (this.mode === "throttle") return fail(429, "Throttled", "Request was not processed because too many requests were received.", { "retry-after": String(this.retryAfterSeconds) });
    const url = new URL(req.url ?? "/", this.url);
    if (!url.searchParams.get("api-version")) return fail(400, "BadParameter", "api-version is required");
    this.route({ method: req.method ?? "GET", url, body: Buffer.concat(chunks).toString("utf8"), send, fail });
  }
}
