/**
 * One source of truth: every ARM route the service registers is an operation of openapi/, with the
 * same operationId, method and path, and every ARM operation there is served. A route added without
 * its spec (or the reverse) fails here.
 */
import t from "tap";
import { operations } from "../src/openapi/index.js";
import { armRoutes } from "../src/surfaces/arm/index.js";

/** compares path shapes: parameters become {}, case is ignored (ARM paths are case-insensitive) */
const shape = (p: string): string =>
  p
    .replace(/\{[^}]+\}/g, "{}")
    .replace(/:[A-Za-z]+/g, "{}")
    .toLowerCase();

t.test("the route table and openapi/ match one to one", async (t) => {
  const specs = operations();
  const served = new Map(armRoutes.map((r) => [r.operationId, r]));
  for (const route of armRoutes) {
    const spec = specs.find((s) => s.operationId === route.operationId);
    t.ok(spec, `${route.operationId} is described in openapi/`);
    if (!spec) continue;
    t.equal(spec.method.toUpperCase(), route.method, `${route.operationId}: method`);
    t.equal(shape(spec.path), shape(route.url), `${route.operationId}: path`);
    t.ok(spec.apiVersions.length > 0, `${route.operationId}: api-versions listed`);
  }
  const armSpecs = specs.filter((s) => !s.operationId.startsWith("Ops_") && !s.operationId.startsWith("Agent_") && !/^\/(healthz|readyz|metrics|docs|openapi)/.test(s.path));
  for (const spec of armSpecs) t.ok(served.has(spec.operationId), `${spec.operationId} (${spec.method} ${spec.path}) is served`);
});
