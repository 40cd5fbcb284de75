/** A deployment with no ALLOWED_RETURN_URLS refuses to create connections: the completion code would have nowhere to go. */
import { afterAll, beforeAll, expect, it } from 'vitest';
import { TestApi } from '../support/flow';

let api: TestApi;

beforeAll(async () => {
  api = await TestApi.start({ env: { ALLOWED_RETURN_URLS: '' } });
});
afterAll(async () => api.close());

it('answers POST /connections with 400 return_url_required naming the setting', async () => {
  for (const body of [{}, { return_url: `${api.stack.apiUrl}/` }]) {
    const response = await api.call('POST', '/connections', { sub: 'alice', body });
    expect(response.status).toBe(400);
    expect(response.body).toMatchObject({ code: 'return_url_required', detail: expect.stringContaining('ALLOWED_RETURN_URLS') });
  }
  expect((await api.call('GET', '/connections', { sub: 'alice' })).body.connections).toEqual([]);
});
