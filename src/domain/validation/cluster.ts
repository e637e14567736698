/**
 * The rules of a connectedClusters PUT beyond its schema: the name, an immutable location, and the
 * agent's public key (RSA >= 2048 bits or EC P-256, base64 DER SubjectPublicKeyInfo or PEM), which a
 * later issue uses to authenticate the agent.
 */
import crypto from "node:crypto";
import type { ClusterRecord } from "../types.js";
import { NotBase64Error, readAgentPublicKey } from "../agent-keys.js";
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

/** undefined when the key is acceptable, else why not */
export function agentKeyProblem(value: string): string | undefined {
  let key: crypto.KeyObject;
  try {
    key = readAgentPublicKey(value);
  } catch (err) {
    return err instanceof NotBase64Error ? "it is neither PEM nor base64" : "it is not a public key (expected a SubjectPublicKeyInfo)";
  }
  const details = key.asymmetricKeyDetails ?? {};
  if (key.asymmetricKeyType === "rsa") return (details.modulusLength ?? 0) >= 2048 ? undefined : `RSA keys must have at least 2048 bits (got ${details.modulusLength ?? 0})`;
  if (key.asymmetricKeyType === "ec") return details.namedCurve === "prime256v1" ? undefined : `EC keys must use the P-256 curve (got ${details.namedCurve ?? "unknown"})`;
  return `the key type '${String(key.asymmetricKeyType)}' is not supported (use RSA >= 2048 or EC P-256)`;
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

  const agentKey = typeof props.agentPublicKeyCertificate === "string" ? props.agentPublicKeyCertificate : "";
  if (agentKey === "") problems.add(`${P}.agentPublicKeyCertificate`, "The property 'agentPublicKeyCertificate' is required.");
  else {
    const problem = agentKeyProblem(agentKey);
    if (problem) problems.add(`${P}.agentPublicKeyCertificate`, `The agent public key is not accepted: ${problem}.`);
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
