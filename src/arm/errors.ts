/**
 * The one catalogue of errors the ARM and agent surfaces answer with.
 * Every error leaves the service in ARM's shape: {"error":{"code","message","target","details"}}.
 * Messages never contain request values that could be secrets; targets name fields, not values.
 * A refusal is small whatever the request: submitted values are quoted through `quote` (at most 80
 * characters), `details` holds at most MAX_DETAILS entries and one line counting the rest, and
 * `toBody` bounds every string again so that no path can exceed it.
 *
 * Codes for ARM's own checks of names and shapes (ARM's front door answers these before a provider
 * sees the request; we answer them the same way, src/arm/shapes.ts holds the rules):
 * - InvalidSubscriptionId: ARM's code and wording for a subscription id that is not a GUID.
 * - InvalidResourceGroupName: the nearest ARM code for a resource group name outside ARM's rules
 *   (ARM's resource group API answers such names with a 400 of this meaning).
 * - InvalidResourceName: ARM's code for a resource name outside the type's rules (and for a name
 *   too long to be routed at all).
 * - InvalidTagNameCharacters, InvalidTagName (a name over 512 characters), InvalidTagValueLength:
 *   ARM's codes, with ARM's limits; InvalidTagCount (more than 50 tags) is the nearest code for ARM's
 *   tag-count limit.
 * - LocationNotAvailableForResourceType: ARM's code for a location the resource type is not offered in.
 */
import { clip, quote } from "./quote.js";

export { clip, quote } from "./quote.js";

/**
 * Every error code the service answers with, and what it means: the one list. `ArmError`'s code,
 * `Problems.add` and every detail take an `ErrorCode`, so a code that is not here does not compile;
 * docs/errors.md is generated from this list and test/unit/error-catalogue.test.ts checks that the
 * file is current and that every code is used.
 */
