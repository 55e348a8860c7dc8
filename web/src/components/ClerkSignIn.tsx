import { useEffect, useRef } from 'react';
import type { ClerkLike } from '../auth/clerk';

/** Clerk's own sign-in form, mounted into this screen. */
export function ClerkSignIn({ clerk, notice }: { clerk: ClerkLike; notice?: string }) {
  const node = useRef<HTMLDivElement>(null);

  useEffect(() => {
    const target = node.current;
    if (!target) return;
    clerk.mountSignIn(target);
    return () => clerk.unmountSignIn(target);
  }, [clerk]);

  return (
    <main>
      <h1>Sign in to Foundry</h1>
      {notice && <p role="status">{notice}</p>}
      <div ref={node} data-testid="clerk-sign-in" />
    </main>
  );
}
