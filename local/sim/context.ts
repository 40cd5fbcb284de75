/** What every simulator handler shares. */
import type { MockBankDirectory } from './bank-data';
import type { SimStore } from './store';
import type { TokenSigner } from './tokens';

export type CodeErrorCode = 'invalid_grant' | 'invalid_authorization_code';

export interface SimContext {
  store: SimStore;
  signer: TokenSigner;
  banks: MockBankDirectory;
  rotateRefreshTokens: boolean;
  /** The `error` for an unknown, reused or lapsed code: TrueLayer's docs say invalid_authorization_code, OAuth says invalid_grant. */
  codeErrorCode: CodeErrorCode;
  /** The simulator's own URL, e.g. http://127.0.0.1:3100. */
  baseUrl(): string;
}
