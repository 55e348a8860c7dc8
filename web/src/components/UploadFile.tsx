import { useId, useRef, useState, type FormEvent } from 'react';
import { graphql, useRelayEnvironment } from 'react-relay';
import type { UploadFileRequestMutation } from '../__generated__/UploadFileRequestMutation.graphql';
import type { UploadFileFinalizeMutation } from '../__generated__/UploadFileFinalizeMutation.graphql';
import { ApiError } from '../errors';
import { commit } from '../relay/commit';
import { ErrorMessage } from './ErrorMessage';

const requestUpload = graphql`
  mutation UploadFileRequestMutation($input: RequestUploadInput!) {
    requestUpload(input: $input) {
      upload {
        id
      }
      uploadUrl
      uploadHeaders {
        name
        value
      }
    }
  }
`;

const finalizeUpload = graphql`
  mutation UploadFileFinalizeMutation($uploadId: ID!) {
    finalizeUpload(uploadId: $uploadId) {
      upload {
        id
        filename
        sizeBytes
        status
      }
    }
  }
`;

// Set by the browser itself from the body; a script may not set them.
const BROWSER_OWNED_HEADERS = new Set(['content-length', 'host']);

type Phase = 'idle' | 'requesting' | 'sending' | 'finalizing';

const PHASE_TEXT: Record<Phase, string> = {
  idle: '',
  requesting: 'Preparing the upload…',
  sending: 'Sending the file…',
  finalizing: 'Checking the file…',
};

/** Upload: ask the api for a pre-signed PUT, send the file straight to S3, then have the api check it. */
export function UploadFile() {
  const environment = useRelayEnvironment();
  const [phase, setPhase] = useState<Phase>('idle');
  const [done, setDone] = useState<string | null>(null);
  const [error, setError] = useState<unknown>(null);
  const fileInput = useRef<HTMLInputElement>(null);
  const id = useId();

  async function submit(event: FormEvent) {
    event.preventDefault();
    const file = fileInput.current?.files?.[0];
    setError(null);
    setDone(null);
    if (!file) {
      setError(new ApiError('NO_FILE', 'no file chosen'));
      fileInput.current?.focus();
      return;
    }
    try {
      setPhase('requesting');
      const contentType = file.type || 'application/octet-stream';
      const grant = await commit<UploadFileRequestMutation>(environment, requestUpload, {
        input: { filename: file.name, contentType, sizeBytes: file.size },
      });
      setPhase('sending');
      const headers = new Headers({ 'content-type': contentType });
      for (const { name, value } of grant.requestUpload.uploadHeaders) {
        if (!BROWSER_OWNED_HEADERS.has(name.toLowerCase())) headers.set(name, value);
      }
      let put: Response;
      try {
        put = await fetch(grant.requestUpload.uploadUrl, { method: 'PUT', headers, body: file });
      } catch (cause) {
        throw new ApiError('STORAGE_UNAVAILABLE', String(cause));
      }
      if (!put.ok) throw new ApiError('STORAGE_UNAVAILABLE', `PUT answered ${put.status}`);
      setPhase('finalizing');
      const result = await commit<UploadFileFinalizeMutation>(environment, finalizeUpload, {
        uploadId: grant.requestUpload.upload.id,
      });
      const upload = result.finalizeUpload.upload;
      setDone(`Uploaded “${upload.filename}” (${upload.sizeBytes ?? file.size} bytes).`);
      if (fileInput.current) fileInput.current.value = '';
    } catch (e) {
      setError(e);
      fileInput.current?.focus();
    } finally {
      setPhase('idle');
    }
  }

  const busy = phase !== 'idle';
  return (
    <section aria-labelledby={`${id}-heading`}>
      <h2 id={`${id}-heading`}>Upload a file</h2>
      <form onSubmit={submit}>
        <label htmlFor={`${id}-file`}>File</label>
        <input id={`${id}-file`} ref={fileInput} type="file" />
        <button type="submit" disabled={busy}>
          Upload
        </button>
      </form>
      <p role="status">{busy ? PHASE_TEXT[phase] : (done ?? '')}</p>
      <ErrorMessage error={error} />
    </section>
  );
}
