/// <reference types="vite/client" />
interface ImportMetaEnv {
  readonly VITE_GRAPHQL_URL?: string;
  /** Clerk's publishable key (pk_test_... / pk_live_...); empty: sign in by pasting a token. */
  readonly VITE_CLERK_PUBLISHABLE_KEY?: string;
}
