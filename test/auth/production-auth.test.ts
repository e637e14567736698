/**
 * Production auth mode: tokens from an identity provider, verified against its JWKS fetched over
 * HTTPS (a local issuer here), with issuer, audience and tenant enforced.
 */
import crypto from "node:crypto";
import https from "node:https";
import t from "tap";
import { createRemoteJWKSet, customFetch, exportJWK, SignJWT } from "jose";
import { JwtAuthenticator } from "../../src/auth/jwt-authenticator.js";
import { loadOrCreateTls } from "../../src/server/tls.js";
import { startServer, tempDir } from "../helpers/server.js";
import { client } from "../helpers/http.js";
import { clusterBody, clusterPath } from "../helpers/fixtures.js";

const ISSUER = "https://login.example.test/tenant/v2.0";
const AUDIENCE = "https://management.core.windows.net/";

/** fetch over node:https trusting the test issuer's self-signed certificate */
function httpsFetch(ca: string) {
  return (url: string, init: { headers?: HeadersInit; signal?: AbortSignal }) =>
    new Promise<Response>((resolve, reject) => {
      https
        .get(url, { ca, headers: Object.fromEntries(new Headers(init.headers)), signal: init.signal }, (res) => {
          const chunks: Buffer[] = [];
          res.on("data", (c: Buffer) => chunks.push(c));
          res.on("end", () => resolve(new Response(Buffer.concat(chunks), { status: res.statusCode, headers: { "content-type": "application/json" } })));
        })
        .on("error", reject);
    });
}

t.test("tokens are verified against the identity provider's JWKS; tenant must match the registration", async (t) => {
  const { privateKey, publicKey } = crypto.generateKeyPairSync("rsa", { modulusLength: 2048 });
  const jwk = { ...(await exportJWK(publicKey)), kid: "k1", alg: "RS256", use: "sig" };
  const tls = await loadOrCreateTls(tempDir(), {});
  let jwksFetches = 0;
  const idp = https.createServer({ key: tls.key, cert: tls.cert }, (_req, res) => {
    jwksFetches++;
    res.setHeader("content-type", "application/json");
    res.end(JSON.stringify({ keys: [jwk] }));
  });
  await new Promise<void>((r) => idp.listen(0, "127.0.0.1", r));
  t.teardown(() => idp.close());
  const address = idp.address() as { port: number };
  const jwks = createRemoteJWKSet(new URL(`https://127.0.0.1:${address.port}/keys`), { [customFetch]: httpsFetch(tls.cert) });
  const armIdentity = crypto.randomUUID();
  const authenticator = new JwtAuthenticator({ mode: "production", issuer: ISSUER, audience: AUDIENCE, key: jwks, trustedCallers: [armIdentity] });
  const server = await startServer({ authenticator, autoRegisterSubscriptions: false });
  t.teardown(() => server.close());

  const tenant = crypto.randomUUID();
  const mint = (claims: Record<string, unknown>, issuer = ISSUER, audience = AUDIENCE) =>
    new SignJWT({ tid: tenant, oid: crypto.randomUUID(), upn: "ops@example.test", ...claims })
      .setProtectedHeader({ alg: "RS256", kid: "k1" })
      .setIssuer(issuer)
      .setAudience(audience)
      .setIssuedAt()
      .setExpirationTime("1h")
      .sign(privateKey);
  const http = client(server.url, server.ca);
  const sub = crypto.randomUUID();
  const arm = await mint({ oid: armIdentity, idtyp: "app", appid: armIdentity });
  const reg = await http(`/subscriptions/${sub}?api-version=2.0`, { method: "PUT", token: arm, body: { state: "Registered", properties: { tenantId: tenant } } });
  t.equal(reg.status, 200, reg.text);

  const user = await mint({});
  const put = await http(`${clusterPath("c1", sub)}?api-version=2024-01-01`, { method: "PUT", token: user, body: clusterBody() });
  t.equal(put.status, 201, put.text);
  t.equal(put.json.systemData.createdBy, "ops@example.test");
  t.ok(jwksFetches >= 1, "the JWKS was fetched over HTTPS");

  const otherTenant = await mint({ tid: crypto.randomUUID() });
  const refused = await http(`${clusterPath("c1", sub)}?api-version=2024-01-01`, { token: otherTenant });
  t.equal(refused.status, 403);
  t.equal(refused.json.error.code, "InvalidAuthenticationTokenTenant");

  const wrongIssuer = await mint({}, "https://evil.example.test/");
  t.equal((await http(`${clusterPath("c1", sub)}?api-version=2024-01-01`, { token: wrongIssuer })).status, 401);
  const wrongAudience = await mint({}, ISSUER, "https://other.example.test/");
  t.equal((await http(`${clusterPath("c1", sub)}?api-version=2024-01-01`, { token: wrongAudience })).status, 401);
  const notArm = await http(`/subscriptions/${sub}?api-version=2.0`, { method: "PUT", token: user, body: { state: "Suspended" } });
  t.equal(notArm.status, 403, "only trusted callers send lifecycle notifications");
});
