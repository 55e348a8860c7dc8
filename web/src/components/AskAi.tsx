import { useId, useRef, useState, type FormEvent } from 'react';
import { graphql, useMutation } from 'react-relay';
import type { AskAiMutation } from '../__generated__/AskAiMutation.graphql';
import { ErrorMessage } from './ErrorMessage';

// The api's `generate` answers whole (it does not stream yet), so the answer
// appears at once when it arrives.
const mutation = graphql`
  mutation AskAiMutation($input: GenerateInput!) {
    generate(input: $input) {
      text
      model
      latencyMs
    }
  }
`;

export function AskAi() {
  const [prompt, setPrompt] = useState('');
  const [answer, setAnswer] = useState<AskAiMutation['response']['generate'] | null>(null);
  const [error, setError] = useState<unknown>(null);
  const [commit, inFlight] = useMutation<AskAiMutation>(mutation);
  const input = useRef<HTMLTextAreaElement>(null);
  const id = useId();

  function submit(event: FormEvent) {
    event.preventDefault();
    const question = prompt.trim();
    if (!question) return input.current?.focus();
    setError(null);
    setAnswer(null);
    commit({
      variables: { input: { prompt: question } },
      onCompleted: (response) => setAnswer(response.generate),
      onError: (e) => {
        setError(e);
        input.current?.focus();
      },
    });
  }

  return (
    <section aria-labelledby={`${id}-heading`}>
      <h2 id={`${id}-heading`}>Ask the AI</h2>
      <form onSubmit={submit}>
        <label htmlFor={`${id}-prompt`}>Question</label>
        <textarea id={`${id}-prompt`} ref={input} value={prompt} onChange={(e) => setPrompt(e.target.value)} rows={3} />
        <button type="submit" disabled={inFlight}>
          {inFlight ? 'Asking…' : 'Ask'}
        </button>
      </form>
      <div aria-live="polite" aria-busy={inFlight}>
        {answer && (
          <figure>
            <blockquote className="answer">{answer.text}</blockquote>
            <figcaption className="hint">
              {answer.model ?? 'default model'}, {answer.latencyMs} ms
            </figcaption>
          </figure>
        )}
      </div>
      <ErrorMessage error={error} />
    </section>
  );
}
