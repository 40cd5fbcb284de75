/** The sandbox mock bank's users, as TrueLayer's docs ("mock users") list them, with the errors the `error.*` ones cause. */

import type { SimError } from './errors';
import { tlError } from './errors';

export const mockErrorCodes = [
  'account_permanently_locked',
  'account_temporarily_locked',
  'internal_error',
  'provider_error',
  'user_input_required',
  'wrong_credentials',
] as const;

export type MockErrorCode = (typeof mockErrorCodes)[number];

export interface MockUser {
  username: string;
  /** `john`/`eternal`: extend answers `no_action_needed`. */
  eternal: boolean;
  /** `error.*` users: sign-in works, every Data call then fails with this code. */
  errorCode?: MockErrorCode;
  /** `john`/`busy`: a current account with 50,000 transactions over two years. */
  busy?: boolean;
}

/**
 * HTTP statuses for the error users. UNCONFIRMED: TrueLayer's errors table does not list these codes,
 * so the statuses are our choice (locked and input-needed accounts refuse access, 403; TrueLayer's
 * own failure 500; the bank's failure 503 like `provider_error` elsewhere; bad bank credentials 401).
 */
const mockErrors: Record<MockErrorCode, { status: number; description: string }> = {
  account_permanently_locked: {
    status: 403,
    description: 'The account is permanently locked at the provider. The user must contact their bank.',
  },
  account_temporarily_locked: { status: 403, description: 'The account is temporarily locked at the provider. Try again later.' },
  internal_error: { status: 500, description: 'Internal server error.' },
  provider_error: { status: 503, description: 'The provider service is unavailable.' },
  user_input_required: { status: 403, description: 'The provider needs the user to take an action before data can be shared.' },
  wrong_credentials: { status: 401, description: 'The credentials stored for this connection were rejected by the provider.' },
};

export const mockErrorFor = (code: MockErrorCode): SimError => {
  const known = mockErrors[code];
  return tlError(known.status, code, known.description);
};

/** The mock user for a username and password, or undefined when the bank would refuse the sign-in. */
export const authenticateMockUser = (username: string, password: string): MockUser | undefined => {
  if (username === 'john' && password === 'doe') return { username, eternal: false };
  if (username === 'john' && password === 'eternal') return { username, eternal: true };
  if (username === 'john' && password === 'busy') return { username, eternal: false, busy: true };
  const numbered = /^john([1-9][0-9]?|100)$/.exec(username);
  if (numbered !== null && password === `doe${numbered[1]}`) return { username, eternal: false };
  if (username.startsWith('error.') && password === 'error') {
    const code = username.slice('error.'.length);
    if ((mockErrorCodes as readonly string[]).includes(code)) return { username, eternal: false, errorCode: code as MockErrorCode };
  }
  return undefined;
};
