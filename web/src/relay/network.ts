// Relay's network layer: POST /graphql with the session token, persisted
// queries first. relay-compiler writes each operation's SHA-256 as its id
// (the same hash the api's allowlist is keyed by), so a request carries only
// the hash. In the api's `automatic` mode a cold cache answers
// PersistedQueryNotFound once; the full text is then sent with the hash.
import type { RequestParameters, Variables, GraphQLResponse } from 'relay-runtime';
import { ApiError, apiErrorFrom } from '../errors';

export type QueryTexts = Record<string, string>;

/**
 * The session token for one request, or null when there is no session. Asked
 * for every request: Clerk's tokens live about a minute, and its getToken()
 * answers from its cache or refreshes; a pasted token simply resolves to itself.
 */
export type TokenProvider = () => Promise<string | null>;

export type FetchGraphQL = (params: RequestParameters, variables: Variables) => Promise<GraphQLResponse>;

type Json = { data?: unknown; errors?: { message?: string; extensions?: { code?: string; retryAfter?: number } }[] };

export function createFetchGraphQL(options: {
  endpoint: string;
  getToken: TokenProvider;
  texts: QueryTexts;
  fetch?: typeof fetch;
}): FetchGraphQL {
  const doFetch = options.fetch ?? ((input, init) => fetch(input, init));

  async function bearer(): Promise<string> {
    let token: string | null;
    try {
      token = await options.getToken();
    } catch (cause) {
      // Clerk could not refresh the token: it could not reach its servers.
      throw new ApiError('NETWORK', String(cause));
    }
    // No session (signed out elsewhere, or it ended): the api would answer 401.
    if (!token) throw new ApiError('UNAUTHENTICATED', 'no session token');
    return token;
  }

  async function post(body: unknown, token: string): Promise<Json> {
    let response: Response;
    try {
      response = await doFetch(options.endpoint, {
        method: 'POST',
        headers: { 'content-type': 'application/json', authorization: `Bearer ${token}` },
        body: JSON.stringify(body),
      });
    } catch (cause) {
      throw new ApiError('NETWORK', String(cause));
    }
    let json: Json;
    try {
      json = (await response.json()) as Json;
    } catch {
      throw new ApiError(response.ok ? 'INTERNAL' : statusCode(response.status), `HTTP ${response.status}`);
    }
    return json;
  }

  return async (params, variables) => {
    const base = { operationName: params.name, variables };
    // One token per request; the text-after-unknown-hash retry reuses it.
    const token = await bearer();
    let json: Json;
    if (params.id) {
      json = await post({ ...base, extensions: { persistedQuery: { version: 1, sha256Hash: params.id } } }, token);
      if (isNotFound(json) && options.texts[params.id]) {
        json = await post(
          {
            ...base,
            query: options.texts[params.id],
            extensions: { persistedQuery: { version: 1, sha256Hash: params.id } },
          },
          token,
        );
      }
    } else {
      json = await post({ ...base, query: params.text }, token);
    }
    if (json.errors?.length) {
      // Partial data would leave Relay's store half-updated with no way for
      // the screen to tell; every error is the whole request's failure.
      throw apiErrorFrom(json.errors);
    }
    return json as GraphQLResponse;
  };
}

function isNotFound(json: Json): boolean {
  const first = json.errors?.[0];
  return first?.extensions?.code === 'PERSISTED_QUERY_NOT_FOUND' || first?.message === 'PersistedQueryNotFound';
}

function statusCode(status: number): string {
  if (status === 401) return 'UNAUTHENTICATED';
  if (status === 429) return 'RATE_LIMITED';
  return 'INTERNAL';
}
