/**
 * Bearer-token verification with jose, the same code for dev and production: only the key source
 * differs (a local key in dev mode, the identity provider's JWKS in production).
 */
import { jwtVerify, errors as joseErrors, type JWTPayload, type JWTVerifyGetKey, type CryptoKey, type KeyObject } from "jose";
import { errors } from "../arm/errors.js";
import type { Authenticator, Principal } from "../ports/principal.js";
import { TokenCache } from "./token-cache.js";

export interface JwtAuthenticatorOptions {
  mode: "dev" | "production";
  issuer: string;
  audience: string;
  key: JWTVerifyGetKey | CryptoKey | KeyObject;
  trustedCallers: string[];
  clockToleranceSeconds?: number;
}

function claim(payload: JWTPayload, name: string): string | undefined {
  const value = payload[name];
  return typeof value === "string" && value.length > 0 ? value : undefined;
}

/** Maps Entra ID style claims to a principal; tokens without tenant or object id are refused. */
export function principalFromClaims(payload: JWTPayload): Principal {
  const tenantId = claim(payload, "tid");
  const objectId = claim(payload, "oid") ?? payload.sub;
  if (!tenantId) throw errors.authenticationInvalid("the token has no tenant (tid) claim");
  if (!objectId) throw errors.authenticationInvalid("the token has no object id (oid) claim");
  const upn = claim(payload, "upn") ?? claim(payload, "unique_name") ?? claim(payload, "preferred_username");
  const appId = claim(payload, "appid") ?? claim(payload, "azp");
  // Entra marks app-only tokens with idtyp=app; a token without a user name is an application's.
  const kind = claim(payload, "idtyp") === "app" || upn === undefined ? "Application" : "User";
  return { tenantId, objectId, appId, name: upn ?? appId ?? objectId, kind };
}

function reasonOf(err: unknown): string {
  if (err instanceof joseErrors.JWTExpired) return "the token has expired";
  if (err instanceof joseErrors.JWTClaimValidationFailed) return `claim '${err.claim}' is not valid`;
  if (err instanceof joseErrors.JWSSignatureVerificationFailed) return "the signature does not verify";
  if (err instanceof joseErrors.JWKSNoMatchingKey) return "no signing key matches the token";
  if (err instanceof joseErrors.JOSEAlgNotAllowed) return "the signing algorithm is not allowed";
  return "the token is malformed";
}

const keySetUnavailable = (err: unknown): boolean =>
  err instanceof joseErrors.JWKSTimeout || !(err instanceof joseErrors.JOSEError) || err.constructor === joseErrors.JOSEError;

export class JwtAuthenticator implements Authenticator {
  readonly mode: "dev" | "production";
  private readonly cache = new TokenCache<Principal>(10_000);

  constructor(private readonly options: JwtAuthenticatorOptions, private readonly now: () => number = Date.now) {
    this.mode = options.mode;
  }

  async authenticate(authorization: string | undefined): Promise<Principal> {
    if (!authorization) throw errors.authenticationMissing();
    const match = /^Bearer\s+(\S+)$/i.exec(authorization);
    if (!match?.[1]) throw errors.authenticationInvalid("the Authorization header is not a Bearer token");
    const token = match[1];
    const cached = this.cache.get(token, this.now());
    if (cached) return cached;
    const payload = await this.verify(token);
    const principal = principalFromClaims(payload);
    if (payload.exp !== undefined) this.cache.set(token, principal, payload.exp * 1000);
    return principal;
  }

  private async verify(token: string): Promise<JWTPayload> {
    try {
      const options = {
        issuer: this.options.issuer,
        audience: this.options.audience,
        clockTolerance: this.options.clockToleranceSeconds ?? 60,
        requiredClaims: ["exp"],
        currentDate: new Date(this.now()),
      };
      const key = this.options.key;
      const { payload } = typeof key === "function" ? await jwtVerify(token, key, options) : await jwtVerify(token, key, options);
      return payload;
    } catch (err) {
      // the key set could not be fetched (timeout, connection refused, an error page): the identity
      // provider is unavailable, which says nothing against the token: 503, not 401
      if (keySetUnavailable(err)) throw errors.unavailable(5);
      throw errors.authenticationInvalid(reasonOf(err));
    }
  }

  isTrustedCaller(principal: Principal): boolean {
    const trusted = this.options.trustedCallers;
    return trusted.includes(principal.objectId) || (principal.appId !== undefined && trusted.includes(principal.appId));
  }
}
