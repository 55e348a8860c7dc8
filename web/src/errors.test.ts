import { describe, expect, it } from 'vitest';
import { ApiError, ERROR_SENTENCES, apiErrorFrom, describeError, errorCode, sentenceForCode } from './errors';

// Every code the api documents (services/api: error.rs, ai.rs, auth, extensions.rs).
const API_CODES = [
  'UNAUTHENTICATED',
  'AUTH_UNAVAILABLE',
  'BAD_USER_INPUT',
  'NOT_FOUND',
  'RATE_LIMITED',
  'TOO_MANY_MUTATIONS',
  'DATABASE_UNAVAILABLE',
  'INTERNAL',
  'STORAGE_UNAVAILABLE',
  'UPLOAD_REJECTED',
  'AI_UNAVAILABLE',
  'AI_TIMEOUT',
  'AI_REJECTED',
  'AI_LIMIT_REACHED',
  'AI_BAD_RESPONSE',
  'PERSISTED_QUERY_NOT_ALLOWED',
  'PERSISTED_QUERY_NOT_FOUND',
];

describe('error codes as sentences', () => {
  it.each(API_CODES)('%s has its own sentence, which never shows the code', (code) => {
    const sentence = sentenceForCode(code);
    expect(sentence).toBe(ERROR_SENTENCES[code]);
    expect(sentence).not.toContain(code);
    expect(sentence).toMatch(/^[A-Z].*\.$/);
  });

  it('no two codes share a sentence', () => {
    const sentences = API_CODES.map(sentenceForCode);
    expect(new Set(sentences).size).toBe(sentences.length);
  });

  it.each([undefined, '', 'SOMETHING_NEW'])('an unknown code %j gets a generic sentence', (code) => {
    expect(sentenceForCode(code)).toBe('Something unexpected went wrong. Try again.');
  });

  it.each([
    [new ApiError('AI_TIMEOUT', 'the AI service timed out'), ERROR_SENTENCES.AI_TIMEOUT],
    [new Error('relay', { cause: new ApiError('NOT_FOUND', 'not found') }), ERROR_SENTENCES.NOT_FOUND],
    [new TypeError('Failed to fetch'), ERROR_SENTENCES.NETWORK],
    [new ApiError('RATE_LIMITED', 'slow down', 42), 'Too many requests in a short time. Try again in 42 s.'],
    ['a string', 'Something unexpected went wrong. Try again.'],
  ])('describeError(%s)', (error, sentence) => {
    expect(describeError(error)).toBe(sentence);
  });

  it('takes the first GraphQL error, its code and retryAfter', () => {
    const error = apiErrorFrom([
      { message: 'rate limit exceeded; retry later', extensions: { code: 'RATE_LIMITED', retryAfter: 7 } },
      { message: 'other', extensions: { code: 'INTERNAL' } },
    ]);
    expect([error.code, error.message, error.retryAfterSecs]).toEqual(['RATE_LIMITED', 'rate limit exceeded; retry later', 7]);
    expect(errorCode(apiErrorFrom([{ message: 'no code' }]))).toBe('INTERNAL');
  });
});
