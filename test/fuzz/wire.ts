/**
 * HTTP/1.1 over a raw TLS socket: node's own client refuses to send invalid header characters,
 * unknown methods or broken request lines, and those are exactly what the fuzzer must send.
 * One connection per request (`Connection: close`), TLS sessions resumed to keep handshakes cheap.
 */
import tls from "node:tls";

export interface WireRequest {
  /** the whole request as it goes on the wire: request line, headers, blank line, body */
  bytes: Buffer;
}

export interface WireResponse {
  /** 0 when the server closed the connection without an answer */
  status: number;
  /** lower-cased header names; repeated headers joined with ", " */
  headers: Record<string, string>;
  /** the status line and headers as received */
  head: string;
  body: Buffer;
  /** head and body, as received */
  size: number;
}

export interface Endpoint {
  host: string;
  port: number;
  ca: string;
}

export const endpointOf = (url: string, ca: string): Endpoint => {
  const u = new URL(url);
  return { host: u.hostname, port: Number(u.port), ca };
};

/** builds request bytes; the caller decides every header, nothing is added or checked */
export function rawRequest(method: string, target: string, headers: ReadonlyArray<readonly [string, string]>, body?: Buffer): WireRequest {
  const lines = [`${method} ${target} HTTP/1.1`, ...headers.map(([n, v]) => `${n}: ${v}`)];
  const head = Buffer.from(lines.join("\r\n") + "\r\n\r\n", "latin1");
  return { bytes: body ? Buffer.concat([head, body]) : head };
}

function dechunk(body: Buffer): Buffer {
  const parts: Buffer[] = [];
  let at = 0;
  while (at < body.length) {
    const eol = body.indexOf("\r\n", at);
    if (eol < 0) break;
    const size = parseInt(body.subarray(at, eol).toString("latin1").split(";")[0] ?? "", 16);
    if (!Number.isFinite(size) || size === 0) break;
    parts.push(body.subarray(eol + 2, eol + 2 + size));
    at = eol + 2 + size + 2;
  }
  return Buffer.concat(parts);
}

/** parses the last final (non-1xx) response in what the server sent */
export function parseResponse(data: Buffer): WireResponse {
  let rest = data;
  for (;;) {
    const end = rest.indexOf("\r\n\r\n");
    if (end < 0) return { status: 0, headers: {}, head: rest.toString("latin1").slice(0, 200), body: Buffer.alloc(0), size: data.length };
    const head = rest.subarray(0, end).toString("latin1");
    const [statusLine = "", ...headerLines] = head.split("\r\n");
    const status = Number(/^HTTP\/1\.[01] (\d{3})/.exec(statusLine)?.[1] ?? 0);
    const headers: Record<string, string> = {};
    for (const line of headerLines) {
      const colon = line.indexOf(":");
      if (colon < 0) continue;
      const name = line.slice(0, colon).trim().toLowerCase();
      const value = line.slice(colon + 1).trim();
      headers[name] = headers[name] === undefined ? value : `${headers[name]}, ${value}`;
    }
    let body = rest.subarray(end + 4);
    if (status >= 100 && status < 200) {
      rest = body;
      continue;
    }
    if (/chunked/i.test(headers["transfer-encoding"] ?? "")) body = dechunk(body);
    else if (headers["content-length"] !== undefined) body = body.subarray(0, Number(headers["content-length"]));
    return { status, headers, head, body, size: data.length };
  }
}

let session: Buffer | undefined;

/** sends one request on a fresh connection and reads until the server closes it (or the timeout) */
export function send(endpoint: Endpoint, request: WireRequest, timeoutMs = 15_000): Promise<WireResponse> {
  return new Promise((resolve) => {
    const chunks: Buffer[] = [];
    let settled = false;
    const socket = tls.connect({ host: endpoint.host, port: endpoint.port, ca: endpoint.ca, session });
    const finish = () => {
      if (settled) return;
      settled = true;
      clearTimeout(timer);
      socket.destroy();
      resolve(parseResponse(Buffer.concat(chunks)));
    };
    const timer = setTimeout(finish, timeoutMs);
    socket.on("session", (s: Buffer) => (session = s));
    // written, not ended: every request asks for `Connection: close`, so the server closes when it answered
    socket.on("secureConnect", () => socket.write(request.bytes));
    socket.on("data", (c: Buffer) => chunks.push(c));
    socket.on("end", finish);
    socket.on("close", finish);
    // the server may answer (413, 431) and close before it read everything: what it sent still counts
    socket.on("error", finish);
  });
}
