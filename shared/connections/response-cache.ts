/**
 * The last good answer per connection, path and query, kept encrypted like the tokens (AAD bound to
 * the connection and its owner) for up to 7 days, so an unattended caller past its budget still gets
 * data instead of the bank's 429. The body is gzipped before encryption to fit DynamoDB's 400 KB item.
 */
import { gunzipSync, gzipSync } from 'node:zlib';
import type { Clock } from '../clock';
import type { TokenCipher } from '../crypto/token-cipher';
import { keyHash, type ReadPaceStore } from './read-pace-store';

export const cacheLifetimeMs = 7 * 24 * 60 * 60 * 1000;
// DynamoDB's item limit is 400 KB; stay well under it with the key and attributes.
const maxBlobChars = 380_000;
/** A user-present answer refreshes the copy at most this often per container: the copy is a fallback, not a mirror. */
export const attendedRefreshMs = 60 * 60 * 1000;
const rememberedWrites = 1_000;

export interface CachedResponse {
  bodyText: string;
  /** The ETag answered with the body, so a revalidation against the copy still matches. */
  etag: string;
  fetchedAt: number;
}

export interface CacheOwner {
  connectionId: string;
  owner: string;
}

export class ResponseCache {
  /** When this container last stored each key, so user-present reads do not pay a write each. */
  private readonly written = new Map<string, number>();

  constructor(
    private readonly options: {
      store: ReadPaceStore;
      cipher: Pick<TokenCipher, 'encrypt' | 'decrypt'>;
      clock: Clock;
      warn?: (message: string, fields?: Record<string, unknown>) => void;
    },
  ) {}

  /** The cache key of a request: its path and its query, already in one canonical text. */
  static requestHash(path: string, canonicalQuery: string): string {
    return keyHash(`${path}?${canonicalQuery}`);
  }

  async get(owner: CacheOwner, requestHash: string): Promise<CachedResponse | undefined> {
    const item = await this.options.store.getCached(owner.connectionId, requestHash);
    // TTL deletes late: an item past its week is treated as gone.
    if (!item || this.options.clock.now() - item.fetchedAt > cacheLifetimeMs) return undefined;
    try {
      const plain = JSON.parse(await this.options.cipher.decrypt(item.blob, owner)) as { t: string; b: string };
      const bodyText = gunzipSync(Buffer.from(plain.b, 'base64')).toString('utf8');
      return { bodyText, etag: plain.t, fetchedAt: item.fetchedAt };
    } catch (error) {
      // Unreadable (another owner's row, a rotated key): as if there were no copy.
      this.options.warn?.('cached response unreadable', { error: (error as Error).name });
      return undefined;
    }
  }

  /**
   * Best effort: a failure to cache never fails the answer it would have cached. An unattended
   * answer is always kept (there are at most a few a day); a user-present one only when this
   * container has not stored that key within the hour.
   */
  async put(owner: CacheOwner, requestHash: string, response: CachedResponse, options: { attended?: boolean } = {}): Promise<void> {
    const key = `${owner.connectionId}#${requestHash}`;
    const last = this.written.get(key);
    if (options.attended && last !== undefined && response.fetchedAt - last < attendedRefreshMs) return;
    this.written.delete(key);
    this.written.set(key, response.fetchedAt);
    if (this.written.size > rememberedWrites) this.written.delete(this.written.keys().next().value as string);
    try {
      const packed = gzipSync(Buffer.from(response.bodyText, 'utf8'), { level: 6 }).toString('base64');
      const blob = await this.options.cipher.encrypt(JSON.stringify({ t: response.etag, b: packed }), owner);
      if (blob.length > maxBlobChars) {
        this.options.warn?.('response too large to cache', { bytes: blob.length });
        return;
      }
      await this.options.store.putCached(
        owner.connectionId,
        requestHash,
        { blob, fetchedAt: response.fetchedAt },
        response.fetchedAt + cacheLifetimeMs,
      );
    } catch (error) {
      this.options.warn?.('could not cache response', { error: (error as Error).name });
    }
  }
}
