/**
 * docker-compose.yml cannot be run here (no Docker engine), so it is checked instead: it parses, the
 * service's environment goes through the service's own configuration parser, and the store it
 * selects is Cosmos DB at the emulator service's host and port, started before the service is.
 */
import fs from "node:fs";
import path from "node:path";
import t from "tap";
import { parse } from "yaml";
import { loadConfig } from "../src/config.js";

interface Compose {
  services: Record<string, { image?: string; build?: string; environment?: Record<string, string>; depends_on?: Record<string, { condition: string }>; ports?: string[] }>;
}

const root = path.resolve(import.meta.dirname, "..");
const compose = parse(fs.readFileSync(path.join(root, "docker-compose.yml"), "utf8")) as Compose;

t.test("the service runs against the Cosmos DB emulator", async (t) => {
  const emulator = compose.services.cosmosdb;
  const service = compose.services["kubernetesconfiguration-rp"];
  t.ok(emulator && service, "both services are defined");
  t.match(emulator?.image, /^mcr\.microsoft\.com\/cosmosdb\/linux\/azure-cosmos-emulator/, "the official emulator image");
  t.ok(emulator?.ports?.some((p) => p.endsWith(":8081")), "the emulator's gateway port is published");
  t.equal(service?.depends_on?.cosmosdb?.condition, "service_healthy", "the service waits for the emulator");
  t.equal(service?.build, ".", "built from this repository's Dockerfile");
  t.ok(fs.existsSync(path.join(root, "Dockerfile")));

  const config = loadConfig(service?.environment ?? {});
  t.equal(config.store.engine, "cosmos");
  if (config.store.engine !== "cosmos") return;
  const endpoint = new URL(config.store.endpoint);
  t.equal(endpoint.hostname, "cosmosdb", "the endpoint names the emulator service");
  t.equal(endpoint.port, "8081");
  t.equal(endpoint.protocol, "https:");
  t.equal(config.runMigrationsAtStartup, true, "containers are created at start-up");
  t.equal(config.store.rejectUnauthorized, false, "the emulator's self-signed certificate is accepted");
  t.equal(config.host, "0.0.0.0", "reachable from outside the container");
  t.equal(config.auth.mode, "dev");
});

t.test("the Dockerfile ships what the service reads at run time", async (t) => {
  const dockerfile = fs.readFileSync(path.join(root, "Dockerfile"), "utf8");
  for (const dir of ["openapi", "dist", "node_modules"]) t.match(dockerfile, new RegExp(`COPY --from=build /app/${dir}`), `${dir} is in the image`);
  t.match(dockerfile, /CMD \["node", "dist\/src\/main\.js"\]/);
});