export const ERROR_CODES = {
  MissingApiVersionParameter: "400: the request has no api-version query parameter.",
  NoRegisteredProviderFound: "400: the api-version is not served for the resource type (ARM's code).",
  InvalidApiVersionParameter: "400: the api-version is malformed, or not served by an ARM-owned endpoint (e.g. the subscription lifecycle's '2.0').",
  InvalidSubscriptionId: "400: the subscription id in the path is not a GUID.",
  InvalidResourceGroupName: "400: the resource group name breaks ARM's rules.",
  InvalidResourceName: "400: a resource name breaks its type's rules, or a path segment is too long to be routed.",
  InvalidResourceType: "400: configurations are served only on Microsoft.Kubernetes/connectedClusters.",
  InvalidRequestContent: "400: the body is missing, not JSON, or does not fit the schema of the api-version.",
  InvalidParameter: "400: a property breaks a rule of the resource (target names it; details list every problem).",
  InvalidSkipToken: "400: the $skipToken was not issued for this list (or was altered); start from the first page.",
  InvalidSubscriptionState: "400: a subscription lifecycle notification names an unknown state.",
  InvalidTagCount: "400: more than 50 tags.",
  InvalidTagName: "400: a tag name longer than 512 characters.",
  InvalidTagNameCharacters: "400: a tag name that is empty or has reserved or control characters.",
  InvalidTagValueLength: "400: a tag value longer than 256 characters.",
  LocationNotAvailableForResourceType: "400: the location is not offered (ALLOWED_LOCATIONS), or an existing cluster's location would change.",
  PropertyChangeNotAllowed: "400: a read-only or fixed-at-creation property would change.",
  SensitiveInputNotAllowed: "400: an assignment carries protected settings or known_hosts (kept at most 48 hours; an assignment lives on).",
  BadRequest: "400: the HTTP parser refused the request (request line, method, encoding).",
  MoreDetailsOmitted: "a detail line only: how many further problems were found and not listed.",
  AuthenticationFailed: "401: no Authorization header.",
  InvalidAuthenticationToken: "401: the bearer token is invalid (signature, expiry, audience, issuer, shape).",
  AgentKeyMismatch: "401: the agent token verifies with another key than the cluster's registered agentPublicKeyCertificate.",
  AgentKeyCompromised: "401: the cluster's registered agent key had its private half submitted; register a new key.",
  InvalidAuthenticationTokenTenant: "403: the token's tenant is not the subscription's.",
  AuthorizationFailed: "403: the caller may not do this (an untrusted lifecycle caller, an agent on another cluster).",
  NotFound: "404: no route matches the method and path.",
  ResourceNotFound: "404: the resource, or its parent, does not exist.",
  SubscriptionNotFound: "404: the subscription is not known to the provider.",
  OperationNotFound: "404: the asynchronous operation is unknown or finished more than a day ago.",
  MethodNotAllowed: "405: the path is served under other methods (Allow lists them).",
  RequestTimeout: "408: the request was not received in time.",
  Conflict: "409: the write conflicts with the resource's state (the message says how).",
  ConcurrentUpdate: "409: another request changed the resource at the same time; retry.",
  ManagedByConfigurationAssignment: "409: the configuration is managed by an enforcing configuration assignment.",
  AssignmentBeingDeleted: "409: the configuration assignment is being deleted.",
  QuotaExceeded: "409: the subscription holds the most configuration assignments allowed.",
  SubscriptionNotRegistered: "409: the subscription is not registered (or unregistered: GET only).",
  ReadOnlyDisabledSubscription: "409: the subscription is Warned or Suspended: only GET and DELETE.",
  PreconditionFailed: "412: If-Match or If-None-Match did not hold.",
  RequestEntityTooLarge: "413: the body is over the size limit.",
  UnsupportedMediaType: "415: the body is not application/json.",
  RequestHeaderFieldsTooLarge: "431: the request's headers are too large.",
  InternalServerError: "500: an unexpected failure (logged, never detailed in the answer).",
  DataIntegrityFailure: "500: stored data failed authenticated decryption and is not served.",
  EncryptionKeyUnavailable: "500: the key-encryption key refused the operation (disabled or unknown version).",
  ServiceUnavailable: "503: the store or a key provider is unavailable or too slow (Retry-After).",
  StoreWriteUnavailable: "503: the store answers reads but cannot keep writes (disk full, read-only); nothing was written.",
  SourceKindNotSupported: "400: a fluxConfiguration names a source kind (Bucket, AzureBlob, OCIRepository) or option this service does not deliver yet.",
  FluxVersionConflict: "409: a cluster carries Flux v1 sourceControlConfigurations or Flux v2 fluxConfigurations, not both (the message names the migrate action).",
  RolloutNotInProgress: "409: halt of an assignment whose rollout is not running (completed, or already halted).",
  RolloutNotHalted: "409: resume of an assignment whose rollout is not halted.",
  NoPreviousGeneration: "409: rollback of an assignment with no earlier completed generation to go back to, or whose configuration already is it.",
  RolloutHalted: "409: the operation (resume, rollback) ended with the rollout halted again: a stage's gate failed or a user halted it (the message says which).",
  KeyVaultReferenceNotAllowed: "403: a Key Vault reference names a vault the caller may not have read for it (another subscription, or not allowed for this principal: docs/design/keyvault-references.md, Trust). Checked before anything is read or written; the message never says which other principals may.",
} as const satisfies Record<string, string>;

export type ErrorCode = keyof typeof ERROR_CODES;

/** at most this many details are listed; one more line says how many were left out */
export const MAX_DETAILS = 20;
/** a bound on every string of an error body, whatever built it */
const MAX_MESSAGE_CHARS = 1024;
const MAX_TARGET_CHARS = 200;

/**
 * The fields of the error object each api-version's swagger defines, where it is not the common
 * ErrorDetail (code, message, target, details, additionalInfo). The 2021-03-01 Microsoft.KubernetesConfiguration
 * swagger's `ErrorDefinition` has only `code` and `message` (test/fixtures/azure-rest-api-specs/.../stable/2021-03-01);
 * every later version and Microsoft.Kubernetes use common-types' ErrorResponse. Our openapi/ documents
 * describe all versions at once, so the difference is kept here.
 */
const ERROR_FIELDS_BY_API_VERSION: Record<string, readonly (keyof ArmErrorDetail)[]> = {
  "2021-03-01": ["code", "message"],
};

export interface ArmErrorDetail {
  code: ErrorCode;
  message: string;
  target?: string;
  details?: ArmErrorDetail[];
}

export class ArmError extends Error {
  constructor(
    public readonly statusCode: number,
    public readonly code: ErrorCode,
    message: string,
    public readonly target?: string,
    public readonly details?: ArmErrorDetail[],
    public readonly headers: Record<string, string> = {},
  ) {
    super(message);
    this.name = "ArmError";
  }

