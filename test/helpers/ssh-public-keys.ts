/** OpenSSH public key lines (`<type> <base64 wire blob> [comment]`) built from real keys, and ways to break them. */
import crypto from "node:crypto";
import { sshString } from "./fixtures.js";

export type SshPublicKeyType = "ssh-rsa" | "ecdsa-sha2-nistp256" | "ecdsa-sha2-nistp384" | "ecdsa-sha2-nistp521" | "ssh-ed25519";

const CURVES = { "ecdsa-sha2-nistp256": ["prime256v1", "nistp256"], "ecdsa-sha2-nistp384": ["secp384r1", "nistp384"], "ecdsa-sha2-nistp521": ["secp521r1", "nistp521"] } as const;

/** an mpint (RFC 4251): big-endian, a leading zero byte when the top bit is set */
export const mpint = (b: Buffer): Buffer => sshString(b[0] !== undefined && b[0] & 0x80 ? Buffer.concat([Buffer.from([0]), b]) : b);

/** the SSH wire blob of a fresh key of `type` */
export function sshPublicKeyBlob(type: SshPublicKeyType, rsaBits = 2048): Buffer {
  if (type === "ssh-ed25519") {
    const x = Buffer.from(crypto.generateKeyPairSync("ed25519").publicKey.export({ format: "jwk" }).x ?? "", "base64url");
    return Buffer.concat([sshString(type), sshString(x)]);
  }
  if (type === "ssh-rsa") {
    const jwk = crypto.generateKeyPairSync("rsa", { modulusLength: rsaBits }).publicKey.export({ format: "jwk" });
    return Buffer.concat([sshString(type), mpint(Buffer.from(jwk.e ?? "", "base64url")), mpint(Buffer.from(jwk.n ?? "", "base64url"))]);
  }
  const [namedCurve, name] = CURVES[type];
  const jwk = crypto.generateKeyPairSync("ec", { namedCurve }).publicKey.export({ format: "jwk" });
  const q = Buffer.concat([Buffer.from([4]), Buffer.from(jwk.x ?? "", "base64url"), Buffer.from(jwk.y ?? "", "base64url")]);
  return Buffer.concat([sshString(type), sshString(name), sshString(q)]);
}

export function sshPublicKeyLine(type: SshPublicKeyType = "ssh-ed25519", comment: string | undefined = "flux-deploy"): string {
  return `${type} ${sshPublicKeyBlob(type).toString("base64")}${comment === undefined ? "" : ` ${comment}`}`;
}

