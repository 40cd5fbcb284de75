/** PKCE (RFC 7636, S256) at the simulator: a code whose link carried a challenge redeems only with its verifier. */
import { createHash, randomBytes } from 'node:crypto';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import type { RunningSimulator } from '../../local/sim/types';
import { authLink, codeFrom, exchangeCode, signIn, startHarness } from './helpers';

let sim: RunningSimulator;

beforeAll(async () => {
  ({ sim } = await startHarness());
});
afterAll(async () => sim.close());

const pkcePair = () => {
  const verifier = randomBytes(32).toString('base64url');
  return { verifier, challenge: createHash('sha256').update(verifier).digest('base64url') };
};

const codeWithChallenge = async (challenge: string, method = 'S256'): Promise<string> =>
  codeFrom(await signIn(sim, authLink(sim, { code_challenge: challenge, code_challenge_method: method })));

describe('PKCE on the code exchange', () => {
  it('redeems a code with the verifier of its challenge', async () => {
    const { verifier, challenge } = pkcePair();
    const exchanged = await exchangeCode(sim, await codeWithChallenge(challenge), { code_verifier: verifier });
    expect(exchanged.status).toBe(200);
    expect(exchanged.body.access_token).toEqual(expect.any(String));
  });

  it('refuses the code without a verifier (400 invalid_grant), and the code stays usable by its holder', async () => {
    const { verifier, challenge } = pkcePair();
    const code = await codeWithChallenge(challenge);
    const refused = await exchangeCode(sim, code);
    expect(refused.status).toBe(400);
    expect(refused.body.error).toBe('invalid_grant');
    expect((await exchangeCode(sim, code, { code_verifier: verifier })).status).toBe(200);
  });

  it('refuses a wrong verifier (400 invalid_grant)', async () => {
    const { challenge } = pkcePair();
    const refused = await exchangeCode(sim, await codeWithChallenge(challenge), { code_verifier: pkcePair().verifier });
    expect(refused.status).toBe(400);
    expect(refused.body.error).toBe('invalid_grant');
  });

  it('needs no verifier for a link without a challenge', async () => {
    const code = codeFrom(await signIn(sim, authLink(sim)));
    expect((await exchangeCode(sim, code)).status).toBe(200);
  });

  it('refuses a plain challenge method at the dialog, sending the error back to the app', async () => {
    const page = await fetch(authLink(sim, { code_challenge: pkcePair().challenge, code_challenge_method: 'plain' }), {
      redirect: 'manual',
    });
    expect(page.status).toBe(302);
    const target = new URL(page.headers.get('location')!);
    expect(target.searchParams.get('error')).toBe('invalid_request');
    expect(target.searchParams.get('error_description')).toMatch(/S256/);
  });
});