  /** the body in the shape of the error schema of `apiVersion` (the request's), bounded in size */
  toBody(apiVersion?: string): { error: ArmErrorDetail } {
    const fields = apiVersion === undefined ? undefined : ERROR_FIELDS_BY_API_VERSION[apiVersion];
    const details = this.details !== undefined && this.details.length > 0 ? capDetails(this.details) : undefined;
    let message = this.message;
    // a version without details still says that there was more than one problem
    if (details && fields && !fields.includes("details")) message = `${message} (${countProblems(details) - 1} more problem(s) in this request.)`;
    const error: ArmErrorDetail = { code: this.code, message: clip(message, MAX_MESSAGE_CHARS) };
    if (this.target !== undefined && (!fields || fields.includes("target"))) error.target = clip(this.target, MAX_TARGET_CHARS);
    if (details && (!fields || fields.includes("details"))) error.details = details.map(boundDetail);
    return { error };
  }
}

const OMITTED_CODE: ErrorCode = "MoreDetailsOmitted";

function omittedLine(count: number): ArmErrorDetail {
  return { code: OMITTED_CODE, message: `${count} more problem(s) were found and are not listed.` };
}

/** the first MAX_DETAILS details and one line counting the rest */
export function capDetails(details: ArmErrorDetail[], alreadyOmitted = 0): ArmErrorDetail[] {
  const listed = details.filter((d) => d.code !== OMITTED_CODE);
  const omitted = alreadyOmitted + details.filter((d) => d.code === OMITTED_CODE).reduce((n, d) => n + (Number.parseInt(d.message, 10) || 0), 0) + Math.max(0, listed.length - MAX_DETAILS);
  const kept = listed.slice(0, MAX_DETAILS);
  return omitted > 0 ? [...kept, omittedLine(omitted)] : kept;
}

function countProblems(details: ArmErrorDetail[]): number {
  const omitted = details.find((d) => d.code === OMITTED_CODE);
  return details.length - (omitted ? 1 : 0) + (omitted ? Number.parseInt(omitted.message, 10) || 0 : 0);
}

function boundDetail(d: ArmErrorDetail): ArmErrorDetail {
  const out: ArmErrorDetail = { code: d.code, message: clip(d.message, MAX_MESSAGE_CHARS) };
  if (d.target !== undefined) out.target = clip(d.target, MAX_TARGET_CHARS);
  // nested details are not produced by this service; a bounded body keeps none
  return out;
}

const LIFECYCLE_API_VERSION = "2.0";

