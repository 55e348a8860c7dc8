import { Suspense, type ReactNode } from 'react';
import { RelayEnvironmentProvider } from 'react-relay';
import { createMockEnvironment, MockPayloadGenerator } from 'relay-test-utils';
import type { OperationDescriptor } from 'relay-runtime';

export type MockEnvironment = ReturnType<typeof createMockEnvironment>;

export function withRelay(environment: MockEnvironment, children: ReactNode) {
  return (
    <RelayEnvironmentProvider environment={environment}>
      <Suspense fallback={<p>Loading…</p>}>{children}</Suspense>
    </RelayEnvironmentProvider>
  );
}

export type Doc = { id: string; title: string; cursor: string };

export function doc(n: number): Doc {
  return { id: `RG9j${n}`, title: `Document ${n}`, cursor: `c${n}` };
}

/** A page of the documents connection, as the api answers it. */
export function page(operation: OperationDescriptor, docs: Doc[], hasNextPage: boolean) {
  return MockPayloadGenerator.generate(operation, {
    User: () => ({ email: 'alice@example.com' }),
    DocumentConnection: () => ({
      edges: docs.map((d) => ({ cursor: d.cursor, node: { id: d.id, title: d.title, updatedAt: '2026-12-01T10:00:00Z' } })),
      pageInfo: { hasNextPage, endCursor: docs.at(-1)?.cursor ?? null },
    }),
  });
}

export function operationName(operation: OperationDescriptor): string {
  return operation.request.node.params.name;
}
