/**
 * The cluster agent's public key as registered on the connected cluster: what a submitted or stored
 * value holds, its one stored form (base64 DER SubjectPublicKeyInfo) and whether it may still be trusted.
 *
 * A value that holds private material in any encoding is never a public key here, even where
 * `crypto.createPublicKey` would happily derive one from it: the private half must never leave the
 * cluster, and a key whose private half was ever sent to (and stored by) the service is compromised.
 */
import { LRUCache } from "lru-cache";
import crypto from "node:crypto";
import { decodeBase64Strict } from "./validation/base64.js";
import type { ClusterRecord } from "./types.js";

export interface AgentKey {
  key: crypto.KeyObject;
  /** the JWS algorithm its tokens use, and the JWE algorithm secrets are sealed with */
  jwsAlg: "RS256" | "ES256";
  jweAlg: "RSA-OAEP-256" | "ECDH-ES+A256KW";
  /** short digest of the DER SubjectPublicKeyInfo: the same key in any encoding has the same one */
  fingerprint: string;
  /** its private half was stored by the service at some point: agent tokens signed with it are refused */
  compromised: boolean;
}

/** what a value holds: a public key, private material (with its public half where derivable), or neither */
export type KeyMaterial =
  | { holds: "public"; key: crypto.KeyObject }
  | { holds: "private"; publicHalf?: crypto.KeyObject }
  | { holds: "nothing"; reason: string };

/** labels and magic strings of private-key containers, wherever they occur in the text */
const PRIVATE_MARKERS = /PRIVATE KEY|PuTTY-User-Key-File|openssh-key-v1/i;
const PEM_BEGIN = /-----BEGIN [^-]+-----/g;
const ONE_PEM_BLOCK = /^-----BEGIN ([A-Z0-9 ]+)-----[A-Za-z0-9+/=\s:,-]*?-----END \1-----$/;
const DER_PRIVATE_TYPES = ["pkcs8", "pkcs1", "sec1"] as const;

/** a private key parsed from DER of any container type; "encrypted" when it is one needing a passphrase */
function privateFromDer(der: Buffer): crypto.KeyObject | "encrypted" | undefined {
  for (const type of DER_PRIVATE_TYPES) {
    try {
      return crypto.createPrivateKey({ key: der, format: "der", type });
    } catch (err) {
      if ((err as { code?: string }).code === "ERR_MISSING_PASSPHRASE") return "encrypted";
    }
  }
  return undefined;
}

function privateFromPem(pem: string): crypto.KeyObject | "encrypted" | undefined {
  try {
    return crypto.createPrivateKey({ key: pem, format: "pem" });
  } catch (err) {
    const code = (err as { code?: string }).code ?? "";
    return code === "ERR_MISSING_PASSPHRASE" || code.includes("INTERRUPTED_OR_CANCELLED") ? "encrypted" : undefined;
  }
}

/** a JWK object carrying a private member (d for EC/OKP/RSA, or RSA primes) */
function jwkIsPrivate(text: string): boolean {
  if (!text.trimStart().startsWith("{")) return false;
  try {
    const jwk = JSON.parse(text) as Record<string, unknown>;
    return ["d", "p", "q", "dp", "dq", "qi"].some((m) => jwk[m] !== undefined);
  } catch {
    return false;
  }
}

function publicFromDer(der: Buffer, type: "spki" | "pkcs1"): crypto.KeyObject | undefined {
  try {
    return crypto.createPublicKey({ key: der, format: "der", type });
  } catch {
    return undefined;
  }
}

const publicHalfOf = (found: crypto.KeyObject | "encrypted" | undefined): crypto.KeyObject | undefined =>
  found === undefined || found === "encrypted" ? undefined : crypto.createPublicKey(found);

/** private material in text: a private-key label anywhere, a PEM that parses as a private key, a private JWK */
function privateInText(text: string): KeyMaterial | undefined {
  const pem = text.includes("-----BEGIN") ? privateFromPem(text) : undefined;
  if (pem !== undefined) return { holds: "private", publicHalf: publicHalfOf(pem) };
  if (PRIVATE_MARKERS.test(text) || jwkIsPrivate(text)) return { holds: "private", publicHalf: derivePublicLeniently(text) };
  return undefined;
}

