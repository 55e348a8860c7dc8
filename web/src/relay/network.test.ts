import { describe, expect, it, vi } from 'vitest';
import type { RequestParameters } from 'relay-runtime';
import { ApiError } from '../errors';
import { createFetchGraphQL } from './network';

const params = { id: 'abc123', name: 'DocumentsPageQuery', operationKind: 'query', text: null, metadata: {}, cacheID: 'x' } as unknown as RequestParameters;

function reply(status: number, body: unknown) {
  return new Response(JSON.stringify(body), { status, headers: { 'content-type': 'application/json' } });
}

function setup(...replies: Response[]) {
  const fetch = vi.fn<typeof globalThis.fetch>();
  for (const r of replies) fetch.mockResolvedValueOnce(r);
  const run = createFetchGraphQL({ endpoint: '/graphql', getToken: async () => 'tok.en.x', texts: { abc123: 'query DocumentsPageQuery { me { id } }' }, fetch });
  const sent = () => fetch.mock.calls.map(([, init]) => JSON.parse(String(init?.body)));
  return { fetch, run, sent };
}

describe('the network layer', () => {
  it('sends only the hash, with the bearer token', async () => {
    const { fetch, run, sent } = setup(reply(200, { data: { me: null } }));
    await expect(run(params, { a: 1 })).resolves.toEqual({ data: { me: null } });
    expect(sent()).toEqual([
      { operationName: 'DocumentsPageQuery', variables: { a: 1 }, extensions: { persistedQuery: { version: 1, sha256Hash: 'abc123' } } },
    ]);
    const headers = fetch.mock.calls[0][1]?.headers as Record<string, string>;
    expect(headers.authorization).toBe('Bearer tok.en.x');
  });

  it('sends the text with the hash once when the server does not know the hash', async () => {
    const { run, sent } = setup(reply(200, { errors: [{ message: 'PersistedQueryNotFound' }] }), reply(200, { data: { me: null } }));
    await run(params, {});
    expect(sent()[1].query).toBe('query DocumentsPageQuery { me { id } }');
    expect(sent()[1].extensions.persistedQuery.sha256Hash).toBe('abc123');
  });

  it.each([
    [401, { errors: [{ message: 'invalid token', extensions: { code: 'UNAUTHENTICATED' } }] }, 'UNAUTHENTICATED'],
    [200, { data: null, errors: [{ message: 'x', extensions: { code: 'AI_UNAVAILABLE' } }] }, 'AI_UNAVAILABLE'],
    [502, 'not json', 'INTERNAL'],
    [429, 'not json', 'RATE_LIMITED'],
  ])('HTTP %i %j fails with code %s', async (status, body, code) => {
    const { run } = setup(typeof body === 'string' ? new Response(body, { status }) : reply(status, body));
    await expect(run(params, {})).rejects.toMatchObject({ code });
  });

  it('a fetch that cannot connect is a NETWORK error', async () => {
    const fetch = vi.fn<typeof globalThis.fetch>().mockRejectedValue(new TypeError('Failed to fetch'));
    const run = createFetchGraphQL({ endpoint: '/graphql', getToken: async () => 't', texts: {}, fetch });
    const error = await run(params, {}).catch((e: unknown) => e);
    expect(error).toBeInstanceOf(ApiError);
    expect((error as ApiError).code).toBe('NETWORK');
  });

  it('asks the token provider once per request and sends what it resolves to', async () => {
    const fetch = vi.fn<typeof globalThis.fetch>().mockImplementation(async () => reply(200, { data: { me: null } }));
    let n = 0;
    const getToken = vi.fn(async () => {
      // Resolves later than the call: the request must wait for it.
      await new Promise((resolve) => setTimeout(resolve, 5));
      return `tok.${++n}.x`;
    });
    const run = createFetchGraphQL({ endpoint: '/graphql', getToken, texts: {}, fetch });
    await run(params, {});
    await run(params, {});
    expect(getToken).toHaveBeenCalledTimes(2);
    const auth = fetch.mock.calls.map(([, init]) => (init?.headers as Record<string, string>).authorization);
    expect(auth).toEqual(['Bearer tok.1.x', 'Bearer tok.2.x']);
  });

  it('reuses the request\'s token when it resends the text for an unknown hash', async () => {
    const fetch = vi.fn<typeof globalThis.fetch>();
    fetch.mockResolvedValueOnce(reply(200, { errors: [{ message: 'PersistedQueryNotFound' }] }));
    fetch.mockResolvedValueOnce(reply(200, { data: { me: null } }));
    const getToken = vi.fn(async () => 'tok.en.x');
    const run = createFetchGraphQL({ endpoint: '/graphql', getToken, texts: { abc123: 'query X { me { id } }' }, fetch });
    await run(params, {});
    expect(fetch).toHaveBeenCalledTimes(2);
    expect(getToken).toHaveBeenCalledTimes(1);
  });

  it('no session (the provider resolves null) is UNAUTHENTICATED, without a request', async () => {
    const fetch = vi.fn<typeof globalThis.fetch>();
    const run = createFetchGraphQL({ endpoint: '/graphql', getToken: async () => null, texts: {}, fetch });
    await expect(run(params, {})).rejects.toMatchObject({ code: 'UNAUTHENTICATED' });
    expect(fetch).not.toHaveBeenCalled();
  });

  it('a provider that cannot get a token (Clerk unreachable) is a NETWORK error', async () => {
    const fetch = vi.fn<typeof globalThis.fetch>();
    const run = createFetchGraphQL({
      endpoint: '/graphql',
      getToken: () => Promise.reject(new Error('Failed to fetch')),
      texts: {},
      fetch,
    });
    await expect(run(params, {})).rejects.toMatchObject({ code: 'NETWORK' });
    expect(fetch).not.toHaveBeenCalled();
  });
});
