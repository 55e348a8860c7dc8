// Clerk's JS SDK, loaded only when a publishable key is configured: the
// import is dynamic, so Vite puts the SDK in a chunk of its own and a build
// without a key (local stacks sign in with a pasted token) never fetches it.

/** What the app uses of a loaded Clerk instance. */
export interface ClerkLike {
  readonly session: { getToken(): Promise<string | null> } | null | undefined;
  readonly user: { primaryEmailAddress?: { emailAddress: string } | null } | null | undefined;
  mountSignIn(node: HTMLDivElement): void;
  unmountSignIn(node: HTMLDivElement): void;
  addListener(listener: (resources: { session?: unknown }) => void): () => void;
  signOut(): Promise<void>;
}

export async function loadClerk(publishableKey: string): Promise<ClerkLike> {
  const { Clerk } = await import('@clerk/clerk-js');
  const clerk = new Clerk(publishableKey);
  await clerk.load();
  return clerk as unknown as ClerkLike;
}

/** One sentence for a Clerk that cannot load (a bad key, no network). */
export function describeClerkFailure(error: unknown): string {
  const detail = error instanceof Error && error.message ? ` (${error.message})` : '';
  return `Sign-in is unavailable: Clerk could not be loaded${detail}. Check VITE_CLERK_PUBLISHABLE_KEY and the network, then reload the page.`;
}
