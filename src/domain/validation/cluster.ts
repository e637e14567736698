/**
 * The rules of a connectedClusters PUT beyond its schema: the name, an immutable location, and the
 * agent's public key (RSA >= 2048 bits or EC P-256; base64 DER SubjectPublicKeyInfo, PEM SPKI or PEM
 * PKCS#1 public), which authenticates the agent. Private material in any encoding is refused, and the
 * key is kept in one normalized form (base64 DER SubjectPublicKeyInfo), never as submitted.
 */
import type { ClusterRecord } from "../types.js";
import { inspectKeyMaterial, normalizedPublicKey } from "../agent-keys.js";
import { Problems } from "./problems.js";
import { quote } from "../../arm/quote.js";
import { locationProblem, normalizeLocation, tagProblems } from "../../arm/shapes.js";
import { CLUSTER_TYPE } from "../../arm/resource-ids.js";

export interface ClusterInput {
  name: string;
  resourceGroup: string;
  body: Record<string, unknown>;
  existing?: ClusterRecord;
  /** the region names this service offers (ALLOWED_LOCATIONS) */
  allowedLocations: readonly string[];
}

export interface ValidatedCluster {
  location: string;
  tags?: Record<string, string>;
  identityType: "SystemAssigned" | "None";
  agentPublicKeyCertificate: string;
  distribution?: string;
  infrastructure?: string;
}

const CLUSTER_NAME = /^[a-zA-Z0-9][-_a-zA-Z0-9]{0,62}$/;
const P = "properties";
const READ_ONLY = ["agentVersion", "kubernetesVersion", "totalNodeCount", "totalCoreCount", "connectivityStatus", "lastConnectivityTime"] as const;

export const PRIVATE_KEY_SUBMITTED =
  "a public key is expected, but the value holds private key material. Send only the public half (base64 DER SubjectPublicKeyInfo, or PEM 'PUBLIC KEY'); the private key must never leave the cluster, so treat this key pair as exposed and generate a new one";

/** the normalized public key, or why the value is not accepted (never quoting the value) */
export function checkAgentKey(value: string): { normalized: string } | { problem: string } {
  const material = inspectKeyMaterial(value);
  if (material.holds === "private") return { problem: PRIVATE_KEY_SUBMITTED };
  if (material.holds === "nothing") return { problem: `${material.reason}; a public key is expected` };
  const key = material.key;
  const details = key.asymmetricKeyDetails ?? {};
  if (key.asymmetricKeyType === "rsa") {
    if ((details.modulusLength ?? 0) < 2048) return { problem: `RSA keys must have at least 2048 bits (got ${details.modulusLength ?? 0})` };
  } else if (key.asymmetricKeyType === "ec") {
    if (details.namedCurve !== "prime256v1") return { problem: `EC keys must use the P-256 curve (got ${details.namedCurve ?? "unknown"})` };
  } else return { problem: `the key type '${String(key.asymmetricKeyType)}' is not supported (use RSA >= 2048 or EC P-256)` };
  return { normalized: normalizedPublicKey(key) };
}

export function validateClusterPut(input: ClusterInput): ValidatedCluster {
  const problems = new Problems();
  const body = input.body;
  const props = (body.properties ?? {}) as Record<string, unknown>;
  if (!CLUSTER_NAME.test(input.name)) {
    problems.add("name", `The cluster name ${quote(input.name)} is invalid: use 1 to 63 letters, digits, '-' or '_', starting with a letter or digit.`, "InvalidResourceName");
  }
  const location = typeof body.location === "string" ? body.location : "";
  if (location.trim() === "") problems.add("location", "The property 'location' is required.");
  else if (input.existing && normalizeLocation(input.existing.location) !== normalizeLocation(location)) {
    problems.add("location", `The location of an existing cluster cannot change (it is '${input.existing.location}').`, "LocationNotAvailableForResourceType");
  } else if (!input.existing) {
    // an existing cluster keeps its location even when the list no longer names it
    const problem = locationProblem(location, input.allowedLocations, CLUSTER_TYPE);
    if (problem) problems.add(problem.target, problem.message, problem.code);
  }
  for (const p of tagProblems(body.tags as Record<string, unknown> | undefined)) problems.add(p.target, p.message, p.code);
  const identity = (body.identity ?? {}) as Record<string, unknown>;
  const identityType = identity.type === "None" ? "None" : "SystemAssigned";

  const submittedKey = typeof props.agentPublicKeyCertificate === "string" ? props.agentPublicKeyCertificate : "";
  let agentKey = "";
  if (submittedKey === "") problems.add(`${P}.agentPublicKeyCertificate`, "The property 'agentPublicKeyCertificate' is required.");
  else {
    const checked = checkAgentKey(submittedKey);
    if ("problem" in checked) problems.add(`${P}.agentPublicKeyCertificate`, `The agent public key is not accepted: ${checked.problem}.`);
    else agentKey = checked.normalized;
  }
  for (const name of READ_ONLY) {
    if (props[name] === undefined) continue;
    const current = input.existing?.properties[name] ?? (name === "connectivityStatus" ? "Connecting" : undefined);
    if (props[name] !== current) problems.readOnly(`${P}.${name}`);
  }
  problems.throwIfAny();
  return {
    // stored as ARM normalizes it (`East US` -> `eastus`)
    location: normalizeLocation(location),
    tags: body.tags as Record<string, string> | undefined,
    identityType,
    agentPublicKeyCertificate: agentKey,
    distribution: typeof props.distribution === "string" ? props.distribution : undefined,
    infrastructure: typeof props.infrastructure === "string" ? props.infrastructure : undefined,
  };
}

/** the PUT body that would set what the caller owns of a stored cluster (read-only values left out) */
function putBodyOf(record: ClusterRecord): Record<string, unknown> {
  const { agentPublicKeyCertificate, distribution, infrastructure } = record.properties;
  return {
    location: record.location,
    identity: { type: record.identity.type },
    ...(record.tags !== undefined ? { tags: record.tags } : {}),
    properties: {
      agentPublicKeyCertificate,
      ...(distribution !== undefined ? { distribution } : {}),
      ...(infrastructure !== undefined ? { infrastructure } : {}),
    },
  };
}

/**
 * A PATCH (already checked against ConnectedClusterPatch: which members may be patched is the schema's
 * rule, not this function's) merged onto the stored cluster, as the PUT body it amounts to. ARM PATCH
 * semantics: `tags` replaces the tag set as a whole; each member of `properties` replaces its value.
 * The result goes through the PUT's schema and validateClusterPut, like any PUT.
 */
export function mergeClusterPatch(existing: ClusterRecord, patch: Record<string, unknown>): Record<string, unknown> {
  const base = putBodyOf(existing);
  const patchProps = (patch.properties ?? {}) as Record<string, unknown>;
  return {
    ...base,
    ...(patch.tags !== undefined ? { tags: patch.tags } : {}),
    properties: { ...(base.properties as Record<string, unknown>), ...patchProps },
  };
}
