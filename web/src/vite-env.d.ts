/// <reference types="vite/client" />
interface ImportMetaEnv {
  readonly VITE_GRAPHQL_URL?: string;
  /** Clerk's publishable key: set, the app signs in with Clerk; unset, with a pasted token. */
  readonly VITE_CLERK_PUBLISHABLE_KEY?: string;
}
