/** Everything the simulated auth server remembers: clients, dialog sessions, codes, connections, tokens. */
import type { Clock } from '../../shared/clock';
import type { MockErrorCode, MockUser } from './mock-users';
import { randomCredentialsId, randomHex, uuid } from './random';
import type { Scope } from './scopes';
import { newSessionId } from './tokens';
import type { SimClient } from './types';

const minute = 60_000;
const day = 24 * 60 * minute;

/** Lifetimes from TrueLayer's docs (codes 5 min, access tokens 1 h, consent 90 days, 4 unattended calls a day), on the injected clock. */
export const lifetimes = {
  codeMs: 5 * minute,
  refreshIdleMs: 30 * day,
  consentMs: 90 * day,
  /** How long a dialog page (or an extend link) stays usable; TrueLayer does not say, one hour is ours. */
  dialogSessionMs: 60 * minute,
  unattendedWindowMs: day,
} as const;

export const unattendedLimit = 4;

export type ResponseMode = 'query' | 'form_post';

export interface DialogSession {
  id: string;
  clientId: string;
  redirectUri: string;
  scopes: Scope[];
  state: string | undefined;
  responseMode: ResponseMode;
  createdAt: number;
  /** Set when the session re-authenticates an existing connection (extend → authentication_needed). */
  renewalOf?: string;
  /** The bank user who must sign in again for a renewal. */
  expectedUsername?: string;
  /** PKCE (RFC 7636): the S256 challenge the auth link carried; its code then needs the verifier. */
  codeChallenge?: string;
}

export interface AuthCode {
  clientId: string;
  redirectUri: string;
  user: MockUser;
  scopes: Scope[];
  issuedAt: number;
  used: boolean;
  renewalOf?: string;
  codeChallenge?: string;
}

export interface Credential {
  credentialsId: string;
  clientId: string;
  username: string;
  eternal: boolean;
  errorCode?: MockErrorCode;
  busy?: boolean;
  scopes: Scope[];
  consentId: string;
  consentCreatedAt: number;
  consentExpiresAt: number;
  authTime: number;
  sessionId: string;
  credentialsKey: string;
  revokedAt?: number;
  /** Only the newest access token of a connection is accepted, as TrueLayer warns: a refresh makes older ones stale. */
  accessJti?: string;
}

export interface RefreshRecord {
  credentialsId: string;
  clientId: string;
  lastUsedAt: number;
}

export class SimStore {
  readonly clients = new Map<string, SimClient>();
  private readonly sessions = new Map<string, DialogSession>();
  private readonly codes = new Map<string, AuthCode>();
  readonly credentials = new Map<string, Credential>();
  private readonly refreshTokens = new Map<string, RefreshRecord>();
  /** Unattended (no X-PSU-IP) calls per connection, endpoint and account: their times. */
  private readonly unattendedCalls = new Map<string, number[]>();

  constructor(
    private readonly clock: Clock,
    clients: SimClient[],
  ) {
    for (const client of clients) this.clients.set(client.client_id, { ...client, redirect_uris: [...client.redirect_uris] });
  }

  now(): number {
    return this.clock.now();
  }

  addRedirectUris(clientId: string, uris: string[]): void {
    const client = this.clients.get(clientId);
    if (client === undefined) throw new Error(`unknown simulator client ${clientId}`);
    for (const uri of uris) if (!client.redirect_uris.includes(uri)) client.redirect_uris.push(uri);
  }

  /** True when the client exists and the secret matches. */
  authenticateClient(clientId: string, clientSecret: string): SimClient | undefined {
    const client = this.clients.get(clientId);
    return client !== undefined && client.client_secret === clientSecret ? client : undefined;
  }

  // ---- dialog sessions --------------------------------------------------------------------

  createSession(session: Omit<DialogSession, 'id' | 'createdAt'>): DialogSession {
    this.purgeExpired();
    const created: DialogSession = { ...session, id: newSessionId(), createdAt: this.now() };
    this.sessions.set(created.id, created);
    return created;
  }

