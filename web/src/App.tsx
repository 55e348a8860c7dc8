import { Suspense, useEffect, useMemo, useRef, useState } from 'react';
import { RelayEnvironmentProvider } from 'react-relay';
import { describeClerkFailure, loadClerk, type ClerkLike } from './auth/clerk';
import { describeError, errorCode } from './errors';
import { createEnvironment } from './relay/environment';
import type { TokenSource } from './relay/network';
import { ClerkSignIn } from './components/ClerkSignIn';
import { DocumentsPage } from './components/DocumentsPage';
import { ErrorBoundary } from './components/ErrorBoundary';
import { SignIn } from './components/SignIn';

// The tab's session only: a pasted token should not outlive the tab.
const TOKEN_KEY = 'foundry.token';

/**
 * With a Clerk publishable key (`VITE_CLERK_PUBLISHABLE_KEY` at build time)
 * the app signs in with Clerk; without one (local stacks), with a pasted
 * token from `foundry local token`.
 */
export function App({ clerkKey = import.meta.env.VITE_CLERK_PUBLISHABLE_KEY }: { clerkKey?: string }) {
  return clerkKey ? <ClerkApp publishableKey={clerkKey} /> : <TokenApp />;
}

function TokenApp() {
  const [token, setToken] = useState<string | null>(() => sessionStorage.getItem(TOKEN_KEY));
  const [notice, setNotice] = useState<string | undefined>();
  const getToken = useMemo<TokenSource | null>(() => (token ? () => Promise.resolve(token) : null), [token]);

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

  if (!getToken) return <SignIn onSignIn={signIn} notice={notice} />;
  return <SignedIn getToken={getToken} onSignOut={signOut} />;
}

type ClerkState = { status: 'loading' } | { status: 'failed'; message: string } | { status: 'ready'; clerk: ClerkLike };

function ClerkApp({ publishableKey }: { publishableKey: string }) {
  const [state, setState] = useState<ClerkState>({ status: 'loading' });
  const [signedIn, setSignedIn] = useState(false);
  const [notice, setNotice] = useState<string | undefined>();

  useEffect(() => {
    let live = true;
    let unsubscribe: (() => void) | undefined;
    loadClerk(publishableKey).then(
      (clerk) => {
        if (!live) return;
        setState({ status: 'ready', clerk });
        setSignedIn(Boolean(clerk.session));
        unsubscribe = clerk.addListener(({ session }) => setSignedIn(Boolean(session)));
      },
      (error: unknown) => live && setState({ status: 'failed', message: describeClerkFailure(error) }),
    );
    return () => {
      live = false;
      unsubscribe?.();
    };
  }, [publishableKey]);

  const getToken = useMemo<TokenSource | null>(() => {
    if (state.status !== 'ready') return null;
    const { clerk } = state;
    return async () => (clerk.session ? clerk.session.getToken() : null);
  }, [state]);

  if (state.status === 'loading') return <p role="status">Loading sign-in…</p>;
  if (state.status === 'failed')
    return (
      <main>
        <h1>Sign in to Foundry</h1>
        <p role="alert" className="error">
          {state.message}
        </p>
      </main>
    );
  if (!signedIn || !getToken) return <ClerkSignIn clerk={state.clerk} notice={notice} />;

  const { clerk } = state;
  async function signOut(reason?: string) {
    setNotice(reason);
    await clerk.signOut();
    setSignedIn(false);
  }
  return <SignedIn getToken={getToken} onSignOut={signOut} />;
}

/** The documents screen for a signed-in user; an UNAUTHENTICATED answer signs out, saying why. */
function SignedIn({ getToken, onSignOut }: { getToken: TokenSource; onSignOut: (reason?: string) => void }) {
  const environment = useMemo(() => createEnvironment(getToken), [getToken]);
  const heading = useRef<HTMLHeadingElement>(null);

  useEffect(() => {
    heading.current?.focus();
  }, []);

  return (
    <RelayEnvironmentProvider environment={environment}>
      <header>
        {/* Focused after sign-in so screen readers start at the top of the new screen. */}
        <h1 ref={heading} tabIndex={-1}>
          Foundry documents
        </h1>
        <button type="button" onClick={() => onSignOut()}>
          Sign out
        </button>
      </header>
      <main>
        <ErrorBoundary
          fallback={(error, retry) =>
            errorCode(error) === 'UNAUTHENTICATED' ? (
              <SignOutOnRender onRender={() => onSignOut(describeError(error))} />
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
  useEffect(() => {
    onRender();
  }, [onRender]);
  return null;
}
