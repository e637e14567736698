/** Agent identities for tests: a real key pair per cluster and tokens signed with it (jose). */
import crypto from "node:crypto";
import { SignJWT } from "jose";

export interface TestAgent {
  privateKey: crypto.KeyObject;
  publicKeyB64: string;
  alg: "ES256" | "RS256";
  token(clusterId: string, options?: { audience?: string; lifetimeSeconds?: number; iat?: number }): Promise<string>;
}

export function testAgent(kind: "ec" | "rsa" = "ec"): TestAgent {
  const pair = kind === "ec" ? crypto.generateKeyPairSync("ec", { namedCurve: "P-256" }) : crypto.generateKeyPairSync("rsa", { modulusLength: 2048 });
  const alg = kind === "ec" ? "ES256" : "RS256";
  return {
    privateKey: pair.privateKey,
    publicKeyB64: pair.publicKey.export({ format: "der", type: "spki" }).toString("base64"),
    alg,
    async token(clusterId, options = {}) {
      const iat = options.iat ?? Math.floor(Date.now() / 1000);
      return new SignJWT({})
        .setProtectedHeader({ alg })
        .setSubject(clusterId)
        .setAudience(options.audience ?? "kubernetesconfiguration-agent")
        .setIssuedAt(iat)
        .setExpirationTime(iat + (options.lifetimeSeconds ?? 300))
        .sign(pair.privateKey);
    },
  };
}
