import { act, render, screen, within } from '@testing-library/react';
import userEvent from '@testing-library/user-event';
import { beforeEach, describe, expect, it } from 'vitest';
import { createMockEnvironment } from 'relay-test-utils';
import { ApiError } from '../errors';
import { doc, operationName, page, withRelay, type MockEnvironment } from '../test/relay';
import { DocumentsPage } from './DocumentsPage';
import { PAGE_SIZE } from './DocumentList';

let environment: MockEnvironment;

beforeEach(() => {
  environment = createMockEnvironment();
});

async function renderWith(docs: ReturnType<typeof doc>[], hasNextPage: boolean) {
  render(withRelay(environment, <DocumentsPage />));
  await act(async () => environment.mock.resolveMostRecentOperation((op) => page(op, docs, hasNextPage)));
  return screen.getByRole('list', { name: 'Documents' });
}

function titles(list: HTMLElement) {
  return within(list)
    .getAllByRole('listitem')
    .map((li) => li.querySelector('.title')?.textContent);
}

describe('the documents list', () => {
  it('shows the first page and loads the next one after the last cursor', async () => {
    const list = await renderWith([doc(1), doc(2)], true);
    expect(titles(list)).toEqual(['Document 1', 'Document 2']);
    expect(screen.getByText('Signed in as alice@example.com')).toBeInTheDocument();

    await userEvent.click(screen.getByRole('button', { name: 'Load more' }));
    const next = environment.mock.getMostRecentOperation();
    expect(operationName(next)).toBe('DocumentListPaginationQuery');
    expect(next.request.variables).toMatchObject({ count: PAGE_SIZE, cursor: 'c2' });
    await act(async () => environment.mock.resolve(next, page(next, [doc(3)], false)));

    expect(titles(screen.getByRole('list', { name: 'Documents' }))).toEqual(['Document 1', 'Document 2', 'Document 3']);
    expect(screen.queryByRole('button', { name: 'Load more' })).not.toBeInTheDocument();
    expect(screen.getByText('All 3 documents shown.')).toBeInTheDocument();
  });

  it('says so when there is nothing yet', async () => {
    render(withRelay(environment, <DocumentsPage />));
    await act(async () => environment.mock.resolveMostRecentOperation((op) => page(op, [], false)));
    expect(screen.getByText('No documents yet. Create the first one above.')).toBeInTheDocument();
  });

  it('creates a document, which appears first in the list', async () => {
    await renderWith([doc(1)], false);
    await userEvent.type(screen.getByLabelText('Title'), '  Quarterly plan {Enter}');
    const create = environment.mock.getMostRecentOperation();
    expect(operationName(create)).toBe('CreateDocumentMutation');
    expect(create.request.variables.title).toBe('Quarterly plan');
    await act(async () =>
      environment.mock.resolve(create, {
        data: { createDocument: { document: { id: 'RG9jNew', title: 'Quarterly plan', updatedAt: '2026-12-02T10:00:00Z' } } },
      }),
    );
    expect(titles(screen.getByRole('list', { name: 'Documents' }))).toEqual(['Quarterly plan', 'Document 1']);
    expect(screen.getByText('Created “Quarterly plan”.')).toBeInTheDocument();
    expect(screen.getByLabelText('Title')).toHaveValue('');
    expect(screen.getByLabelText('Title')).toHaveFocus();
  });

  it('shows a refused creation as a sentence and keeps what was typed', async () => {
    await renderWith([doc(1)], false);
    await userEvent.type(screen.getByLabelText('Title'), 'x{Enter}');
    await act(async () =>
      environment.mock.rejectMostRecentOperation(new ApiError('BAD_USER_INPUT', 'invalid input: title too long')),
    );
    expect(screen.getByRole('alert')).toHaveTextContent('Some of what you entered was not accepted. Check it and try again.');
    expect(screen.getByLabelText('Title')).toHaveValue('x');
  });

  it('renames from the keyboard, and Escape cancels with focus back on Rename', async () => {
    await renderWith([doc(1)], false);
    await userEvent.click(screen.getByRole('button', { name: 'Rename “Document 1”' }));
    const field = screen.getByLabelText('New title for “Document 1”');
    expect(field).toHaveFocus();
    await userEvent.keyboard('{Escape}');
    await act(() => new Promise(requestAnimationFrame));
    expect(screen.getByRole('button', { name: 'Rename “Document 1”' })).toHaveFocus();

    await userEvent.keyboard('{Enter}');
    await userEvent.clear(screen.getByLabelText('New title for “Document 1”'));
    await userEvent.keyboard('Renamed{Enter}');
    const rename = environment.mock.getMostRecentOperation();
    expect(operationName(rename)).toBe('DocumentItemRenameMutation');
    expect(rename.request.variables).toEqual({ id: 'RG9j1', title: 'Renamed' });
    await act(async () =>
      environment.mock.resolve(rename, {
        data: { updateDocument: { document: { id: 'RG9j1', title: 'Renamed', updatedAt: '2026-12-02T10:00:00Z' } } },
      }),
    );
    expect(titles(screen.getByRole('list', { name: 'Documents' }))).toEqual(['Renamed']);
  });
});
