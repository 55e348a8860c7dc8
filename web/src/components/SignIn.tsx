import { useEffect, useId, useRef, useState, type FormEvent } from 'react';

/**
 * Sign in by pasting a session token (locally: `foundry local token`; in a
 * stack: a Clerk session token). A build with VITE_CLERK_PUBLISHABLE_KEY
 * shows Clerk's own sign-in instead (ClerkSignIn).
 */
export function SignIn({ onSignIn, notice }: { onSignIn: (token: string) => void; notice?: string }) {
  const [token, setToken] = useState('');
  const [problem, setProblem] = useState<string | null>(null);
  const input = useRef<HTMLTextAreaElement>(null);
  const id = useId();

  useEffect(() => input.current?.focus(), []);

  function submit(event: FormEvent) {
    event.preventDefault();
    const trimmed = token.trim().replace(/^Bearer\s+/i, '');
    if (!trimmed) {
      setProblem('Paste a session token to sign in.');
      input.current?.focus();
      return;
    }
    if (trimmed.split('.').length !== 3) {
      setProblem('That does not look like a session token (three parts separated by dots).');
      input.current?.focus();
      return;
    }
    onSignIn(trimmed);
  }

  return (
    <main>
      <h1>Sign in to Foundry</h1>
      {notice && <p role="status">{notice}</p>}
      <form onSubmit={submit} noValidate>
        <label htmlFor={`${id}-token`}>Session token</label>
        <p id={`${id}-help`} className="hint">
          Locally, print one with <code>foundry local token</code>.
        </p>
        <textarea
          id={`${id}-token`}
          ref={input}
          value={token}
          onChange={(e) => setToken(e.target.value)}
          aria-describedby={`${id}-help${problem ? ` ${id}-problem` : ''}`}
          aria-invalid={problem ? true : undefined}
          rows={4}
          spellCheck={false}
          autoComplete="off"
        />
        {problem && (
          <p id={`${id}-problem`} role="alert" className="error">
            {problem}
          </p>
        )}
        <button type="submit">Sign in</button>
      </form>
    </main>
  );
}
