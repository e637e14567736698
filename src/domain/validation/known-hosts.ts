/**
 * known_hosts lines (sshd(8) "SSH_KNOWN_HOSTS FILE FORMAT"): [marker] hostnames keytype base64-key
 * [comment]. The key blob must decode and name the same key type as the line.
 */
import { quote } from "../../arm/quote.js";

const KEY_TYPES = new Set([
  "ssh-rsa",
  "ssh-dss",
  "ssh-ed25519",
  "ecdsa-sha2-nistp256",
  "ecdsa-sha2-nistp384",
  "ecdsa-sha2-nistp521",
  "sk-ssh-ed25519@openssh.com",
  "sk-ecdsa-sha2-nistp256@openssh.com",
]);
const HOST_PATTERN = /^(\|1\|[A-Za-z0-9+/=]+\|[A-Za-z0-9+/=]+|[!*?A-Za-z0-9._:\-[\]]+(,[!*?A-Za-z0-9._:\-[\]]+)*)$/;

function lineProblem(line: string): string | undefined {
  const fields = line.trim().split(/\s+/);
  if (fields[0]?.startsWith("@")) {
    if (fields[0] !== "@cert-authority" && fields[0] !== "@revoked") return `unknown marker ${quote(fields[0])}`;
    fields.shift();
  }
  const [hosts, keyType, keyData] = fields;
  if (!hosts || !keyType || !keyData) return "expected: hostnames key-type base64-key";
  if (!HOST_PATTERN.test(hosts)) return "the host pattern is not valid";
  if (!KEY_TYPES.has(keyType)) return `unknown key type ${quote(keyType)}`;
  if (!/^[A-Za-z0-9+/]+={0,2}$/.test(keyData)) return "the key is not base64";
  const blob = Buffer.from(keyData, "base64");
  if (blob.length < 4) return "the key is truncated";
  const len = blob.readUInt32BE(0);
  if (4 + len > blob.length || blob.subarray(4, 4 + len).toString("latin1") !== keyType) return `the key does not hold a '${keyType}' key`;
  return undefined;
}

/** undefined when every line is valid (at least one key line), else the first problem with its line number */
export function knownHostsProblem(text: string): string | undefined {
  let keys = 0;
  const lines = text.split(/\r?\n/);
  for (let i = 0; i < lines.length; i++) {
    const line = lines[i] ?? "";
    if (line.trim() === "" || line.trim().startsWith("#")) continue;
    const problem = lineProblem(line);
    if (problem) return `line ${i + 1}: ${problem}`;
    keys++;
  }
  return keys === 0 ? "it holds no host key line" : undefined;
}
