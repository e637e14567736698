/**
 * The one catalogue of errors the ARM and agent surfaces answer with.
 * Every error leaves the service in ARM's shape: {"error":{"code","message","target","details"}}.
 * Messages never contain request values that could be secrets; targets name fields, not values.
 */

export interface ArmErrorDetail {
  code: string;
  message: string;
  target?: string;
  details?: ArmErrorDetail[];
}

export class ArmError extends Error {
  constructor(
    public readonly statusCode: number,
    public readonly code: string,
    message: string,
    public readonly target?: string,
    public readonly details?: ArmErrorDetail[],
    public readonly headers: Record<string, string> = {},
  ) {
    super(message);
    this.name = "ArmError";
  }

  toBody(): { error: ArmErrorDetail } {
    const error: ArmErrorDetail = { code: this.code, message: this.message };
    if (this.target !== undefined) error.target = this.target;
    if (this.details !== undefined && this.details.length > 0) error.details = this.details;
    return { error };
  }
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
      `No registered resource provider found for location 'global' and API version '${apiVersion}' for type '${resourceType}'. The supported api-versions are '${supported.join(", ")}'.`,
      "api-version",
    ),

  /** ARM's answer for an api-version that is malformed or not served by an ARM-owned endpoint */
  invalidApiVersion: (apiVersion: string, supported: readonly string[]) =>
    new ArmError(400, "InvalidApiVersionParameter", `The api-version '${apiVersion}' is invalid. The supported versions are '${supported.join(",")}'.`, "api-version"),

  lifecycleApiVersion: (apiVersion: string) =>
    new ArmError(400, "InvalidApiVersionParameter", `The api-version '${apiVersion}' is invalid. The supported versions are '${LIFECYCLE_API_VERSION}'.`, "api-version"),

  resourceNotFound: (resourceType: string, name: string, resourceGroup: string) =>
    new ArmError(404, "ResourceNotFound", `The Resource '${resourceType}/${name}' under resource group '${resourceGroup}' was not found. For more details please go to https://aka.ms/ARMResourceNotFoundFix`),

  parentResourceNotFound: (parentType: string, parentName: string, resourceGroup: string) =>
    new ArmError(404, "ResourceNotFound", `The Resource '${parentType}/${parentName}' under resource group '${resourceGroup}' was not found. For more details please go to https://aka.ms/ARMResourceNotFoundFix`),

  unsupportedParentType: (clusterRp: string, clusterResourceName: string) =>
    new ArmError(
      400,
      "InvalidResourceType",
      `Source control configurations are served here only for 'Microsoft.Kubernetes/connectedClusters'; '${clusterRp}/${clusterResourceName}' is not supported by this endpoint.`,
      "clusterResourceName",
    ),

  notFoundRoute: (method: string, path: string) =>
    new ArmError(404, "NotFound", `No route matches '${method} ${path}'.`),

  methodNotAllowed: (method: string) => new ArmError(405, "MethodNotAllowed", `The HTTP method '${method}' is not supported for this resource.`),

  invalidRequestContent: (message: string, target?: string) => new ArmError(400, "InvalidRequestContent", message, target),

  invalidParameter: (target: string, message: string) => new ArmError(400, "InvalidParameter", message, target),

  /** several field errors at once: the first one is the top-level target, all are in details */
  invalidParameters: (problems: ArmErrorDetail[]) => {
    const first = problems[0] ?? { code: "InvalidParameter", message: "The request is invalid." };
    return new ArmError(400, first.code, first.message, first.target, problems.length > 1 ? problems : undefined);
  },

  readOnlyPropertyChanged: (target: string) =>
    new ArmError(400, "PropertyChangeNotAllowed", `The property '${target}' is read-only and cannot be set to a value different from the current one.`, target),

  malformedJson: () => new ArmError(400, "InvalidRequestContent", "The request content is not valid JSON.", "body"),

  missingBody: () => new ArmError(400, "InvalidRequestContent", "The request content is missing.", "body"),

  unsupportedMediaType: (contentType: string | undefined) =>
    new ArmError(415, "UnsupportedMediaType", `The content media type '${contentType ?? ""}' is not supported. Only 'application/json' is supported.`, "Content-Type"),

  requestTooLarge: (limitBytes: number) =>
    new ArmError(413, "RequestEntityTooLarge", `The request content is larger than the limit of ${limitBytes} bytes.`, "body"),

  preconditionFailed: (header: "If-Match" | "If-None-Match") =>
    new ArmError(412, "PreconditionFailed", `The condition specified by the ${header} header was not met.`, header),

  conflict: (message: string, target?: string) => new ArmError(409, "Conflict", message, target),

  managedByAssignment: (configurationName: string, assignmentId: string, what: "change" | "delete") =>
    new ArmError(
      409,
      "ManagedByConfigurationAssignment",
      `The configuration '${configurationName}' is managed by the configuration assignment '${assignmentId}'; ${what === "change" ? "change it" : "remove it"} through that assignment, or set the assignment's enforcementMode to DoNotEnforce.`,
    ),

  assignmentQuota: (max: number) =>
    new ArmError(409, "QuotaExceeded", `A subscription can hold at most ${max} configuration assignments (at all scopes); delete one before creating another.`),

  operationNotFound: (operationId: string) =>
    new ArmError(404, "OperationNotFound", `The operation '${operationId.slice(0, 80)}' is not known: it never existed, or it finished more than a day ago.`),

  assignmentDeleting: (name: string) =>
    new ArmError(409, "AssignmentBeingDeleted", `The configuration assignment '${name}' is being deleted; wait until its deletion completes before writing it again.`),

  concurrentWrite: () =>
    new ArmError(409, "ConcurrentUpdate", "The resource was changed by another request at the same time; retry the request."),

  subscriptionNotRegistered: (subscriptionId: string, namespace: string) =>
    new ArmError(409, "SubscriptionNotRegistered", `The subscription '${subscriptionId}' is not registered to use namespace '${namespace}'.`),

  subscriptionReadOnly: (subscriptionId: string, state: string) =>
    new ArmError(
      409,
      "ReadOnlyDisabledSubscription",
      `The subscription '${subscriptionId}' is in state '${state}' and therefore marked as read only. Only GET and DELETE requests are allowed until it is registered again.`,
    ),

  subscriptionGetOnly: (subscriptionId: string) =>
    new ArmError(409, "SubscriptionNotRegistered", `The subscription '${subscriptionId}' is unregistered; only GET requests are allowed.`),

  subscriptionNotFound: (subscriptionId: string) =>
    new ArmError(404, "SubscriptionNotFound", `The subscription '${subscriptionId}' could not be found.`),

  invalidSubscriptionState: (state: unknown) =>
    new ArmError(400, "InvalidSubscriptionState", `The subscription state '${String(state)}' is not one of Registered, Unregistered, Warned, Suspended, Deleted.`, "state"),

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

  /** a valid agent token used on another cluster's endpoints */
  agentForbidden: () => new ArmError(403, "AuthorizationFailed", "The agent token was issued for another cluster; it may not access this one."),

  internal: () => new ArmError(500, "InternalServerError", "The service encountered an internal error. Please retry the request."),

  unavailable: (retryAfterSeconds: number) =>
    new ArmError(503, "ServiceUnavailable", "The service is temporarily unavailable. Please retry the request.", undefined, undefined, {
      "retry-after": String(retryAfterSeconds),
    }),
} as const;