/** what the service before this rule derived from a PEM value: the public half of whatever key the first block holds */
function derivePublicLeniently(text: string): crypto.KeyObject | undefined {
  if (!text.includes("-----BEGIN")) return undefined;
  try {
    return crypto.createPublicKey({ key: text, format: "pem" });
  } catch {
    return undefined;
  }
}

/** what a submitted or stored value holds; private material is looked for in every encoding first */
export function inspectKeyMaterial(value: string): KeyMaterial {
  const text = value.trim();
  const inText = privateInText(text);
  if (inText) return inText;
  if (text.includes("-----BEGIN")) {
    // one block and nothing around it: text outside the armour could be anything, a key included
    if ((text.match(PEM_BEGIN) ?? []).length !== 1 || !ONE_PEM_BLOCK.test(text)) return { holds: "nothing", reason: "a PEM value must hold exactly one block and nothing else" };
    try {
      return { holds: "public", key: crypto.createPublicKey({ key: text, format: "pem" }) };
    } catch {
      return { holds: "nothing", reason: "it is not a public key (expected a SubjectPublicKeyInfo)" };
    }
  }
  const der = decodeBase64Strict(text);
  if (!der) return { holds: "nothing", reason: "it is neither PEM nor base64" };
  // a DER that parses whole as a SubjectPublicKeyInfo holds nothing else (the common, stored case: first)
  const spki = publicFromDer(der, "spki");
  if (spki) {
    // the parser ignores bytes after the key: only the whole value, in canonical DER, is a public key
    const exact = spki.export({ format: "der", type: "spki" });
    if (exact.equals(der)) return { holds: "public", key: spki };
    const tail = der.subarray(exact.length);
    if (privateFromDer(tail) !== undefined || privateInText(tail.toString("latin1"))) return { holds: "private", publicHalf: spki };
    return { holds: "nothing", reason: "it holds more than one SubjectPublicKeyInfo in canonical DER" };
  }
  // base64 of a private DER, or of a PEM/OpenSSH text holding one
  const fromDer = privateFromDer(der);
  if (fromDer !== undefined) return { holds: "private", publicHalf: publicHalfOf(fromDer) };
  const decodedText = privateInText(der.toString("latin1"));
  if (decodedText) return decodedText;
  const pkcs1 = publicFromDer(der, "pkcs1");
  if (pkcs1) return { holds: "public", key: pkcs1 };
  return { holds: "nothing", reason: "it is not a public key (expected a SubjectPublicKeyInfo)" };
}

/** the one stored and returned form of a public key */
export const normalizedPublicKey = (key: crypto.KeyObject): string => key.export({ format: "der", type: "spki" }).toString("base64");

/** how versions before this rule read a registered value: PEM (first block), or base64 DER SPKI with anything after it */
function readLeniently(stored: string): crypto.KeyObject | undefined {
  const text = stored.trim();
  if (text.includes("-----BEGIN")) return derivePublicLeniently(text);
  const der = decodeBase64Strict(text);
  return der ? publicFromDer(der, "spki") : undefined;
}

interface StoredKey {
  key: crypto.KeyObject;
  privateStored: boolean;
  normalized: string;
  fingerprint: string;
}

/**
 * parsed stored values by their text: parsing and exporting a key costs ~0.1 ms each, and every GET shows one.
 * 10,000 recently used keys: the agents' own path keeps its keys in the authenticator (one per cluster of the
 * fleet), so this serves ARM reads and writes, where the clusters being looked at are the recent ones.
 */
const parsed = new LRUCache<string, StoredKey>({ max: 10_000 });

