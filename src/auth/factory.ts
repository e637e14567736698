import { createRemoteJWKSet } from "jose";
import type { Config } from "../config.js";
import type { Clock } from "../ports/clock.js";
import { DEV_AUDIENCE, DEV_ISSUER, loadOrCreateDevIdentity, type DevIdentity } from "./dev-identity.js";
import { JwtAuthenticator } from "./jwt-authenticator.js";
import type { Authenticator } from "../ports/principal.js";

export interface AuthSetup {
  authenticator: Authenticator;
  /** present in dev auth mode only */
  devIdentity?: DevIdentity;
}

export async function createAuth(config: Config, clock: Clock): Promise<AuthSetup> {
  const now = () => clock.now();
  if (config.auth.mode === "production") {
    const { issuer, audience, jwksUrl, trustedCallers } = config.auth;
    // a stalled identity provider holds no request past AUTH_JWKS_TIMEOUT_MS (a cached key set is used without a fetch)
    const key = createRemoteJWKSet(new URL(jwksUrl), { timeoutDuration: config.faults.jwksTimeoutMs });
    return { authenticator: new JwtAuthenticator({ mode: "production", issuer, audience, key, trustedCallers }, now) };
  }
  const devIdentity = await loadOrCreateDevIdentity(config.dataDir);
  const trustedCallers = [devIdentity.objectId, ...config.auth.trustedCallers];
  const authenticator = new JwtAuthenticator(
    { mode: "dev", issuer: DEV_ISSUER, audience: DEV_AUDIENCE, key: devIdentity.publicKey, trustedCallers },
    now,
  );
  return { authenticator, devIdentity };
}
