/**
 * The completion line's logger (src/arm/request-context.ts): the line goes to the service's
 * destination with the request's ids, top-level redaction paths still censor, and the parent's level
 * (read when the line is written) decides whether it is written.
 */
import { Writable } from "node:stream";
import pino from "pino";
import t from "tap";
import type { FastifyBaseLogger } from "fastify";
import { requestLoggerFactory } from "../../src/arm/request-context.js";
import { REDACT_PATHS } from "../../src/app.js";

function setup(level: string) {
  const lines: Record<string, unknown>[] = [];
  const stream = new Writable({
    write(chunk: Buffer, _enc, done) {
      for (const l of chunk.toString().split("\n").filter(Boolean)) lines.push(JSON.parse(l) as Record<string, unknown>);
      done();
    },
  });
  const parent = pino({ level, redact: { paths: REDACT_PATHS, censor: "[redacted]" } }, stream) as unknown as FastifyBaseLogger;
  const make = requestLoggerFactory({ paths: REDACT_PATHS, censor: "[redacted]" });
  const request = (headers: Record<string, string>) =>
    make(parent, { requestId: "rid-1" }, {}, { headers }) as unknown as { completionLine(f: Record<string, unknown>, m: string): void; error(o: unknown, m: string): void };
  return { lines, parent, request };
}

const flush = () => new Promise((r) => setImmediate(r));

t.test("the completion line carries the ids and keeps top-level redaction", async (t) => {
  const { lines, request } = setup("info");
  request({ "x-ms-correlation-request-id": "corr-1", "x-ms-client-request-id": "client-1" }).completionLine(
    { method: "GET", route: "/r", statusCode: 200, ms: 1.2, token: "secret-token", authorization: "Bearer x" },
    "request completed",
  );
  await flush();
  t.equal(lines.length, 1);
  t.match(lines[0], { level: 30, msg: "request completed", requestId: "rid-1", correlationId: "corr-1", clientRequestId: "client-1", method: "GET", route: "/r", statusCode: 200 });
  t.equal(lines[0]!.token, "[redacted]");
  t.equal(lines[0]!.authorization, "[redacted]");
  t.notMatch(JSON.stringify(lines), /secret-token|Bearer x/);
});

t.test("other lines of the request keep every path, wildcards included", async (t) => {
  const { lines, request } = setup("info");
  request({}).error({ err: { body: "b", sshPrivateKey: "k" } }, "failed");
  await flush();
  t.match(lines[0], { requestId: "rid-1", correlationId: "rid-1", err: { body: "[redacted]", sshPrivateKey: "[redacted]" } });
});

t.test("the parent's level decides, read when the line is written", async (t) => {
  const { lines, parent, request } = setup("info");
  const first = request({});
  parent.level = "warn";
  first.completionLine({ statusCode: 200 }, "request completed");
  request({}).completionLine({ statusCode: 200 }, "request completed");
  await flush();
  t.equal(lines.length, 0);
  parent.level = "info";
  request({}).completionLine({ statusCode: 201 }, "request completed");
  await flush();
  t.equal(lines.length, 1);
  t.equal(lines[0]!.statusCode, 201);
});
