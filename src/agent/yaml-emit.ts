/**
 * A tiny block-style YAML emitter for the plain JSON-like objects Kubernetes manifests are made of (objects, arrays,
 * strings, numbers, booleans, null). Hand-written so the agent needs no runtime dependency beyond jose:
 * - strings are emitted plain only when unambiguous (no YAML indicators, not a bool/null/number look-alike), otherwise as
 *   JSON double-quoted strings, which are valid YAML double-quoted scalars (multi-line text keeps its \n escapes);
 * - `undefined` object members are skipped; empty objects/arrays are `{}` / `[]`.
 */
type Scalar = string | number | boolean | null;

const PLAIN = /^[A-Za-z_/][A-Za-z0-9_./-]*$/;
const RESERVED = /^(true|false|yes|no|on|off|y|n|null|~)$/i;
const PLAIN_KEY = /^[A-Za-z0-9_./-]+$/;

function scalar(v: Scalar): string {
  if (v === null) return "null";
  if (typeof v === "boolean") return v ? "true" : "false";
  if (typeof v === "number") {
    if (!Number.isFinite(v)) throw new Error(`cannot emit ${v} as YAML`);
    return String(v);
  }
  return PLAIN.test(v) && !RESERVED.test(v) ? v : JSON.stringify(v);
}

function key(k: string): string {
  return PLAIN_KEY.test(k) && !RESERVED.test(k) && !/^[0-9.+-]/.test(k) ? k : JSON.stringify(k);
}

function isScalar(v: unknown): v is Scalar {
  return v === null || typeof v === "string" || typeof v === "number" || typeof v === "boolean";
}

function isEmpty(v: unknown): boolean {
  if (Array.isArray(v)) return v.length === 0;
  if (typeof v === "object" && v !== null) return Object.values(v).every((x) => x === undefined);
  return false;
}

function inline(v: unknown): string {
  if (isScalar(v)) return scalar(v);
  return Array.isArray(v) ? "[]" : "{}";
}

function lines(value: unknown, indent: number): string[] {
  const pad = " ".repeat(indent);
  if (Array.isArray(value)) {
    const out: string[] = [];
    for (const item of value) {
      if (item === undefined) throw new Error("cannot emit undefined in a YAML sequence");
      if (isScalar(item) || isEmpty(item)) {
        out.push(`${pad}- ${inline(item)}`);
      } else {
        const inner = lines(item, indent + 2);
        out.push(`${pad}- ${(inner[0] ?? "").slice(indent + 2)}`, ...inner.slice(1));
      }
    }
    return out;
  }
  if (typeof value === "object" && value !== null) {
    const out: string[] = [];
    for (const [k, v] of Object.entries(value)) {
      if (v === undefined) continue;
      if (isScalar(v) || isEmpty(v)) out.push(`${pad}${key(k)}: ${inline(v)}`);
      else out.push(`${pad}${key(k)}:`, ...lines(v, indent + 2));
    }
    return out;
  }
  if (isScalar(value)) return [`${pad}${scalar(value)}`];
  throw new Error(`cannot emit a ${typeof value} as YAML`);
}

/** One YAML document (no leading `---`), newline-terminated. */
export function toYaml(value: unknown): string {
  if (isScalar(value) || isEmpty(value)) return `${inline(value)}\n`;
  return `${lines(value, 0).join("\n")}\n`;
}