  session(id: string): DialogSession | undefined {
    const session = this.sessions.get(id);
    if (session === undefined) return undefined;
    if (this.now() - session.createdAt > lifetimes.dialogSessionMs) {
      this.sessions.delete(id);
      return undefined;
    }
    return session;
  }

  endSession(id: string): void {
    this.sessions.delete(id);
  }

  // ---- authorization codes ----------------------------------------------------------------

  issueCode(code: Omit<AuthCode, 'issuedAt' | 'used'>): string {
    const value = randomHex(32);
    this.codes.set(value, { ...code, issuedAt: this.now(), used: false });
    return value;
  }

  code(value: string): AuthCode | undefined {
    return this.codes.get(value);
  }

  isCodeExpired(code: AuthCode): boolean {
    return this.now() - code.issuedAt > lifetimes.codeMs;
  }

  // ---- connections ------------------------------------------------------------------------

  createCredential(code: AuthCode): Credential {
    const now = this.now();
    const credential: Credential = {
      credentialsId: randomCredentialsId(),
      clientId: code.clientId,
      username: code.user.username,
      eternal: code.user.eternal,
      ...(code.user.errorCode === undefined ? {} : { errorCode: code.user.errorCode }),
      ...(code.user.busy ? { busy: true } : {}),
      scopes: code.scopes,
      consentId: uuid(),
      consentCreatedAt: now,
      consentExpiresAt: now + lifetimes.consentMs,
      authTime: now,
      sessionId: newSessionId(),
      credentialsKey: randomHex(32).toLowerCase(),
    };
    this.credentials.set(credential.credentialsId, credential);
    return credential;
  }

  /** A new 90-day consent on the same connection (extend, or re-authentication after extend). */
  renewConsent(credential: Credential): void {
    const now = this.now();
    credential.consentId = uuid();
    credential.consentCreatedAt = now;
    credential.consentExpiresAt = now + lifetimes.consentMs;
  }

  isConsentOver(credential: Credential): boolean {
    return this.now() >= credential.consentExpiresAt;
  }

  // ---- refresh tokens ---------------------------------------------------------------------

  issueRefreshToken(credential: Credential): string {
    const token = randomHex(32);
    this.refreshTokens.set(token, { credentialsId: credential.credentialsId, clientId: credential.clientId, lastUsedAt: this.now() });
    return token;
  }

  refreshRecord(token: string): RefreshRecord | undefined {
    return this.refreshTokens.get(token);
  }

  retireRefreshToken(token: string): void {
    this.refreshTokens.delete(token);
  }

  /** Retires every refresh token of a connection (a new authorization replaces them). */
  retireRefreshTokensOf(credentialsId: string): void {
    for (const [token, record] of this.refreshTokens) if (record.credentialsId === credentialsId) this.refreshTokens.delete(token);
  }

  isRefreshIdle(record: RefreshRecord): boolean {
    return this.now() - record.lastUsedAt > lifetimes.refreshIdleMs;
  }

  // ---- unattended limit -------------------------------------------------------------------

  /** Records an unattended call; false when it is over the 4-a-day limit (the call is then not counted). */
  takeUnattendedCall(key: string): boolean {
    const now = this.now();
    const recent = (this.unattendedCalls.get(key) ?? []).filter((at) => now - at < lifetimes.unattendedWindowMs);
    if (recent.length >= unattendedLimit) {
      this.unattendedCalls.set(key, recent);
      return false;
    }
    recent.push(now);
    this.unattendedCalls.set(key, recent);
    return true;
  }

  clearUnattendedCalls(): void {
    this.unattendedCalls.clear();
  }

  private purgeExpired(): void {
    const now = this.now();
    for (const [id, session] of this.sessions) if (now - session.createdAt > lifetimes.dialogSessionMs) this.sessions.delete(id);
    for (const [value, code] of this.codes) if (now - code.issuedAt > lifetimes.codeMs * 12) this.codes.delete(value);
  }
}
