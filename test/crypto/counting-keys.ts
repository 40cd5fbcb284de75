/** A real LocalDataKeyProvider that counts its calls and can be held or failed on demand, to observe the cipher's caching. */
import { randomBytes } from 'node:crypto';
import { AdjustableClock } from '../../shared/clock';
import { type DataKey, type DataKeyProvider, type EncryptionContext, LocalDataKeyProvider } from '../../shared/crypto/data-keys';

export class CountingKeys implements DataKeyProvider {
  readonly inner: LocalDataKeyProvider;
  generateCalls = 0;
  decryptCalls = 0;
  /** Errors thrown by the next calls, in order. */
  readonly failNextGenerate: Error[] = [];
  readonly failNextDecrypt: Error[] = [];
  #gate: Promise<void> | undefined;
  #open: (() => void) | undefined;

  constructor(masterKey: Uint8Array = randomBytes(32)) {
    this.inner = new LocalDataKeyProvider(masterKey);
  }

  /** Until `release()`, calls wait: lets a test start many callers while one KMS call is in flight. */
  hold(): void {
    this.#gate = new Promise((resolve) => {
      this.#open = resolve;
    });
  }

  release(): void {
    this.#open?.();
    this.#gate = undefined;
  }

  /** The contexts the cipher passed, in call order. */
  readonly contexts: EncryptionContext[] = [];

  async generateDataKey(context: EncryptionContext): Promise<DataKey> {
    this.contexts.push(context);
    this.generateCalls += 1;
    await this.#gate;
    const failure = this.failNextGenerate.shift();
    if (failure) throw failure;
    return this.inner.generateDataKey(context);
  }

  async decryptDataKey(encrypted: Uint8Array, context: EncryptionContext): Promise<Uint8Array> {
    this.contexts.push(context);
    this.decryptCalls += 1;
    await this.#gate;
    const failure = this.failNextDecrypt.shift();
    if (failure) throw failure;
    return this.inner.decryptDataKey(encrypted, context);
  }
}

/** A clock frozen at a fixed instant that only moves when told. */
export const frozenClock = (): AdjustableClock => {
  const start = Date.UTC(2026, 0, 1);
  return new AdjustableClock({ now: () => start });
};
