import { useId, useRef, useState, type FormEvent } from 'react';
import { graphql, useMutation } from 'react-relay';
import type { CreateDocumentMutation } from '../__generated__/CreateDocumentMutation.graphql';
import { ErrorMessage } from './ErrorMessage';

const mutation = graphql`
  mutation CreateDocumentMutation($title: String!, $connections: [ID!]!) {
    createDocument(title: $title) {
      document @prependNode(connections: $connections, edgeTypeName: "DocumentEdge") {
        id
        title
        updatedAt
      }
    }
  }
`;

export function CreateDocument({ connectionId }: { connectionId: string }) {
  const [title, setTitle] = useState('');
  const [error, setError] = useState<unknown>(null);
  const [created, setCreated] = useState<string | null>(null);
  const [commit, inFlight] = useMutation<CreateDocumentMutation>(mutation);
  const input = useRef<HTMLInputElement>(null);
  const id = useId();

  function submit(event: FormEvent) {
    event.preventDefault();
    const wanted = title.trim();
    if (!wanted) {
      setError(null);
      setCreated(null);
      input.current?.focus();
      return;
    }
    setError(null);
    commit({
      variables: { title: wanted, connections: [connectionId] },
      onCompleted: (response) => {
        setTitle('');
        setCreated(response.createDocument.document.title);
        input.current?.focus();
      },
      onError: (e) => {
        setError(e);
        input.current?.focus();
      },
    });
  }

  return (
    <section aria-labelledby={`${id}-heading`}>
      <h2 id={`${id}-heading`}>New document</h2>
      <form onSubmit={submit}>
        <label htmlFor={`${id}-title`}>Title</label>
        <input id={`${id}-title`} ref={input} value={title} onChange={(e) => setTitle(e.target.value)} required />
        <button type="submit" disabled={inFlight}>
          {inFlight ? 'Creating…' : 'Create'}
        </button>
      </form>
      <p role="status">{created ? `Created “${created}”.` : ''}</p>
      <ErrorMessage error={error} />
    </section>
  );
}
