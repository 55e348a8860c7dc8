// Clerk's JS SDK, loaded only when the build has a publishable key. Both
// packages are imported dynamically, so Vite puts them in their own chunks and
// the paste-a-token build does not carry them.
import { ApiError } from '../errors';

/** The part of Clerk's `Clerk` object the app uses (a test double implements just this). */
export interface ClerkClient {
  readonly session: { getToken(): Promise<string | null> } | null | undefined;
  readonly user: unknown;
  mountSignIn(node: HTMLDivElement): void;
  unmountSignIn(node: HTMLDivElement): void;
  /** With a callback Clerk calls it instead of navigating to its after-sign-out URL. */
  signOut(callback: () => void): Promise<unknown>;
  addListener(listener: (resources: { session?: unknown }) => void): () => void;
}

let loading: { key: string; promise: Promise<ClerkClient> } | undefined;

/**
 * One Clerk per page and key (React's StrictMode runs effects twice in
 * development); a failed load is forgotten so that a remount tries again.
 */
export function loadClerk(publishableKey: string): Promise<ClerkClient> {
  if (loading?.key !== publishableKey) {
    const promise = load(publishableKey);
    loading = { key: publishableKey, promise };
    promise.catch(() => {
      if (loading?.promise === promise) loading = undefined;
    });
  }
  return loading.promise;
}

/** Tests only: the next loadClerk builds a new Clerk. */
export function forgetClerk(): void {
  loading = undefined;
}

/**
 * A loaded Clerk: the SDK, its prebuilt components (`@clerk/ui`, which
 * clerk-js 6 no longer bundles), and the current session if there is one.
 * Fails with an ApiError whose code has a sentence in errors.ts.
 */
async function load(publishableKey: string): Promise<ClerkClient> {
  let modules;
  try {
    modules = await Promise.all([import('@clerk/clerk-js'), import('@clerk/ui')]);
  } catch (cause) {
    // The chunk did not arrive (offline, or a deploy replaced it).
    throw new ApiError('CLERK_UNAVAILABLE', String(cause));
  }
  const [{ Clerk }, { ui }] = modules;
  let clerk: InstanceType<typeof Clerk>;
  try {
    clerk = new Clerk(publishableKey);
  } catch (cause) {
    // The constructor checks the key's form (pk_test_/pk_live_ and its encoded host).
    throw new ApiError('CLERK_KEY_INVALID', String(cause));
  }
  try {
    await clerk.load({ ui });
  } catch (cause) {
    throw new ApiError('CLERK_UNAVAILABLE', String(cause));
  }
  return clerk as unknown as ClerkClient;
}
