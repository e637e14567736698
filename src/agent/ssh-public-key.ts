/**
 * The public half, in OpenSSH's one-line form, of a private key a user supplied as protectedSettings.sshPrivateKey,
 * which is what Flux reports as the repository's public key when it is given a key instead of generating one.
 * OpenSSH-format keys carry their public half in clear (even when the private half is passphrase-protected);
 * PEM keys (PKCS#1, PKCS#8, SEC1) are opened with node:crypto. Anything else yields undefined: better to report
 * no key than a wrong one.
 */
import crypto from "node:crypto";

const OPENSSH_MAGIC = Buffer.from("openssh-key-v1\0", "latin1");

/** SSH wire encoding: a uint32 length, then the bytes */
function sshString(b: Buffer): Buffer {
  const len = Buffer.alloc(4);
  len.writeUInt32BE(b.length);
  return Buffer.concat([len, b]);
}

/** SSH mpint: big-endian, with a leading zero when the top bit is set */
function mpint(b: Buffer): Buffer {
  let i = 0;
  while (i < b.length - 1 && b[i] === 0) i++;
  const trimmed = b.subarray(i);
  return sshString((trimmed[0] ?? 0) & 0x80 ? Buffer.concat([Buffer.alloc(1), trimmed]) : trimmed);
}

function fromOpenSsh(pem: string): Buffer | undefined {
  const body = /-----BEGIN OPENSSH PRIVATE KEY-----([\s\S]*?)-----END OPENSSH PRIVATE KEY-----/.exec(pem)?.[1];
  if (!body) return undefined;
  const blob = Buffer.from(body.replace(/\s+/g, ""), "base64");
  if (!blob.subarray(0, OPENSSH_MAGIC.length).equals(OPENSSH_MAGIC)) return undefined;
  let offset = OPENSSH_MAGIC.length;
  const next = (): Buffer | undefined => {
    if (offset + 4 > blob.length) return undefined;
    const len = blob.readUInt32BE(offset);
    if (offset + 4 + len > blob.length) return undefined;
    const value = blob.subarray(offset + 4, offset + 4 + len);
    offset += 4 + len;
    return value;
  };
  // ciphername, kdfname, kdfoptions, then the number of keys and the first public key
  for (let i = 0; i < 3; i++) if (next() === undefined) return undefined;
  if (offset + 4 > blob.length || blob.readUInt32BE(offset) < 1) return undefined;
  offset += 4;
  return next();
}

function fromPem(pem: string): Buffer | undefined {
  let jwk: crypto.JsonWebKey;
  try {
    jwk = crypto.createPublicKey(crypto.createPrivateKey(pem)).export({ format: "jwk" });
  } catch {
    return undefined;
  }
  const b = (v: string | undefined) => Buffer.from(v ?? "", "base64url");
  if (jwk.kty === "RSA") return Buffer.concat([sshString(Buffer.from("ssh-rsa")), mpint(b(jwk.e)), mpint(b(jwk.n))]);
  if (jwk.kty === "OKP" && jwk.crv === "Ed25519") return Buffer.concat([sshString(Buffer.from("ssh-ed25519")), sshString(b(jwk.x))]);
  const curves: Record<string, string> = { "P-256": "nistp256", "P-384": "nistp384", "P-521": "nistp521" };
  const curve = jwk.kty === "EC" && jwk.crv ? curves[jwk.crv] : undefined;
  if (!curve) return undefined;
  const point = Buffer.concat([Buffer.from([4]), b(jwk.x), b(jwk.y)]);
  return Buffer.concat([sshString(Buffer.from(`ecdsa-sha2-${curve}`)), sshString(Buffer.from(curve)), sshString(point)]);
}

/** `<type> <base64> <comment>` for the supplied key (base64 of its text, as protectedSettings carry it), or undefined */
export function sshPublicKeyOf(sshPrivateKeyB64: string, comment: string): string | undefined {
  const text = Buffer.from(sshPrivateKeyB64, "base64").toString("utf8");
  const wire = fromOpenSsh(text) ?? fromPem(text);
  if (!wire || wire.length < 4) return undefined;
  const type = wire.subarray(4, 4 + wire.readUInt32BE(0)).toString("latin1");
  return `${type} ${wire.toString("base64")} ${comment}`;
}
