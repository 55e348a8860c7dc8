import { useId, useState, useTransition } from 'react';
import { graphql, usePaginationFragment } from 'react-relay';
import type { DocumentList_query$key } from '../__generated__/DocumentList_query.graphql';
import type { DocumentListPaginationQuery } from '../__generated__/DocumentListPaginationQuery.graphql';
import { CreateDocument } from './CreateDocument';
import { DocumentItem } from './DocumentItem';
import { ErrorMessage } from './ErrorMessage';

export const PAGE_SIZE = 10;

export function DocumentList({ query }: { query: DocumentList_query$key }) {
  const { data, loadNext, hasNext, isLoadingNext } = usePaginationFragment<
    DocumentListPaginationQuery,
    DocumentList_query$key
  >(
    graphql`
      fragment DocumentList_query on QueryRoot
      @argumentDefinitions(count: { type: "Int", defaultValue: 10 }, cursor: { type: "String" })
      @refetchable(queryName: "DocumentListPaginationQuery") {
        documents(first: $count, after: $cursor) @connection(key: "DocumentList_documents") {
          __id
          edges {
            node {
              id
              ...DocumentItem_document
            }
          }
        }
      }
    `,
    query,
  );
  const [error, setError] = useState<unknown>(null);
  const [, startTransition] = useTransition();
  const id = useId();
  const edges = data.documents.edges;

  function loadMore() {
    setError(null);
    startTransition(() => {
      loadNext(PAGE_SIZE, { onComplete: (e) => e && setError(e) });
    });
  }

  return (
    <>
      <CreateDocument connectionId={data.documents.__id} />
      <section aria-labelledby={`${id}-heading`}>
        <h2 id={`${id}-heading`}>Documents</h2>
        {edges.length === 0 ? (
          <p>No documents yet. Create the first one above.</p>
        ) : (
          <ul aria-labelledby={`${id}-heading`} className="documents">
            {edges.map((edge) => (
              <DocumentItem key={edge.node.id} document={edge.node} />
            ))}
          </ul>
        )}
        {hasNext ? (
          <button type="button" onClick={loadMore} disabled={isLoadingNext} aria-busy={isLoadingNext}>
            {isLoadingNext ? 'Loading…' : 'Load more'}
          </button>
        ) : (
          edges.length > 0 && <p className="hint">All {edges.length} documents shown.</p>
        )}
        <ErrorMessage error={error} />
      </section>
    </>
  );
}
