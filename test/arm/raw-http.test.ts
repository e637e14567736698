/** Requests fastify never routes (CONNECT, no Host) are answered with ARM errors, not closed connections or empty bodies (found by test/fuzz). */
import t from "tap";
import { startServer } from "../helpers/server.js";
import { endpointOf, rawRequest, send } from "../fuzz/wire.js";

t.test("CONNECT gets a 405 ARM error", async (t) => {
  const server = await startServer();
  t.teardown(() => server.close());
  for (const target of ["/subscriptions/00000000-0000-0000-0000-000000000001?api-version=2.0", "example.com:443"]) {
    const r = await send(endpointOf(server.url, server.ca), rawRequest("CONNECT", target, [["Host", "x"], ["Connection", "close"]]));
    t.equal(r.status, 405, `CONNECT ${target.slice(0, 20)}`);
    t.match(r.headers["content-type"] ?? "", /^application\/json/);
    const body = JSON.parse(r.body.toString("utf8")) as { error: { code: string; message: string } };
    t.equal(body.error.code, "MethodNotAllowed");
    t.match(body.error.message, /^The HTTP method 'CONNECT' is not supported for this resource/);
    // a served path names its methods (from the route table), an authority-form target names none
    t.equal(r.headers["allow"], target.startsWith("/") ? "GET, PUT" : "");
  }
  const after = await send(endpointOf(server.url, server.ca), rawRequest("GET", "/healthz", [["Host", "x"], ["Connection", "close"]]));
  t.equal(after.status, 200, "the server goes on serving");
});

t.test("a request without a Host header gets a 400 ARM error, not node's empty 400", async (t) => {
  const server = await startServer();
  t.teardown(() => server.close());
  const r = await send(endpointOf(server.url, server.ca), rawRequest("GET", "/subscriptions/00000000-0000-0000-0000-000000000001?api-version=2.0", [["Connection", "close"]]));
  t.equal(r.status, 400);
  t.match(r.headers["content-type"] ?? "", /^application\/json/);
  t.same(JSON.parse(r.body.toString("utf8")).error.code, "BadRequest");
});

t.test("a Host header that is no host (empty, '[') gets a 400 ARM error, not a 500 from building links", async (t) => {
  const server = await startServer();
  t.teardown(() => server.close());
  for (const host of ["", "["]) {
    const r = await send(endpointOf(server.url, server.ca), rawRequest("GET", "/subscriptions/00000000-0000-0000-0000-000000000001/resourceGroups/rg/providers/Microsoft.Kubernetes/connectedClusters?api-version=2024-01-01", [["Host", host], ["Authorization", `Bearer ${server.token}`], ["Connection", "close"]]));
    t.equal(r.status, 400, `Host '${host}'`);
    t.same(JSON.parse(r.body.toString("utf8")).error.code, "BadRequest");
  }
});
