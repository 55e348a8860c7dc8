import { graphql, useLazyLoadQuery } from 'react-relay';
import type { DocumentsPageQuery } from '../__generated__/DocumentsPageQuery.graphql';
import { AskAi } from './AskAi';
import { DocumentList } from './DocumentList';
import { UploadFile } from './UploadFile';

export function DocumentsPage() {
  const data = useLazyLoadQuery<DocumentsPageQuery>(
    graphql`
      query DocumentsPageQuery {
        me {
          email
        }
        ...DocumentList_query
      }
    `,
    {},
  );
  return (
    <>
      {data.me?.email && <p className="hint">Signed in as {data.me.email}</p>}
      <DocumentList query={data} />
      <UploadFile />
      <AskAi />
    </>
  );
}
