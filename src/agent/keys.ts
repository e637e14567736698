/**
 * The agent's identity: one asymmetric key pair. The public half (base64 DER SubjectPublicKeyInfo) is registered as the
 * cluster's `agentPublicKeyCertificate`; the private half signs the agent's bearer tokens and opens the JWEs the service
 * seals to it. Keys are node KeyObjects, which jose accepts for both signing (ES256/RS256) and decryption
 * (ECDH-ES+A256KW / RSA-OAEP-256) — a WebCrypto CryptoKey would be bound to one algorithm.
 */
import crypto from "node:crypto";
import { SignJWT } from "jose";

export type AgentKeyKind = "ec" | "rsa";

export const DEFAULT_AUDIENCE = "kubernetesconfiguration-agent";
export const TOKEN_LIFETIME_SECONDS = 300;

export interface GeneratedAgentKey {
  /** PKCS#8 PEM, unencrypted */
  privateKeyPem: string;
  /** base64 DER SubjectPublicKeyInfo, the value of `agentPublicKeyCertificate` */
  publicKeyB64: string;
}

export function generateAgentKey(kind: AgentKeyKind = "ec"): GeneratedAgentKey {
  const pair =
    kind === "ec"
      ? crypto.generateKeyPairSync("ec", { namedCurve: "P-256" })
      : crypto.generateKeyPairSync("rsa", { modulusLength: 2048 });
  return {
    privateKeyPem: pair.privateKey.export({ format: "pem", type: "pkcs8" }).toString(),
    publicKeyB64: publicKeyB64(pair.privateKey),
  };
}

/** Loads a PEM private key (PKCS#8, SEC1 or PKCS#1) and checks it is an EC P-256 or RSA key. */
export function loadAgentKey(pem: string | Buffer): crypto.KeyObject {
  const key = crypto.createPrivateKey(pem);
  signingAlgorithm(key);
  return key;
}

/** base64 DER SubjectPublicKeyInfo of a private (or public) key. */
export function publicKeyB64(key: crypto.KeyObject): string {
  const pub = key.type === "private" ? crypto.createPublicKey(key) : key;
  return pub.export({ format: "der", type: "spki" }).toString("base64");
}

export function signingAlgorithm(key: crypto.KeyObject): "ES256" | "RS256" {
  if (key.asymmetricKeyType === "ec") {
    const curve = key.asymmetricKeyDetails?.namedCurve;
    if (curve !== "prime256v1" && curve !== "P-256") throw new Error(`agent EC key must be P-256, got ${curve ?? "unknown curve"}`);
    return "ES256";
  }
  if (key.asymmetricKeyType === "rsa") return "RS256";
  throw new Error(`agent key must be EC P-256 or RSA, got ${key.asymmetricKeyType ?? "unknown"}`);
}

/** A bearer token for the agent API: sub = cluster resource id, iat = now, exp = now + 300 s. */
export async function mintAgentToken(
  privateKey: crypto.KeyObject,
  clusterId: string,
  audience: string = DEFAULT_AUDIENCE,
  now: Date | number = Date.now(),
): Promise<string> {
  const iat = Math.floor((typeof now === "number" ? now : now.getTime()) / 1000);
  return new SignJWT({})
    .setProtectedHeader({ alg: signingAlgorithm(privateKey), typ: "JWT" })
    .setSubject(clusterId)
    .setAudience(audience)
    .setIssuedAt(iat)
    .setExpirationTime(iat + TOKEN_LIFETIME_SECONDS)
    .sign(privateKey);
}

/** Caches a minted token and re-mints it once it is older than `refreshAfterSeconds` (default 240 s of its 300 s). */
export class AgentTokenSource {
  private cached: { token: string; mintedAt: number } | undefined;

  constructor(
    private readonly privateKey: crypto.KeyObject,
    private readonly clusterId: string,
    private readonly audience: string = DEFAULT_AUDIENCE,
    private readonly now: () => number = Date.now,
    private readonly refreshAfterSeconds = 240,
  ) {}

  async token(): Promise<string> {
    const t = this.now();
    if (this.cached && t - this.cached.mintedAt < this.refreshAfterSeconds * 1000 && t >= this.cached.mintedAt) return this.cached.token;
    const token = await mintAgentToken(this.privateKey, this.clusterId, this.audience, t);
    this.cached = { token, mintedAt: t };
    return token;
  }

  /** Forgets the cached token (e.g. after a 401, in case the clock moved). */
  invalidate(): void {
    this.cached = undefined;
  }
}
