/**
 * One connection per owner and set of accounts: TrueLayer bills each connection, and a user who
 * reconnects instead of extending would pay twice. Accounts are compared through a keyed hash of
 * sort code + account number or IBAN; the numbers themselves are never stored.
 */
import { createHmac } from 'node:crypto';
import { type ConnectionRecord, effectiveStatus } from '../connections/connection';
import type { PageKey } from '../connections/repository';
import type { ConnectionServices } from '../connections/services';
import { parseDataPath } from '../truelayer/data-paths';

const accountsPath = parseDataPath('accounts');

interface AccountNumber {
  iban?: unknown;
  number?: unknown;
  sort_code?: unknown;
}

/** Keyed hashes of every account identifier in a `/accounts` body. */
export const accountHashes = (body: unknown, key: string): string[] => {
  const results = (body as { results?: unknown })?.results;
  if (!Array.isArray(results)) return [];
  const hash = (value: string) => createHmac('sha256', key).update(value).digest('base64url');
  const hashes = new Set<string>();
  for (const account of results) {
    const number = (account as { account_number?: AccountNumber })?.account_number;
    if (!number) continue;
    if (typeof number.iban === 'string' && number.iban.trim()) hashes.add(hash(`iban:${number.iban.replace(/\s+/g, '').toUpperCase()}`));
    if (typeof number.sort_code === 'string' && typeof number.number === 'string') {
      hashes.add(hash(`scan:${number.sort_code.replace(/\D/g, '')}:${number.number.replace(/\D/g, '')}`));
    }
  }
  return [...hashes];
};

const hashesOf = async (services: ConnectionServices, record: ConnectionRecord, key: string): Promise<string[]> => {
  if (record.accountHashes) return record.accountHashes;
  if (!accountsPath) return [];
  const { accessToken } = await services.vault.freshAccessToken(record);
  const response = await services.data.get(accountsPath, { accessToken });
  const hashes = accountHashes(response.body, key);
  await services.repository.setAccountHashes(record.connectionId, hashes);
  return hashes;
};

/**
 * Called when `record` becomes active: every other active connection of the same owner to the same
 * provider whose accounts overlap it is revoked at TrueLayer and ends `superseded`, with
 * `connection.superseded` naming `record`. Best effort: a failure is logged, never the activation's.
 * Returns the ids superseded.
 */
export const supersedeDuplicates = async (services: ConnectionServices, record: ConnectionRecord): Promise<string[]> => {
  const providerId = record.provider?.providerId;
  if (!providerId || record.status !== 'active') return [];
  const superseded: string[] = [];
  try {
    const key = await services.accountHashKey?.();
    if (!key) return [];
    const now = services.clock.now();
    // The owner index projects no tokens: pick the candidates from it, then read each item itself.
    const rows: ConnectionRecord[] = [];
    let start: PageKey | undefined;
    do {
      const page = await services.repository.listByOwner(record.owner, { limit: 100, start });
      rows.push(...page.records);
      start = page.next;
    } while (start);
    const candidates = rows.filter(
      (other) =>
        other.connectionId !== record.connectionId &&
        other.provider?.providerId === providerId &&
        effectiveStatus(other, now).status === 'active',
    );
    const siblings: ConnectionRecord[] = [];
    for (const candidate of candidates) {
      const full = await services.repository.get(candidate.connectionId);
      if (full?.tokens && effectiveStatus(full, now).status === 'active') siblings.push(full);
    }
    // Only a possible duplicate is worth reading /accounts for (each read counts at the bank).
    if (siblings.length === 0) return [];
    const mine = new Set(await hashesOf(services, record, key));
    for (const other of siblings) {
      try {
        const theirs = await hashesOf(services, other, key);
        if (!theirs.some((hash) => mine.has(hash))) continue;
        const { accessToken, record: fresh } = await services.vault.freshAccessToken(other);
        await services.auth.revoke(accessToken).catch((error: unknown) => {
          services.log.warn('revoking a superseded connection at TrueLayer failed', {
            connection_id: other.connectionId,
            error: String(error),
          });
        });
        const applied = await services.repository.transition(fresh, 'superseded', {
          now: services.clock.now(),
          supersededBy: record.connectionId,
          newEventId: services.newId,
        });
        if (!applied) continue;
        superseded.push(other.connectionId);
        services.log.info('connection superseded', { connection_id: other.connectionId, superseded_by: record.connectionId });
        await services.outbox.flushQuietly(applied.record);
      } catch (error) {
        services.log.warn('could not compare or supersede a possible duplicate', {
          connection_id: other.connectionId,
          error: String(error),
        });
      }
    }
  } catch (error) {
    services.log.warn('duplicate check failed', { connection_id: record.connectionId, error: String(error) });
  }
  return superseded;
};
