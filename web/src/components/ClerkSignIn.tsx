import { useEffect, useRef } from 'react';
import type { ClerkClient } from '../auth/clerk';

/**
 * Clerk's prebuilt sign-in form, mounted into a div this component owns. Clerk
 * labels its own fields; the heading takes focus so a screen reader starts at
 * the top of the screen (and reads the notice after it).
 */
export function ClerkSignIn({ clerk, notice }: { clerk: ClerkClient; notice?: string }) {
  const node = useRef<HTMLDivElement>(null);
  const heading = useRef<HTMLHeadingElement>(null);

  useEffect(() => heading.current?.focus(), []);

  useEffect(() => {
    const div = node.current;
    if (!div) return;
    clerk.mountSignIn(div);
    return () => clerk.unmountSignIn(div);
  }, [clerk]);

  return (
    <main>
      <h1 ref={heading} tabIndex={-1}>
        Sign in to Foundry
      </h1>
      {notice && <p role="status">{notice}</p>}
      <div ref={node} data-testid="clerk-sign-in" />
    </main>
  );
}
