/**
 * Private keys Flux v1 can use: PEM (PKCS#1, PKCS#8, SEC1, DSA; parsed by node:crypto) or the
 * OpenSSH format ("openssh-key-v1", parsed here: node:crypto does not read it). Key types RSA, EC,
 * DSA, Ed25519. Passphrase-protected keys are refused: the Flux daemon cannot unlock them.
 */
import crypto from "node:crypto";
import { LRUCache } from "lru-cache";
import { quote } from "../../arm/quote.js";

export type SshKeyType = "rsa" | "ec" | "dsa" | "ed25519";

const OPENSSH_BEGIN = "-----BEGIN OPENSSH PRIVATE KEY-----";
const OPENSSH_END = "-----END OPENSSH PRIVATE KEY-----";
const OPENSSH_TYPES: Record<string, SshKeyType> = {
  "ssh-rsa": "rsa",
  "ssh-dss": "dsa",
  "ssh-ed25519": "ed25519",
  "ecdsa-sha2-nistp256": "ec",
  "ecdsa-sha2-nistp384": "ec",
  "ecdsa-sha2-nistp521": "ec",
};

/** reads SSH wire strings (uint32 length + bytes); throws RangeError past the end */
class SshReader {
  private offset = 0;
  constructor(private readonly buf: Buffer) {}
  uint32(): number {
    const v = this.buf.readUInt32BE(this.offset);
    this.offset += 4;
    return v;
  }
  bytes(): Buffer {
    const len = this.uint32();
    if (this.offset + len > this.buf.length) throw new RangeError("truncated");
    const v = this.buf.subarray(this.offset, this.offset + len);
    this.offset += len;
    return v;
  }
  string(): string {
    return this.bytes().toString("latin1");
  }
  atEnd(): boolean {
    return this.offset === this.buf.length;
  }
}

export type KeyParse = { ok: true; type: SshKeyType } | { ok: false; reason: string };

function parseOpenSsh(text: string): KeyParse {
  const start = text.indexOf(OPENSSH_BEGIN);
  const end = text.indexOf(OPENSSH_END);
  if (start < 0 || end < start) return { ok: false, reason: "the OpenSSH key is not delimited" };
  const blob = Buffer.from(text.slice(start + OPENSSH_BEGIN.length, end).replace(/\s+/g, ""), "base64");
  const magic = Buffer.from("openssh-key-v1\0", "latin1");
  if (!blob.subarray(0, magic.length).equals(magic)) return { ok: false, reason: "not an openssh-key-v1 key" };
  try {
    const r = new SshReader(blob.subarray(magic.length));
    const cipher = r.string();
    r.string(); // kdf name
    r.bytes(); // kdf options
    if (cipher !== "none") return { ok: false, reason: "the key is protected by a passphrase, which Flux cannot use" };
    if (r.uint32() !== 1) return { ok: false, reason: "the file must hold exactly one key" };
    const publicType = new SshReader(r.bytes()).string();
    const priv = new SshReader(r.bytes());
    if (priv.uint32() !== priv.uint32()) return { ok: false, reason: "the private section is corrupt (check integers differ)" };
    const privateType = priv.string();
    const type = OPENSSH_TYPES[publicType];
    if (!type || privateType !== publicType) return { ok: false, reason: `unsupported key type ${quote(publicType)}` };
    return { ok: true, type };
  } catch {
    return { ok: false, reason: "the OpenSSH key is truncated" };
  }
}

function parsePem(text: string): KeyParse {
  if (/Proc-Type:\s*4,ENCRYPTED|BEGIN ENCRYPTED PRIVATE KEY/.test(text)) return { ok: false, reason: "the key is protected by a passphrase, which Flux cannot use" };
  try {
    const key = crypto.createPrivateKey({ key: text, format: "pem" });
    const type = key.asymmetricKeyType;
    if (type === "rsa" || type === "ec" || type === "dsa" || type === "ed25519") return { ok: true, type };
    return { ok: false, reason: `unsupported key type ${quote(type)}` };
  } catch {
    return { ok: false, reason: "it is not a valid PEM private key" };
  }
}

function parsePrivateKeyText(decoded: Buffer): KeyParse {
  const text = decoded.toString("utf8");
  if (text.includes(OPENSSH_BEGIN)) return parseOpenSsh(text);
  if (/-----BEGIN [A-Z ]*PRIVATE KEY-----/.test(text)) return parsePem(text);
  return { ok: false, reason: "it is neither a PEM nor an OpenSSH private key" };
}

/**
 * Verdicts of recent inputs, keyed by the SHA-256 of the decoded bytes. A PUT of a configuration
 * carries its whole sshPrivateKey every time, usually the same one, and node:crypto's PEM parse costs
 * ~0.4 ms (OpenSSL 3 decoders) against ~2 µs for the hash: the profile of a PUT with secrets put it
 * at ~15 % of the PUT's CPU. The verdict is a pure function of the bytes, so a cached one is the one
 * a parse would give; SHA-256 is collision resistant, so no other input finds it. Only the digest
 * and the verdict are kept (a verdict holds a key type or a fixed reason, never anything of the key);
 * the digest of a private key reveals nothing usable of it. Bounded: least recently used goes first.
 */