/** a stored value as the key it stands for: its public half even where the value (wrongly) held the private one */
function storedKey(stored: string, remember = true): StoredKey {
  const cached = parsed.get(stored);
  if (cached) return cached;
  const material = inspectKeyMaterial(stored);
  let key: crypto.KeyObject | undefined;
  if (material.holds === "public") key = material.key;
  else if (material.holds === "private") key = material.publicHalf;
  // stored by an older version, which read values leniently (bytes after the key ignored): read them so still
  else key = readLeniently(stored);
  if (!key) throw new Error("the stored agent key cannot be read");
  const der = key.export({ format: "der", type: "spki" });
  const entry: StoredKey = {
    key,
    privateStored: material.holds === "private",
    normalized: der.toString("base64"),
    // the first 12 bytes make exactly the first 16 characters, as a flat string (a slice would keep its 43-character parent)
    fingerprint: crypto.createHash("sha256").update(der).digest().subarray(0, 12).toString("base64url"),
  };
  if (remember) parsed.set(stored, entry);
  return entry;
}

/** the fingerprints of the keys this cluster ever had stored with their private half, the current one included */
export function compromisedFingerprints(record: ClusterRecord): string[] {
  const listed = record.properties.compromisedAgentKeys ?? [];
  const current = storedKey(record.properties.agentPublicKeyCertificate);
  return current.privateStored && !listed.includes(current.fingerprint) ? [...listed, current.fingerprint] : listed;
}

/** the stored value in its normalized public form (base64 DER SubjectPublicKeyInfo), whatever was stored */
export const presentedKey = (stored: string): string => storedKey(stored).normalized;

/** the cluster's agent key, and whether it may be trusted */
export function agentKeyOf(record: ClusterRecord, options: { remember?: boolean } = {}): AgentKey {
  const { key, privateStored, fingerprint } = storedKey(record.properties.agentPublicKeyCertificate, options.remember ?? true);
  const rsa = key.asymmetricKeyType === "rsa";
  return {
    key,
    jwsAlg: rsa ? "RS256" : "ES256",
    jweAlg: rsa ? "RSA-OAEP-256" : "ECDH-ES+A256KW",
    fingerprint,
    compromised: privateStored || (record.properties.compromisedAgentKeys ?? []).includes(fingerprint),
  };
}

/**
 * What the agent path keeps per cluster between polls (src/surfaces/agent/agent-authenticator.ts): the
 * stored text, its fingerprint and whether it may be trusted, not the parsed key. A parsed key is a
 * KeyObject and a native OpenSSL key (measured: ~1.3 KB of RSS per P-256 key, docs/design/agent.md);
 * a 304 needs only the fingerprint, and a new token (once per agent every few minutes) parses the text
 * again through the shared LRU above (`agentKeyOfStored`).
 */
export interface AgentKeyRef {
  stored: string;
  fingerprint: string;
  compromised: boolean;
}

export function agentKeyRefOf(record: ClusterRecord): AgentKeyRef {
  const { fingerprint, compromised } = agentKeyOf(record, { remember: false });
  return { stored: record.properties.agentPublicKeyCertificate, fingerprint, compromised };
}

/**
 * the parsed key a reference stands for (the same fingerprint: the same stored text parses the same);
 * not remembered: the agent path parses a key once per new token, minutes apart, and would only churn
 * the LRU of ARM reads (each KeyObject held there also keeps jose's CryptoKey for it: ~2.8 KB native each)
 */
export function agentKeyOfStored(ref: AgentKeyRef): AgentKey {
  const { key, fingerprint } = storedKey(ref.stored, false);
  const rsa = key.asymmetricKeyType === "rsa";
  return { key, jwsAlg: rsa ? "RS256" : "ES256", jweAlg: rsa ? "RSA-OAEP-256" : "ECDH-ES+A256KW", fingerprint, compromised: ref.compromised };
}

/**
 * The record as it must be stored: the key in its normalized public form, and the key recorded as
 * compromised when the stored value held its private half. Undefined when nothing is to change.
 */
export function remediatedCluster(record: ClusterRecord, options: { remember?: boolean } = {}): { record: ClusterRecord; compromised: boolean } | undefined {
  const { privateStored, normalized } = storedKey(record.properties.agentPublicKeyCertificate, options.remember ?? true);
  if (!privateStored && normalized === record.properties.agentPublicKeyCertificate) return undefined;
  const compromisedAgentKeys = compromisedFingerprints(record);
  return {
    record: { ...record, properties: { ...record.properties, agentPublicKeyCertificate: normalized, ...(compromisedAgentKeys.length > 0 ? { compromisedAgentKeys } : {}) } },
    compromised: privateStored,
  };
}
