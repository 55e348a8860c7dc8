import { describeError } from '../errors';

/** An error as a sentence, announced to screen readers when it appears. */
export function ErrorMessage({ error }: { error: unknown }) {
  if (!error) return null;
  return (
    <p role="alert" className="error">
      {describeError(error)}
    </p>
  );
}