export const PRIVATE_KEY_VERDICTS_MAX = 1024;
const privateKeyVerdicts = new LRUCache<string, KeyParse>({ max: PRIVATE_KEY_VERDICTS_MAX });

export function parsePrivateKey(decoded: Buffer): KeyParse {
  const digest = crypto.createHash("sha256").update(decoded).digest("base64");
  const cached = privateKeyVerdicts.get(digest);
  if (cached !== undefined) return { ...cached };
  const verdict = parsePrivateKeyText(decoded);
  privateKeyVerdicts.set(digest, verdict);
  return { ...verdict };
}

/** how many verdicts are held (tests: the cache stays bounded) */
export const privateKeyVerdictsHeld = (): number => privateKeyVerdicts.size;

/**
 * An OpenSSH public key line, as agents report their deploy key (`repositoryPublicKey`, shown to ARM users as is):
 * `<type> <base64 wire blob> [comment]`. The type is ssh-rsa, ecdsa-sha2-nistp256/384/521 or ssh-ed25519; the
 * blob must be exactly that key's SSH wire encoding (RFC 4253 6.6, RFC 5656 3.1, RFC 8709 4) naming the same
 * type, with nothing after it, and must load as a key (an EC point on its curve, RSA of at least 1024 bits).
 * The comment, if any, is printable ASCII without < > " ' ` & (at most 256 characters). Reasons quote nothing of the input.
 */
export type PublicKeyType = "ssh-rsa" | "ecdsa-sha2-nistp256" | "ecdsa-sha2-nistp384" | "ecdsa-sha2-nistp521" | "ssh-ed25519";
export type PublicKeyParse = { ok: true; type: PublicKeyType } | { ok: false; reason: string };

const EC_CURVES: Record<string, { name: string; crv: string; size: number }> = {
  "ecdsa-sha2-nistp256": { name: "nistp256", crv: "P-256", size: 32 },
  "ecdsa-sha2-nistp384": { name: "nistp384", crv: "P-384", size: 48 },
  "ecdsa-sha2-nistp521": { name: "nistp521", crv: "P-521", size: 66 },
};
/** the comment: printable ASCII without markup or quoting characters (it is displayed, never interpreted) */
const PUBLIC_KEY_LINE = /^(\S+) ([A-Za-z0-9+/]+={0,2})(?: ((?:(?![<>"'`&])[\x20-\x7e]){0,256}))?$/;

/** the JWK of the blob's key, or the reason it is not one; the reader must end exactly at the blob's end */
function publicKeyJwk(type: string, r: SshReader): crypto.JsonWebKey | string {
  if (type === "ssh-ed25519") {
    const x = r.bytes();
    return x.length === 32 ? { kty: "OKP", crv: "Ed25519", x: x.toString("base64url") } : "the ed25519 key is not 32 bytes";
  }
  if (type === "ssh-rsa") {
    const e = r.bytes();
    const n = r.bytes();
    const strip = (b: Buffer): Buffer => (b[0] === 0 ? b.subarray(1) : b);
    if (n.length === 0 || e.length === 0 || (n[0] ?? 0) & 0x80 || (e[0] ?? 0) & 0x80) return "the RSA numbers are not positive";
    if (strip(n).length * 8 < 1024) return "the RSA key is shorter than 1024 bits";
    return { kty: "RSA", n: strip(n).toString("base64url"), e: strip(e).toString("base64url") };
  }
  const curve = EC_CURVES[type];
  if (!curve) return "unsupported key type";
  if (r.string() !== curve.name) return "the curve does not match the key type";
  const q = r.bytes();
  if (q.length !== 1 + 2 * curve.size || q[0] !== 4) return "the EC point is not an uncompressed point of the curve";
  return { kty: "EC", crv: curve.crv, x: q.subarray(1, 1 + curve.size).toString("base64url"), y: q.subarray(1 + curve.size).toString("base64url") };
}

export function parsePublicKey(line: string): PublicKeyParse {
  const m = PUBLIC_KEY_LINE.exec(line); // one line, as written: no surrounding whitespace
  if (!m) return { ok: false, reason: "it is not an OpenSSH public key line (<type> <base64> [comment], printable ASCII)" };
  const type = m[1] ?? "";
  if (type !== "ssh-rsa" && type !== "ssh-ed25519" && !EC_CURVES[type]) return { ok: false, reason: "the key type is not ssh-rsa, ecdsa-sha2-nistp256/384/521 or ssh-ed25519" };
  const blob = Buffer.from(m[2] ?? "", "base64");
  if (blob.toString("base64") !== m[2]) return { ok: false, reason: "the key is not canonical base64" };
  try {
    const r = new SshReader(blob);
    if (r.string() !== type) return { ok: false, reason: "the key's encoded type does not match its stated type" };
    const jwk = publicKeyJwk(type, r);
    if (typeof jwk === "string") return { ok: false, reason: jwk };
    if (!r.atEnd()) return { ok: false, reason: "the key has trailing bytes" };
    crypto.createPublicKey({ key: jwk, format: "jwk" });
    return { ok: true, type: type as PublicKeyType };
  } catch {
    return { ok: false, reason: "the key's wire encoding is truncated or not a valid key" };
  }
}
