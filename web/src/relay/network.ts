// Relay's network layer: POST /graphql with the session token, persisted
// queries first. relay-compiler writes each operation's SHA-256 as its id
// (the same hash the api's allowlist is keyed by), so a request carries only
// the hash. In the api's `automatic` mode a cold cache answers
// PersistedQueryNotFound once; the full text is then sent with the hash.
import type { RequestParameters, Variables, GraphQLResponse } from 'relay-runtime';
import { ApiError, apiErrorFrom } from '../errors';

export type QueryTexts = Record<string, string>;

export type FetchGraphQL = (params: RequestParameters, variables: Variables) => Promise<GraphQLResponse>;

type Json = { data?: unknown; errors?: { message?: string; extensions?: { code?: string; retryAfter?: number } }[] };

/**
 * The session token for a request, asked for each time: Clerk's live about a
 * minute and `getToken` refreshes them; a pasted one is returned as is.
 * `null` means signed out.
 */
export type TokenSource = () => Promise<string | null>;

export function createFetchGraphQL(options: {
  endpoint: string;
  getToken: TokenSource;
  texts: QueryTexts;
  fetch?: typeof fetch;
}): FetchGraphQL {
  const doFetch = options.fetch ?? ((input, init) => fetch(input, init));

  async function post(body: unknown): Promise<Json> {
    const token = await options.getToken();
    if (!token) throw new ApiError('UNAUTHENTICATED', 'signed out');
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
    let json: Json;
    if (params.id) {
      json = await post({ ...base, extensions: { persistedQuery: { version: 1, sha256Hash: params.id } } });
      if (isNotFound(json) && options.texts[params.id]) {
        json = await post({
          ...base,
          query: options.texts[params.id],
          extensions: { persistedQuery: { version: 1, sha256Hash: params.id } },
        });
      }
    } else {
      json = await post({ ...base, query: params.text });
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
