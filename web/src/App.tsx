import { Suspense, useEffect, useMemo, useRef, useState } from 'react';
import { RelayEnvironmentProvider } from 'react-relay';
import { describeError, errorCode } from './errors';
import { createEnvironment } from './relay/environment';
import { DocumentsPage } from './components/DocumentsPage';
import { ErrorBoundary } from './components/ErrorBoundary';
import { SignIn } from './components/SignIn';

// The tab's session only: a pasted token should not outlive the tab.
const TOKEN_KEY = 'foundry.token';

export function App() {
  const [token, setToken] = useState<string | null>(() => sessionStorage.getItem(TOKEN_KEY));
  const [notice, setNotice] = useState<string | undefined>();
  const environment = useMemo(() => (token ? createEnvironment(token) : null), [token]);
  const heading = useRef<HTMLHeadingElement>(null);

  useEffect(() => {
    if (token) heading.current?.focus();
  }, [token]);

  function signIn(value: string) {
    sessionStorage.setItem(TOKEN_KEY, value);
    setNotice(undefined);
    setToken(value);
  }

  function signOut(reason?: string) {
    sessionStorage.removeItem(TOKEN_KEY);
    setNotice(reason);
    setToken(null);
  }

  if (!token || !environment) return <SignIn onSignIn={signIn} notice={notice} />;

  return (
    <RelayEnvironmentProvider environment={environment}>
      <header>
        {/* Focused after sign-in so screen readers start at the top of the new screen. */}
        <h1 ref={heading} tabIndex={-1}>
          Foundry documents
        </h1>
        <button type="button" onClick={() => signOut()}>
          Sign out
        </button>
      </header>
      <main>
        <ErrorBoundary
          fallback={(error, retry) =>
            errorCode(error) === 'UNAUTHENTICATED' ? (
              <SignOutOnRender onRender={() => signOut(describeError(error))} />
            ) : (
              <div>
                <p role="alert" className="error">
                  {describeError(error)}
                </p>
                <button type="button" onClick={retry}>
                  Try again
                </button>
              </div>
            )
          }
        >
          <Suspense fallback={<p role="status">Loading documents…</p>}>
            <DocumentsPage />
          </Suspense>
        </ErrorBoundary>
      </main>
    </RelayEnvironmentProvider>
  );
}

function SignOutOnRender({ onRender }: { onRender: () => void }) {
  useEffect(onRender, [onRender]);
  return null;
}
