/** Who is calling, as proven by a verified bearer token. */
export interface Principal {
  tenantId: string;
  objectId: string;
  appId?: string;
  /** user principal name or display name, for systemData */
  name: string;
  kind: "User" | "Application";
}

export interface Authenticator {
  readonly mode: "dev" | "production";
  /** verifies the Authorization header; throws an ArmError 401 when it is missing or invalid */
  authenticate(authorization: string | undefined): Promise<Principal>;
  /** whether this caller may send subscription lifecycle notifications */
  isTrustedCaller(principal: Principal): boolean;
}
