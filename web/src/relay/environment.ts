import { Environment, Network, RecordSource, Store } from 'relay-runtime';
import persisted from '../../persisted-queries.json';
import { createFetchGraphQL, type TokenProvider } from './network';

/** Same origin by default: CloudFront (or the dev server's proxy) routes /graphql to the api. */
export const GRAPHQL_ENDPOINT: string = import.meta.env.VITE_GRAPHQL_URL ?? '/graphql';

export function createEnvironment(getToken: TokenProvider): Environment {
  return new Environment({
    network: Network.create(createFetchGraphQL({ endpoint: GRAPHQL_ENDPOINT, getToken, texts: persisted })),
    store: new Store(new RecordSource()),
  });
}
