// The api's typed error codes (`errors[].extensions.code`), as sentences a
// person can act on. The api's own message is kept for the logs and the
// console only: it may be terse or technical.

export const ERROR_SENTENCES: Record<string, string> = {
  UNAUTHENTICATED: 'Your session is not valid or has expired. Sign in again.',
  AUTH_UNAVAILABLE: 'Sign-in cannot be checked right now. Try again in a moment.',
  BAD_USER_INPUT: 'Some of what you entered was not accepted. Check it and try again.',
  NOT_FOUND: 'That item no longer exists, or belongs to another organization.',
  RATE_LIMITED: 'Too many requests in a short time. Wait a little and try again.',
  TOO_MANY_MUTATIONS: 'Too many changes were sent at once. Make fewer changes at a time.',
  DATABASE_UNAVAILABLE: 'The service cannot reach its database right now. Try again shortly.',
  INTERNAL: 'Something went wrong on our side. Try again; if it keeps happening, contact support.',
  STORAGE_UNAVAILABLE: 'File storage is unavailable right now. Try the upload again shortly.',
  UPLOAD_REJECTED: 'The uploaded file did not match what was announced (size or type). Upload it again.',
  AI_UNAVAILABLE: 'The AI service is unavailable right now. Everything else still works; try again later.',
  AI_TIMEOUT: 'The AI service took too long to answer. Try again, perhaps with a shorter question.',
  AI_REJECTED: 'The AI service did not accept this question. Rephrase it and try again.',
  AI_LIMIT_REACHED: "Your organization has reached its AI usage limit for now. Try again later.",
  AI_BAD_RESPONSE: 'The AI service sent an answer that could not be read. Try again.',
  PERSISTED_QUERY_NOT_ALLOWED:
    'This version of the app is not allowed by the server. Reload the page to get the current version.',
  PERSISTED_QUERY_NOT_FOUND:
    'This version of the app is not known to the server. Reload the page to get the current version.',
  // The client's own, not the api's.
  NETWORK: 'The service cannot be reached. Check your connection and try again.',
  NO_FILE: 'Choose a file to upload first.',
  CLERK_KEY_INVALID:
    "Sign-in is not set up correctly: this build's Clerk publishable key is not valid. Contact the site's administrators.",
  CLERK_UNAVAILABLE: 'The sign-in service cannot be reached right now. Check your connection and reload the page.',
};

const UNKNOWN = 'Something unexpected went wrong. Try again.';

/** An error the api answered with, carrying its code. */
export class ApiError extends Error {
  readonly code: string;
  readonly retryAfterSecs?: number;

  constructor(code: string, message: string, retryAfterSecs?: number) {
    super(message);
    this.name = 'ApiError';
    this.code = code;
    this.retryAfterSecs = retryAfterSecs;
  }
}

/** The sentence for a code; unknown codes get a generic one, never the raw code. */
export function sentenceForCode(code: string | undefined): string {
  return (code && ERROR_SENTENCES[code]) || UNKNOWN;
}

/** What to show a person for any thrown value. */
export function describeError(error: unknown): string {
  const code = errorCode(error);
  const sentence = sentenceForCode(code);
  if (error instanceof ApiError && error.retryAfterSecs !== undefined && code === 'RATE_LIMITED') {
    return `${sentence.replace(/ Wait a little and try again\.$/, '')} Try again in ${error.retryAfterSecs} s.`;
  }
  return sentence;
}

export function errorCode(error: unknown): string | undefined {
  if (error instanceof ApiError) return error.code;
  // Relay wraps network errors thrown by the fetch function; look inside.
  if (error instanceof Error && error.cause !== undefined) return errorCode(error.cause);
  if (error instanceof TypeError) return 'NETWORK';
  return undefined;
}

type GraphQLErrorShape = { message?: string; extensions?: { code?: string; retryAfter?: number } };

/** The first error of a GraphQL response as an ApiError. */
export function apiErrorFrom(errors: GraphQLErrorShape[]): ApiError {
  const first = errors[0] ?? {};
  return new ApiError(
    first.extensions?.code ?? 'INTERNAL',
    first.message ?? 'unknown error',
    first.extensions?.retryAfter,
  );
}
