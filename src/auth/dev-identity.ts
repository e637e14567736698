/**
 * Dev auth mode: with no identity provider configured, the service signs its own tokens with a local
 * ES256 key kept under DATA_DIR (mode 0600). The same jose verification path as production runs on them.
 */
import crypto from "node:crypto";
import path from "node:path";
import { SignJWT, importJWK, type JWK, type CryptoKey } from "jose";
import { readPrivateFile, writePrivateFile } from "../server/secure-files.js";

export const DEV_ISSUER = "https://dev.kubernetesconfiguration.local/";
export const DEV_AUDIENCE = "https://management.azure.com/";

interface DevIdentityFile {
  privateJwk: JWK;
  tenantId: string;
  objectId: string;
}

export interface DevIdentity {
  tenantId: string;
  objectId: string;
  publicKey: CryptoKey;
  /** mints a token; claims may be overridden (tests use other tenants and identities) */
  mint(options?: { lifetimeSeconds?: number; claims?: Record<string, unknown>; now?: number }): Promise<string>;
}

function createIdentityFile(): DevIdentityFile {
  const { privateKey } = crypto.generateKeyPairSync("ec", { namedCurve: "P-256" });
  const privateJwk = privateKey.export({ format: "jwk" }) as JWK;
  return { privateJwk, tenantId: crypto.randomUUID(), objectId: crypto.randomUUID() };
}

export function devIdentityPath(dataDir: string): string {
  return path.join(dataDir, "auth", "dev-identity.json");
}

export async function loadOrCreateDevIdentity(dataDir: string): Promise<DevIdentity> {
  const file = devIdentityPath(dataDir);
  const existing = readPrivateFile(file);
  const stored: DevIdentityFile = existing ? (JSON.parse(existing) as DevIdentityFile) : createIdentityFile();
  if (!existing) writePrivateFile(file, JSON.stringify(stored));
  const privateKey = (await importJWK({ ...stored.privateJwk, alg: "ES256" }, "ES256")) as CryptoKey;
  const { d: _d, ...publicJwk } = stored.privateJwk;
  const publicKey = (await importJWK({ ...publicJwk, alg: "ES256" }, "ES256")) as CryptoKey;
  return {
    tenantId: stored.tenantId,
    objectId: stored.objectId,
    publicKey,
    async mint(options = {}) {
      const now = Math.floor((options.now ?? Date.now()) / 1000);
      const lifetime = options.lifetimeSeconds ?? 24 * 3600;
      return new SignJWT({ tid: stored.tenantId, oid: stored.objectId, upn: "developer@localhost", name: "Local developer", ...options.claims })
        .setProtectedHeader({ alg: "ES256", typ: "JWT" })
        .setIssuer(DEV_ISSUER)
        .setAudience(DEV_AUDIENCE)
        .setIssuedAt(now)
        .setNotBefore(now - 60)
        .setExpirationTime(now + lifetime)
        .sign(privateKey);
    },
  };
}

/** Writes a ready token to DATA_DIR/dev-token so scripts and people can start at once. */
export async function writeDevToken(dataDir: string, identity: DevIdentity): Promise<string> {
  const file = path.join(dataDir, "dev-token");
  writePrivateFile(file, `${await identity.mint({ lifetimeSeconds: 7 * 24 * 3600 })}\n`);
  return file;
}
