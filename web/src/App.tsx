import { Suspense, useEffect, useMemo, useRef, useState } from 'react';
import { RelayEnvironmentProvider } from 'react-relay';
import type { Environment } from 'relay-runtime';
import { loadClerk, type ClerkClient } from './auth/clerk';
import { describeError, errorCode } from './errors';
import { createEnvironment } from './relay/environment';
import { ClerkSignIn } from './components/ClerkSignIn';
import { DocumentsPage } from './components/DocumentsPage';
import { ErrorBoundary } from './components/ErrorBoundary';
import { SignIn } from './components/SignIn';

// The tab's session only: a pasted token should not outlive the tab.
const TOKEN_KEY = 'foundry.token';

/** Set at build time; empty or absent: sign in by pasting a token. */
const CLERK_PUBLISHABLE_KEY = import.meta.env.VITE_CLERK_PUBLISHABLE_KEY?.trim() ?? '';

// A constant at build time: without a key the Clerk branch (and its dynamic
// imports) is dropped, so the build does not even emit Clerk's chunks. Tests
// pass a key as a prop.
const CLERK_BUILT_IN = import.meta.env.MODE === 'test' || !!import.meta.env.VITE_CLERK_PUBLISHABLE_KEY;

export function App({ clerkPublishableKey = CLERK_PUBLISHABLE_KEY }: { clerkPublishableKey?: string }) {
  if (CLERK_BUILT_IN && clerkPublishableKey) return <ClerkApp publishableKey={clerkPublishableKey} />;
  return <TokenApp />;
}

/** Sign in by pasting a session token (locally: `foundry local token`). */
function TokenApp() {
  const [token, setToken] = useState<string | null>(() => sessionStorage.getItem(TOKEN_KEY));
  const [notice, setNotice] = useState<string | undefined>();
  const environment = useMemo(() => (token ? createEnvironment(() => Promise.resolve(token)) : null), [token]);

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
  return <SignedIn environment={environment} onSignOut={signOut} />;
}

/** Sign in with Clerk's JS SDK; each request asks Clerk for a current token. */
function ClerkApp({ publishableKey }: { publishableKey: string }) {
  const [clerk, setClerk] = useState<ClerkClient | null>(null);
  const [loadError, setLoadError] = useState<unknown>(null);
  const [signedIn, setSignedIn] = useState(false);
  const [notice, setNotice] = useState<string | undefined>();

  useEffect(() => {
    let live = true;
    let unsubscribe: (() => void) | undefined;
    loadClerk(publishableKey).then(
      (loaded) => {
        if (!live) return;
        setClerk(loaded);
        setSignedIn(Boolean(loaded.session));
        // Sign-in, sign-out (also in another tab) and a session that ends.
        unsubscribe = loaded.addListener(({ session }) => setSignedIn(Boolean(session)));
      },
      (error: unknown) => {
        if (!live) return;
        // The cause stays in the console; the screen gets one sentence.
        console.warn('Clerk did not load:', error);
        setLoadError(error);
      },
    );
    return () => {
      live = false;
      unsubscribe?.();
    };
  }, [publishableKey]);

  const environment = useMemo(
    () => (clerk && signedIn ? createEnvironment(() => clerk.session?.getToken() ?? Promise.resolve(null)) : null),
    [clerk, signedIn],
  );

  function signOut(reason?: string) {
    setNotice(reason);
    setSignedIn(false);
    // The callback keeps Clerk from navigating away (a page load would lose the notice):
    // this screen already shows the sign-in.
    clerk?.signOut(() => {}).catch((error: unknown) => console.warn('Clerk sign-out failed:', error));
  }

  if (loadError || !clerk) {
    return (
      <main>
        <h1>Sign in to Foundry</h1>
        {loadError ? (
          <p role="alert" className="error">
            {describeError(loadError)}
          </p>
        ) : (
          <p role="status">Loading sign-in…</p>
        )}
      </main>
    );
  }
  if (!signedIn || !environment) return <ClerkSignIn clerk={clerk} notice={notice} />;
  return <SignedIn environment={environment} onSignOut={signOut} />;
}

/** The documents screen, whichever way the session came. */
function SignedIn({ environment, onSignOut }: { environment: Environment; onSignOut: (reason?: string) => void }) {
  const heading = useRef<HTMLHeadingElement>(null);

  useEffect(() => {
    heading.current?.focus();
  }, [environment]);

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
  useEffect(onRender, [onRender]);
  return null;
}
