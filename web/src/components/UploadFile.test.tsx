import { act, render, screen, waitFor } from '@testing-library/react';
import userEvent from '@testing-library/user-event';
import { afterEach, describe, expect, it, vi } from 'vitest';
import { createMockEnvironment } from 'relay-test-utils';
import { operationName, withRelay } from '../test/relay';
import { UploadFile } from './UploadFile';

afterEach(() => vi.unstubAllGlobals());

const grant = {
  requestUpload: {
    upload: { id: 'VXBsb2Fk1' },
    uploadUrl: 'http://s3.test/bucket/orgs/o/uploads/u/notes.txt?X-Amz-Signature=abc',
    uploadHeaders: [
      { name: 'content-length', value: '11' },
      { name: 'content-type', value: 'text/plain' },
      { name: 'x-amz-meta-org', value: 'o' },
    ],
  },
};

async function choose() {
  const environment = createMockEnvironment();
  render(withRelay(environment, <UploadFile />));
  await userEvent.upload(screen.getByLabelText('File'), new File(['hello world'], 'notes.txt', { type: 'text/plain' }));
  await userEvent.click(screen.getByRole('button', { name: 'Upload' }));
  const request = environment.mock.getMostRecentOperation();
  expect(operationName(request)).toBe('UploadFileRequestMutation');
  expect(request.request.variables).toEqual({ input: { filename: 'notes.txt', contentType: 'text/plain', sizeBytes: 11 } });
  return environment;
}

describe('UploadFile', () => {
  it('asks for a file when none is chosen, and sends nothing', async () => {
    const environment = createMockEnvironment();
    render(withRelay(environment, <UploadFile />));
    await userEvent.click(screen.getByRole('button', { name: 'Upload' }));
    expect(screen.getByRole('alert')).toHaveTextContent('Choose a file to upload first.');
    expect(screen.getByLabelText('File')).toHaveFocus();
    expect(environment.mock.getAllOperations()).toEqual([]);
  });

  it('requests a URL, PUTs the file with the signed headers, then finalizes', async () => {
    const put = vi.fn<typeof fetch>().mockResolvedValue(new Response(null, { status: 200 }));
    vi.stubGlobal('fetch', put);
    const environment = await choose();
    await act(async () => environment.mock.resolveMostRecentOperation({ data: grant }));

    await waitFor(() => expect(put).toHaveBeenCalledTimes(1));
    const [url, init] = put.mock.calls[0];
    expect(url).toBe(grant.requestUpload.uploadUrl);
    expect(init?.method).toBe('PUT');
    const headers = init?.headers as Headers;
    expect(headers.get('content-type')).toBe('text/plain');
    expect(headers.get('x-amz-meta-org')).toBe('o');
    expect(headers.has('content-length')).toBe(false);

    await waitFor(() => expect(operationName(environment.mock.getMostRecentOperation())).toBe('UploadFileFinalizeMutation'));
    const finalize = environment.mock.getMostRecentOperation();
    expect(finalize.request.variables).toEqual({ uploadId: 'VXBsb2Fk1' });
    await act(async () =>
      environment.mock.resolve(finalize, {
        data: { finalizeUpload: { upload: { id: 'VXBsb2Fk1', filename: 'notes.txt', sizeBytes: 11, status: 'FINALIZED' } } },
      }),
    );
    expect(await screen.findByText('Uploaded “notes.txt” (11 bytes).')).toBeInTheDocument();
  });

  it('a PUT that storage refuses is a sentence, and nothing is finalized', async () => {
    vi.stubGlobal('fetch', vi.fn<typeof fetch>().mockResolvedValue(new Response('denied', { status: 403 })));
    const environment = await choose();
    await act(async () => environment.mock.resolveMostRecentOperation({ data: grant }));
    expect(await screen.findByRole('alert')).toHaveTextContent('File storage is unavailable right now. Try the upload again shortly.');
    // Nothing pending: finalizeUpload was never sent.
    expect(environment.mock.getAllOperations()).toEqual([]);
    expect(screen.getByLabelText('File')).toHaveFocus();
  });
});
