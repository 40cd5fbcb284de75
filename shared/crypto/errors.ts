/** Errors of the token vault's cipher: one base class, each carrying its cause, none carrying key or blob bytes. */

export class TokenCipherError extends Error {
  override name = 'TokenCipherError';

  constructor(message: string, options?: { cause?: unknown }) {
    super(message, options);
  }
}

/**
 * Why a blob could not be opened. `data_key_unavailable` is the one a caller may retry (KMS was
 * unreachable, throttled or refused access); the others mean the stored blob will never decrypt as it is.
 */
export type TokenDecryptionReason =
  | 'malformed_blob'
  | 'unsupported_version'
  | 'data_key_rejected'
  | 'data_key_unavailable'
  | 'authentication_failed';

export class TokenDecryptionError extends TokenCipherError {
  override name = 'TokenDecryptionError';
  readonly reason: TokenDecryptionReason;

  constructor(reason: TokenDecryptionReason, message: string, options?: { cause?: unknown }) {
    super(message, options);
    this.reason = reason;
  }
}

export class TokenEncryptionError extends TokenCipherError {
  override name = 'TokenEncryptionError';
}

/**
 * A data key provider could not produce or unwrap a data key. `rejected` means the wrapped key itself
 * was refused (tampered, or wrapped under another key): retrying will not help.
 */
export class DataKeyError extends TokenCipherError {
  override name = 'DataKeyError';
  readonly rejected: boolean;

  constructor(message: string, options?: { cause?: unknown; rejected?: boolean }) {
    super(message, options);
    this.rejected = options?.rejected ?? false;
  }
}
