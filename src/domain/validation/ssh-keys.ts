/**
 * Private keys Flux v1 can use: PEM (PKCS#1, PKCS#8, SEC1, DSA; parsed by node:crypto) or the
 * OpenSSH format ("openssh-key-v1", parsed here: node:crypto does not read it). Key types RSA, EC,
 * DSA, Ed25519. Passphrase-protected keys are refused: the Flux daemon cannot unlock them.
 */
import crypto from "node:crypto";
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

export function parsePrivateKey(decoded: Buffer): KeyParse {
  const text = decoded.toString("utf8");
  if (text.includes(OPENSSH_BEGIN)) return parseOpenSsh(text);
  if (/-----BEGIN [A-Z ]*PRIVATE KEY-----/.test(text)) return parsePem(text);
  return { ok: false, reason: "it is neither a PEM nor an OpenSSH private key" };
}
