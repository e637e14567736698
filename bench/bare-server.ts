/**
 * The baseline: a bare fastify HTTPS route on the same machine answering a JSON body of the same
 * size as a configuration GET, with no auth, no store. Started as a child process by bench/arm.ts.
 * GET /bare304 is the baseline for agent polls (bench/fleet.ts): 304 with the ETag when If-None-Match
 * holds the fixed ETag, else 200 with the body.
 */
import fs from "node:fs";
import Fastify from "fastify";

const [certFile, keyFile, port, bodyFile] = process.argv.slice(2);
if (!certFile || !keyFile || !port || !bodyFile) throw new Error("usage: bare-server <cert> <key> <port> <body.json>");
const body = fs.readFileSync(bodyFile, "utf8");
const app = Fastify({ https: { cert: fs.readFileSync(certFile), key: fs.readFileSync(keyFile) }, logger: false });
app.get("/bare", async (_req, reply) => reply.type("application/json; charset=utf-8").send(body));
app.put("/bare", async (_req, reply) => reply.type("application/json; charset=utf-8").send(body));
const BARE_ETAG = '"bare-etag-1"';
app.get("/bare304", async (req, reply) => {
  reply.header("etag", BARE_ETAG);
  if (req.headers["if-none-match"] === BARE_ETAG) return reply.code(304).send();
  return reply.type("application/json; charset=utf-8").send(body);
});
await app.listen({ port: Number(port), host: "127.0.0.1" });
process.stdout.write("ready\n");