export const errors = {
  missingApiVersion: () =>
    new ArmError(400, "MissingApiVersionParameter", "The api-version query parameter (?api-version=) is required for all requests.", "api-version"),

  /** ARM's answer for an api-version the provider type does not serve */
  noRegisteredProviderFound: (apiVersion: string, resourceType: string, supported: readonly string[]) =>
    new ArmError(
      400,
      "NoRegisteredProviderFound",
      `No registered resource provider found for location 'global' and API version ${quote(apiVersion)} for type '${resourceType}'. The supported api-versions are '${supported.join(", ")}'.`,
      "api-version",
    ),

  /** ARM's answer for an api-version that is malformed or not served by an ARM-owned endpoint */
  invalidApiVersion: (apiVersion: string, supported: readonly string[]) =>
    new ArmError(400, "InvalidApiVersionParameter", `The api-version ${quote(apiVersion)} is invalid. The supported versions are '${supported.join(",")}'.`, "api-version"),

  lifecycleApiVersion: (apiVersion: string) =>
    new ArmError(400, "InvalidApiVersionParameter", `The api-version ${quote(apiVersion)} is invalid. The supported versions are '${LIFECYCLE_API_VERSION}'.`, "api-version"),

  resourceNotFound: (resourceType: string, name: string, resourceGroup: string) =>
    new ArmError(404, "ResourceNotFound", `The Resource '${resourceType}/${clip(name)}' under resource group ${quote(resourceGroup)} was not found. For more details please go to https://aka.ms/ARMResourceNotFoundFix`),

  parentResourceNotFound: (parentType: string, parentName: string, resourceGroup: string) =>
    new ArmError(404, "ResourceNotFound", `The Resource '${parentType}/${clip(parentName)}' under resource group ${quote(resourceGroup)} was not found. For more details please go to https://aka.ms/ARMResourceNotFoundFix`),

  unsupportedParentType: (clusterRp: string, clusterResourceName: string) =>
    new ArmError(
      400,
      "InvalidResourceType",
      `Source control configurations are served here only for 'Microsoft.Kubernetes/connectedClusters'; '${clip(clusterRp)}/${clip(clusterResourceName)}' is not supported by this endpoint.`,
      "clusterResourceName",
    ),

  notFoundRoute: (method: string, path: string) =>
    new ArmError(404, "NotFound", `No route matches '${clip(method, 20)} ${clip(path)}'.`),

  /** a path served under other methods: Allow lists them (RFC 9110) */
  methodNotAllowed: (method: string, allowed: readonly string[]) =>
    new ArmError(405, "MethodNotAllowed", `The HTTP method ${quote(method)} is not supported for this resource${allowed.length > 0 ? `; use ${allowed.join(", ")}` : ""}.`, undefined, undefined, {
      allow: allowed.join(", "),
    }),

  /** the HTTP parser refused the request before any route saw it (bad request line, method, encoding) */
  badRequest: (what: string) => new ArmError(400, "BadRequest", `The request is malformed: ${what}.`),

  requestTimeout: () => new ArmError(408, "RequestTimeout", "The request was not received in time."),

  headersTooLarge: () => new ArmError(431, "RequestHeaderFieldsTooLarge", "The request's header fields are too large."),

  /** a path segment longer than any name ARM or this service accepts */
  nameTooLong: (maxLength: number) =>
    new ArmError(400, "InvalidResourceName", `A name in the request path is longer than ${maxLength} characters; no resource of this provider has such a name.`),

  invalidSubscriptionId: (subscriptionId: string) =>
    new ArmError(400, "InvalidSubscriptionId", `The provided subscription identifier ${quote(subscriptionId)} is malformed or invalid.`, "subscriptionId"),

  invalidResourceGroupName: (name: string) =>
    new ArmError(
      400,
      "InvalidResourceGroupName",
      `Resource group name ${quote(name)} is invalid. It must be 1 to 90 characters of letters, digits, '_', '-', '.', '(' or ')', and must not end with '.'.`,
      "resourceGroupName",
    ),

  /** a $skipToken that does not open for this list */
  invalidSkipToken: () => new ArmError(400, "InvalidSkipToken", "The $skipToken is not valid for this list. Start again from the first page.", "$skipToken"),

  invalidRequestContent: (message: string, target?: string) => new ArmError(400, "InvalidRequestContent", message, target),

  invalidParameter: (target: string, message: string) => new ArmError(400, "InvalidParameter", message, target),

  /** a resource's own name (a path segment) outside the type's rules */
  invalidResourceName: (target: string, message: string) => new ArmError(400, "InvalidResourceName", message, target),

  /** several field errors at once: the first one is the top-level target, all are in details */
  invalidParameters: (problems: ArmErrorDetail[], omitted = 0) => {
    const first = problems[0] ?? { code: "InvalidParameter", message: "The request is invalid." };
    return new ArmError(400, first.code, first.message, first.target, problems.length + omitted > 1 ? capDetails(problems, omitted) : undefined);
  },

  locationNotAvailable: (location: string, resourceType: string) =>
    new ArmError(
      400,
      "LocationNotAvailableForResourceType",
      `The provided location ${quote(location)} is not available for resource type '${resourceType}'. List of available regions for the resource type is documented in this service's configuration (ALLOWED_LOCATIONS).`,
      "location",
    ),

  readOnlyPropertyChanged: (target: string) =>
    new ArmError(400, "PropertyChangeNotAllowed", `The property '${target}' is read-only and cannot be set to a value different from the current one.`, target),

  malformedJson: () => new ArmError(400, "InvalidRequestContent", "The request content is not valid JSON.", "body"),

  missingBody: () => new ArmError(400, "InvalidRequestContent", "The request content is missing.", "body"),

  unsupportedMediaType: (contentType: string | undefined) =>
    new ArmError(415, "UnsupportedMediaType", `The content media type ${quote(contentType ?? "")} is not supported. Only 'application/json' is supported.`, "Content-Type"),

  requestTooLarge: (limitBytes: number) =>
    new ArmError(413, "RequestEntityTooLarge", `The request content is larger than the limit of ${limitBytes} bytes.`, "body"),

  preconditionFailed: (header: "If-Match" | "If-None-Match") =>
    new ArmError(412, "PreconditionFailed", `The condition specified by the ${header} header was not met.`, header),

  conflict: (message: string, target?: string) => new ArmError(409, "Conflict", message, target),

  /** the assignment id is a stored resource id (its parts passed the name rules), quoted whole */
  managedByAssignment: (configurationName: string, assignmentId: string, what: "change" | "delete") =>
    new ArmError(
      409,
      "ManagedByConfigurationAssignment",
      `The configuration ${quote(configurationName)} is managed by the configuration assignment '${assignmentId}'; ${what === "change" ? "change it" : "remove it"} through that assignment, or set the assignment's enforcementMode to DoNotEnforce.`,
    ),

  assignmentQuota: (max: number) =>
    new ArmError(409, "QuotaExceeded", `A subscription can hold at most ${max} configuration assignments (at all scopes); delete one before creating another.`),

  operationNotFound: (operationId: string) =>
    new ArmError(404, "OperationNotFound", `The operation ${quote(operationId)} is not known: it never existed, or it finished more than a day ago.`),

  assignmentDeleting: (name: string) =>
    new ArmError(409, "AssignmentBeingDeleted", `The configuration assignment ${quote(name)} is being deleted; wait until its deletion completes before writing it again.`),

  concurrentWrite: () =>
    new ArmError(409, "ConcurrentUpdate", "The resource was changed by another request at the same time; retry the request."),

  subscriptionNotRegistered: (subscriptionId: string, namespace: string) =>
    new ArmError(409, "SubscriptionNotRegistered", `The subscription ${quote(subscriptionId)} is not registered to use namespace '${namespace}'.`),

  subscriptionReadOnly: (subscriptionId: string, state: string) =>
    new ArmError(
      409,
      "ReadOnlyDisabledSubscription",
      `The subscription ${quote(subscriptionId)} is in state '${state}' and therefore marked as read only. Only GET and DELETE requests are allowed until it is registered again.`,
    ),

  subscriptionGetOnly: (subscriptionId: string) =>
    new ArmError(409, "SubscriptionNotRegistered", `The subscription ${quote(subscriptionId)} is unregistered; only GET requests are allowed.`),

  subscriptionNotFound: (subscriptionId: string) =>
    new ArmError(404, "SubscriptionNotFound", `The subscription ${quote(subscriptionId)} could not be found.`),

  invalidSubscriptionState: (state: unknown) =>
    new ArmError(400, "InvalidSubscriptionState", `The subscription state ${quote(state)} is not one of Registered, Unregistered, Warned, Suspended, Deleted.`, "state"),

  authenticationMissing: () =>
    new ArmError(401, "AuthenticationFailed", "Authentication failed. The 'Authorization' header is missing.", undefined, undefined, {
      "www-authenticate": 'Bearer error="invalid_request", error_description="The Authorization header is missing"',
    }),

  authenticationInvalid: (reason: string) =>
    new ArmError(401, "InvalidAuthenticationToken", `The access token is invalid: ${reason}.`, undefined, undefined, {
      "www-authenticate": `Bearer error="invalid_token", error_description="${reason.replace(/"/g, "'")}"`,
    }),

  /**
   * the agent token is well formed and names a registered cluster, but its signature does not verify with that
   * cluster's agentPublicKeyCertificate: the agent holds another key. A code of its own so an agent can say so.
   */
  agentKeyMismatch: () =>
    new ArmError(
      401,
      "AgentKeyMismatch",
      "The agent token's signature does not verify with the agentPublicKeyCertificate registered for this connected cluster: the agent signs with another key. Register the agent's public key with a PUT of the connected cluster.",
      undefined,
      undefined,
      { "www-authenticate": 'Bearer error="invalid_token", error_description="the signing key is not the one registered for the cluster"' },
    ),

  wrongTenant: () =>
    new ArmError(403, "InvalidAuthenticationTokenTenant", "The access token is from the wrong issuer tenant. It must match the tenant the subscription is registered to."),

  untrustedCaller: () =>
    new ArmError(403, "AuthorizationFailed", "The caller is not a trusted identity for subscription lifecycle notifications."),

  /** stored data failed authenticated decryption: never served, never retried into success */
  dataIntegrity: () =>
    new ArmError(500, "DataIntegrityFailure", "The stored data of this resource failed integrity verification and is not served. The service's operators have been alerted."),

  /** the key-encryption key refused an operation (disabled or unknown version) */
  encryptionKeyRefused: () =>
    new ArmError(500, "EncryptionKeyUnavailable", "The key protecting this resource's data is not available. The service's operators have been alerted."),

  /**
   * AgentKeyCompromised: the cluster's registered agent key was once stored with its private half
   * (src/domain/agent-keys.ts); tokens signed with it are refused until a new key is registered
   */
  agentKeyCompromised: () =>
    new ArmError(
      401,
      "AgentKeyCompromised",
      "The cluster's registered agent key is compromised: its private half was submitted to and stored by the service, so tokens signed with it are no longer accepted. Generate a new key pair on the cluster and register its public key with a PUT of the connected cluster.",
      undefined,
      undefined,
      { "www-authenticate": 'Bearer error="invalid_token", error_description="the cluster\'s agent key is compromised; register a new key"' },
    ),

  /** a valid agent token used on another cluster's endpoints */
  agentForbidden: () => new ArmError(403, "AuthorizationFailed", "The agent token was issued for another cluster; it may not access this one."),

  internal: () => new ArmError(500, "InternalServerError", "The service encountered an internal error. Please retry the request."),

  /** the store answers reads but cannot keep a write (disk full, read-only, I/O error); nothing was written */
  storeWriteUnavailable: (retryAfterSeconds: number) =>
    new ArmError(503, "StoreWriteUnavailable", "The service's store cannot accept writes at the moment; nothing of this request was written. Reads keep working. Please retry the request later.", undefined, undefined, {
      "retry-after": String(retryAfterSeconds),
    }),

  /** Azure's rule: one Flux major version per cluster; the message says how to move from v1 to v2 */
  fluxVersionConflict: (want: "v1" | "v2", clusterName: string, existing: string) =>
    new ArmError(
      409,
      "FluxVersionConflict",
      want === "v2"
        ? `The cluster ${quote(clusterName)} carries Flux v1 sourceControlConfigurations (${quote(existing)} among them); a cluster carries Flux v1 or Flux v2 configurations, not both. Migrate each with POST .../sourceControlConfigurations/{name}/migrateToFluxV2?api-version=2026-12-01-preview (one action: the cluster switches in a single poll), or delete them first.`
        : `The cluster ${quote(clusterName)} carries Flux v2 fluxConfigurations (${quote(existing)} among them); a cluster carries Flux v1 or Flux v2 configurations, not both, and Flux v1 is retired: create a fluxConfiguration instead.`,
    ),

  unavailable: (retryAfterSeconds: number) =>
    new ArmError(503, "ServiceUnavailable", "The service is temporarily unavailable. Please retry the request.", undefined, undefined, {
      "retry-after": String(retryAfterSeconds),
    }),

  /** staged rollouts (issue #15): halt, resume and rollback on a rollout in the wrong state */
  rolloutNotInProgress: (name: string) =>
    new ArmError(409, "RolloutNotInProgress", `The rollout of the configuration assignment ${quote(name)} is not running (it completed, or it is halted already): there is nothing to halt.`),

  rolloutNotHalted: (name: string) =>
    new ArmError(409, "RolloutNotHalted", `The rollout of the configuration assignment ${quote(name)} is not halted: there is nothing to resume.`),

  noPreviousGeneration: (name: string, why: string) =>
    new ArmError(409, "NoPreviousGeneration", `The configuration assignment ${quote(name)} cannot be rolled back: ${why}`),

  /** the Location of a resume or rollback whose rollout halted again (a gate failed, or a user halted it) */
  rolloutHalted: (name: string, message: string) =>
    new ArmError(409, "RolloutHalted", `The rollout of the configuration assignment ${quote(name)} is halted: ${message}`),
  /** a Key Vault reference to a vault the subscription may not use (src/domain/keyvault-trust.ts) */
  keyVaultReferenceNotAllowed: (target: string, message: string) => new ArmError(403, "KeyVaultReferenceNotAllowed", message, clip(target)),
} as const;
