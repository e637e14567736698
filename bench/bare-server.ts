/**
 * The baselines: a bare fastify HTTPS server on the same machine, no auth, no logging, started as a
 * child process by bench/arm.ts and bench/fleet.ts.
 * - GET /bare answers a fixed JSON body (the size of a configuration GET);
 * - GET /bare304 is the baseline for agent polls: 304 with the ETag when If-None-Match holds the fixed
 *   ETag, else 200 with the body;
 * - PUT /bare/* does ONE DURABLE SQLite write of the request body and answers it: better-sqlite3 on a
 *   file (WAL, synchronous=FULL, so every commit is fsynced before the answer), INSERT OR REPLACE keyed
 *   by the request path. The floor a PUT that stores its record durably cannot beat on this machine.
 * usage: bare-server <cert> <key> <port> <body.json> [sqlite file (default: bare.db beside body.json)]
 */
import fs from "node:fs";
import path from "node:path";
import Database from "better-sqlite3";
import Fastify from "fastify";

const [certFile, keyFile, port, bodyFile, dbArg] = process.argv.slice(2);
if (!certFile || !keyFile || !port || !bodyFile) throw new Error("usage: bare-server <cert> <key> <port> <body.json> [db file]");
const body = fs.readFileSync(bodyFile, "utf8");
const db = new Database(dbArg ?? path.join(path.dirname(bodyFile), "bare.db"));
db.pragma("journal_mode = WAL");
db.pragma("synchronous = FULL");
db.exec("CREATE TABLE IF NOT EXISTS records (k TEXT PRIMARY KEY, v TEXT NOT NULL)");
const put = db.prepare("INSERT OR REPLACE INTO records (k, v) VALUES (?, ?)");

const app = Fastify({ https: { cert: fs.readFileSync(certFile), key: fs.readFileSync(keyFile) }, logger: false });
app.get("/bare", async (_req, reply) => reply.type("application/json; charset=utf-8").send(body));
app.put("/bare/*", async (req, reply) => {
  // fastify parsed the JSON (as the service does); one autocommit statement = one durable commit
  const text = JSON.stringify(req.body);
  put.run(req.url, text);
  return reply.type("application/json; charset=utf-8").send(text);
});
const BARE_ETAG = '"bare-etag-1"';
app.get("/bare304", async (req, reply) => {
  reply.header("etag", BARE_ETAG);
  if (req.headers["if-none-match"] === BARE_ETAG) return reply.code(304).send();
  return reply.type("application/json; charset=utf-8").send(body);
});
await app.listen({ port: Number(port), host: "127.0.0.1" });
process.stdout.write("ready\n");
const close = () => {
  db.close();
  process.exit(0);
};
process.on("SIGTERM", close);
process.on("SIGINT", close);
