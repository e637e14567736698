/** The cluster agent's public key as registered on the connected cluster, parsed once. */
import crypto from "node:crypto";
import { decodeBase64Strict } from "./validation/base64.js";

export interface AgentKey {
  key: crypto.KeyObject;
  /** the JWS algorithm its tokens use, and the JWE algorithm secrets are sealed with */
  jwsAlg: "RS256" | "ES256";
  jweAlg: "RSA-OAEP-256" | "ECDH-ES+A256KW";
  /** short digest of the registered value: changes when the key is replaced */
  fingerprint: string;
}

export class NotBase64Error extends Error {}

/** the registered value as a key: PEM, or base64 DER SubjectPublicKeyInfo; throws when it is neither */
export function readAgentPublicKey(registered: string): crypto.KeyObject {
  if (registered.includes("-----BEGIN")) return crypto.createPublicKey({ key: registered, format: "pem" });
  const der = decodeBase64Strict(registered);
  if (!der) throw new NotBase64Error("neither PEM nor base64");
  return crypto.createPublicKey({ key: der, format: "der", type: "spki" });
}

export function parseAgentKey(registered: string): AgentKey {
  const key = readAgentPublicKey(registered);
  const rsa = key.asymmetricKeyType === "rsa";
  return {
    key,
    jwsAlg: rsa ? "RS256" : "ES256",
    jweAlg: rsa ? "RSA-OAEP-256" : "ECDH-ES+A256KW",
    fingerprint: crypto.createHash("sha256").update(registered).digest("base64url").slice(0, 16),
  };
}
