/**
 * The key provider port: wraps and unwraps data-encryption keys (DEKs) with a key-encryption key
 * (KEK) that never leaves the provider. Adapters: Azure Key Vault (production), a local key file
 * (the embedded default).
 */
import type { CircuitBreaker } from "./circuit-breaker.js";

export interface KekRef {
  /** the key's name (Key Vault key name, or the local file's key name) */
  name: string;
  version: string;
}

export interface WrappedKey {
  kek: KekRef;
  wrapped: Buffer;
}

export interface KeyProvider {
  readonly kind: "local" | "keyvault";
  /** the KEK version new DEKs are wrapped under; picks up a new version without restart */
  current(): Promise<KekRef>;
  /** wraps under the current version */
  wrap(dek: Buffer): Promise<WrappedKey>;
  unwrap(key: WrappedKey): Promise<Buffer>;
  /** a remote provider's circuit breaker, watched by the app for its metric and state lines */
  readonly breaker?: CircuitBreaker;
}

/** the provider cannot be reached or throttles: the request is answered 503 with Retry-After */
export class KeyUnavailableError extends Error {
  constructor(message: string, public readonly retryAfterSeconds = 5, options?: { cause?: unknown }) {
    super(message, options);
    this.name = "KeyUnavailableError";
  }
}

/** the provider answered, and refused: unknown or disabled version, bad wrapped bytes */
export class KeyRefusedError extends Error {
  constructor(message: string, options?: { cause?: unknown }) {
    super(message, options);
    this.name = "KeyRefusedError";
  }
}
