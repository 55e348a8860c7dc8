import { useId, useRef, useState, type FormEvent, type KeyboardEvent } from 'react';
import { graphql, useFragment, useMutation } from 'react-relay';
import type { DocumentItem_document$key } from '../__generated__/DocumentItem_document.graphql';
import type { DocumentItemRenameMutation } from '../__generated__/DocumentItemRenameMutation.graphql';
import { ErrorMessage } from './ErrorMessage';

const renameMutation = graphql`
  mutation DocumentItemRenameMutation($id: ID!, $title: String!) {
    updateDocument(id: $id, title: $title) {
      document {
        id
        title
        updatedAt
      }
    }
  }
`;

export function DocumentItem({ document }: { document: DocumentItem_document$key }) {
  const data = useFragment(
    graphql`
      fragment DocumentItem_document on Document {
        id
        title
        updatedAt
      }
    `,
    document,
  );
  const [editing, setEditing] = useState(false);
  const [draft, setDraft] = useState(data.title);
  const [error, setError] = useState<unknown>(null);
  const [commit, inFlight] = useMutation<DocumentItemRenameMutation>(renameMutation);
  const renameButton = useRef<HTMLButtonElement>(null);
  const id = useId();

  function stopEditing() {
    setEditing(false);
    // Back where the person was, so keyboard users do not lose their place.
    requestAnimationFrame(() => renameButton.current?.focus());
  }

  function submit(event: FormEvent) {
    event.preventDefault();
    const title = draft.trim();
    if (!title || title === data.title) return stopEditing();
    setError(null);
    commit({
      variables: { id: data.id, title },
      optimisticResponse: { updateDocument: { document: { id: data.id, title, updatedAt: data.updatedAt } } },
      onCompleted: stopEditing,
      onError: setError,
    });
  }

  function onKeyDown(event: KeyboardEvent) {
    if (event.key === 'Escape') {
      setDraft(data.title);
      stopEditing();
    }
  }

  return (
    <li>
      {editing ? (
        <form onSubmit={submit} onKeyDown={onKeyDown}>
          <label htmlFor={`${id}-title`}>New title for “{data.title}”</label>
          <input id={`${id}-title`} value={draft} onChange={(e) => setDraft(e.target.value)} autoFocus />
          <button type="submit" disabled={inFlight}>
            Save
          </button>
          <button
            type="button"
            onClick={() => {
              setDraft(data.title);
              stopEditing();
            }}
          >
            Cancel
          </button>
        </form>
      ) : (
        <>
          <span className="title">{data.title}</span>{' '}
          <time dateTime={data.updatedAt} className="hint">
            {new Date(data.updatedAt).toLocaleString()}
          </time>{' '}
          <button
            ref={renameButton}
            type="button"
            aria-label={`Rename “${data.title}”`}
            onClick={() => {
              setDraft(data.title);
              setEditing(true);
            }}
          >
            Rename
          </button>
        </>
      )}
      <ErrorMessage error={error} />
    </li>
  );
}
