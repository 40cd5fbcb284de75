/**
 * The generated secrets work the way the code reads them: the webhook signing secret is what
 * shared/lifecycle/publishers.ts hands to `new Webhook(...)` as stored, and what a receiver's
 * Standard Webhooks library accepts, with or without `whsec_`.
 */
import { randomInt } from 'node:crypto';
import { Webhook } from 'standardwebhooks';
import { describe, expect, it } from 'vitest';
import { webhookSecretGeneration } from '../../infra/constructs/keys-and-secrets';
import { accountHashes } from '../../shared/lifecycle/duplicates';

/** What Secrets Manager's generator gives with these settings: letters and digits only. */
const alphanumeric = 'ABCDEFGHIJKLMNOPQRSTUVWXYZabcdefghijklmnopqrstuvwxyz0123456789';
const generated = (length: number): string => Array.from({ length }, () => alphanumeric[randomInt(alphanumeric.length)]).join('');

describe('webhook signing secret', () => {
  // The Node library decodes loosely; receivers in other languages (Python's b64decode) need whole base64.
  it('is generated from letters and digits only, in a length that is whole base64', () => {
    expect(webhookSecretGeneration.excludePunctuation).toBe(true);
    expect(webhookSecretGeneration.includeSpace).toBe(false);
    expect(webhookSecretGeneration.passwordLength % 4).toBe(0);
  });

  it.each(Array.from({ length: 5 }, (_, i) => i))(
    'signs with a generated value as stored, and a receiver verifies it with or without whsec_ (%i)',
    () => {
      const secret = generated(webhookSecretGeneration.passwordLength);
      const signer = new Webhook(secret);
      const id = 'evt_1';
      const at = new Date();
      const payload = JSON.stringify({ type: 'connection.expired' });
      const headers = {
        'webhook-id': id,
        'webhook-timestamp': String(Math.floor(at.getTime() / 1000)),
        'webhook-signature': signer.sign(id, at, payload),
      };
      expect(new Webhook(secret).verify(payload, headers)).toEqual({ type: 'connection.expired' });
      expect(new Webhook(`whsec_${secret}`).verify(payload, headers)).toEqual({ type: 'connection.expired' });
      // A key of at least 32 bytes (the decoded length).
      expect(Buffer.from(secret, 'base64').length).toBeGreaterThanOrEqual(32);
    },
  );
});

describe('account-hash key', () => {
  it('keys the account hashes as a plain string: a generated value hashes the same account the same way, and another key differently', () => {
    const key = generated(64);
    const body = { results: [{ account_number: { sort_code: '04-00-04', number: '12345678' } }] };
    expect(accountHashes(body, key)).toEqual(accountHashes(body, key));
    expect(accountHashes(body, key)).toHaveLength(1);
    expect(accountHashes(body, generated(64))).not.toEqual(accountHashes(body, key));
  });
});
