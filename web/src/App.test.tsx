import { act, render, screen, waitFor } from '@testing-library/react';
import userEvent from '@testing-library/user-event';
import { afterEach, beforeEach, describe, expect, it, vi } from 'vitest';
import { App } from './App';
import { forgetClerk } from './auth/clerk';
import { ERROR_SENTENCES } from './errors';

type Listener = (resources: { session?: unknown }) => void;

// A stand-in for Clerk's `Clerk` object: only what the app touches.
const clerk = vi.hoisted(() => {
  const listeners = new Set<(resources: { session?: unknown }) => void>();
  const fake = {
    session: null as { getToken: () => Promise<string | null> } | null,
    user: null as unknown,
    load: vi.fn<(options?: unknown) => Promise<void>>(async () => {}),
    mountSignIn: vi.fn<(node: HTMLDivElement) => void>(),
    unmountSignIn: vi.fn<(node: HTMLDivElement) => void>(),
    signOut: vi.fn(async (callback?: () => void) => {
      fake.session = null;
      fake.user = null;
      listeners.forEach((listener) => listener({ session: null }));
      callback?.(); // instead of navigating
    }),
    addListener: vi.fn((listener: (resources: { session?: unknown }) => void) => {
      listeners.add(listener);
      return () => listeners.delete(listener);
    }),
  };
  // Called with `new`: returning an object from a constructor makes it the instance.
  const Clerk = vi.fn<(key: string) => typeof fake>(function () {
    return fake;
  });
  return { fake, Clerk, listeners, ui: { __brand: 'clerk-ui-in-tests' } };
});

vi.mock('@clerk/clerk-js', () => ({ Clerk: clerk.Clerk }));
vi.mock('@clerk/ui', () => ({ ui: clerk.ui }));

const KEY = 'pk_test_Zm91bmRyeS5jbGVyay5hY2NvdW50cy5kZXYk';

function reply(status: number, body: unknown) {
  return new Response(JSON.stringify(body), { status, headers: { 'content-type': 'application/json' } });
}

const unauthenticated = () =>
  reply(401, { errors: [{ message: 'invalid token', extensions: { code: 'UNAUTHENTICATED' } }] });

function stubFetch(impl: () => Promise<Response>) {
  const fetch = vi.fn<typeof globalThis.fetch>(impl);
  vi.stubGlobal('fetch', fetch);
  const authorizations = () => fetch.mock.calls.map(([, init]) => (init?.headers as Record<string, string>).authorization);
  return { fetch, authorizations };
}

function signInWithClerk(getToken: () => Promise<string | null>) {
  clerk.fake.session = { getToken };
  clerk.fake.user = { id: 'user_1' };
}

beforeEach(() => {
  clerk.fake.session = null;
  clerk.fake.user = null;
  clerk.listeners.clear();
  vi.clearAllMocks();
  clerk.Clerk.mockImplementation(function () {
    return clerk.fake;
  });
  clerk.fake.load.mockImplementation(async () => {});
});

afterEach(() => {
  forgetClerk();
  sessionStorage.clear();
  vi.unstubAllGlobals();
  vi.restoreAllMocks();
});

describe('App with a Clerk publishable key', () => {
  it('loads Clerk with the key and its UI, and mounts Clerk’s sign-in under a focused heading', async () => {
    render(<App clerkPublishableKey={KEY} />);
    expect(screen.getByRole('status')).toHaveTextContent('Loading sign-in…');
    await waitFor(() => expect(clerk.fake.mountSignIn).toHaveBeenCalledTimes(1));
    expect(clerk.Clerk).toHaveBeenCalledWith(KEY);
    expect(clerk.fake.load).toHaveBeenCalledWith({ ui: clerk.ui });
    expect(clerk.fake.mountSignIn.mock.calls[0][0]).toBe(screen.getByTestId('clerk-sign-in'));
    expect(screen.getByRole('heading', { name: 'Sign in to Foundry' })).toHaveFocus();
    expect(screen.queryByLabelText('Session token')).not.toBeInTheDocument();
  });

  it('a session signed in on Clerk’s form shows the documents screen', async () => {
    const { authorizations } = stubFetch(() => new Promise<Response>(() => {}));
    render(<App clerkPublishableKey={KEY} />);
    await waitFor(() => expect(clerk.fake.mountSignIn).toHaveBeenCalled());
    act(() => {
      signInWithClerk(async () => 'clerk.token.1');
      clerk.listeners.forEach((listener: Listener) => listener({ session: clerk.fake.session }));
    });
    expect(await screen.findByRole('heading', { name: 'Foundry documents' })).toHaveFocus();
    expect(clerk.fake.unmountSignIn).toHaveBeenCalled();
    await waitFor(() => expect(authorizations()).toEqual(['Bearer clerk.token.1']));
  });

  it('sends each request with a fresh getToken() result; a 401 signs out of Clerk and says why', async () => {
    let n = 0;
    const getToken = vi.fn(async () => `clerk.token.${++n}`);
    signInWithClerk(getToken);
    const { fetch, authorizations } = stubFetch(async () => unauthenticated());
    render(<App clerkPublishableKey={KEY} />);

    // The documents query is answered 401: back to Clerk's sign-in, with the sentence.
    expect(await screen.findByText(ERROR_SENTENCES.UNAUTHENTICATED)).toHaveAttribute('role', 'status');
    expect(clerk.fake.signOut).toHaveBeenCalledExactlyOnceWith(expect.any(Function));
    await waitFor(() => expect(clerk.fake.mountSignIn).toHaveBeenCalled());
    expect(authorizations()).toEqual(['Bearer clerk.token.1']);

    // Signed in again: the next request asks Clerk again and carries the new token.
    fetch.mockImplementation(() => new Promise<Response>(() => {}));
    act(() => {
      signInWithClerk(getToken);
      clerk.listeners.forEach((listener: Listener) => listener({ session: clerk.fake.session }));
    });
    await screen.findByRole('heading', { name: 'Foundry documents' });
    await waitFor(() => expect(authorizations()).toEqual(['Bearer clerk.token.1', 'Bearer clerk.token.2']));
    expect(getToken).toHaveBeenCalledTimes(2);
  });

  it('the Sign out button signs out of Clerk and shows Clerk’s sign-in again', async () => {
    signInWithClerk(async () => 'clerk.token.1');
    stubFetch(() => new Promise<Response>(() => {}));
    render(<App clerkPublishableKey={KEY} />);
    await userEvent.click(await screen.findByRole('button', { name: 'Sign out' }));
    // With a callback, so that Clerk does not navigate (a page load) after signing out.
    expect(clerk.fake.signOut).toHaveBeenCalledExactlyOnceWith(expect.any(Function));
    await waitFor(() => expect(clerk.fake.mountSignIn).toHaveBeenCalledTimes(1));
    expect(screen.getByRole('heading', { name: 'Sign in to Foundry' })).toBeInTheDocument();
    expect(screen.queryByRole('status')).not.toBeInTheDocument();
  });

  it.each([
    [
      'a key Clerk refuses',
      () =>
        clerk.Clerk.mockImplementation(function () {
          throw new Error('Publishable key not valid.');
        }),
      ERROR_SENTENCES.CLERK_KEY_INVALID,
    ],
    [
      'Clerk unreachable',
      () => clerk.fake.load.mockRejectedValue(new TypeError('Failed to fetch')),
      ERROR_SENTENCES.CLERK_UNAVAILABLE,
    ],
  ])('%s: one sentence, no stack trace', async (_case, arrange, sentence) => {
    const warn = vi.spyOn(console, 'warn').mockImplementation(() => {});
    arrange();
    render(<App clerkPublishableKey={KEY} />);
    const alert = await screen.findByRole('alert');
    expect(alert).toHaveTextContent(sentence);
    expect(alert.textContent).not.toMatch(/Error|at |Failed to fetch|Publishable key not valid/);
    expect(clerk.fake.mountSignIn).not.toHaveBeenCalled();
    expect(warn).toHaveBeenCalled();
  });
});

describe('App without a Clerk publishable key', () => {
  it('asks for a pasted token, never loads Clerk, and sends the token as the bearer', async () => {
    const { authorizations } = stubFetch(() => new Promise<Response>(() => {}));
    render(<App clerkPublishableKey="" />);
    expect(screen.getByLabelText('Session token')).toHaveFocus();
    await userEvent.paste('aaa.bbb.ccc');
    await userEvent.click(screen.getByRole('button', { name: 'Sign in' }));
    expect(await screen.findByRole('heading', { name: 'Foundry documents' })).toHaveFocus();
    await waitFor(() => expect(authorizations()).toEqual(['Bearer aaa.bbb.ccc']));
    expect(clerk.Clerk).not.toHaveBeenCalled();
  });

  it('a 401 sends the pasted-token user back to the token field with the sentence', async () => {
    sessionStorage.setItem('foundry.token', 'aaa.bbb.ccc');
    stubFetch(async () => unauthenticated());
    render(<App clerkPublishableKey="" />);
    expect(await screen.findByText(ERROR_SENTENCES.UNAUTHENTICATED)).toHaveAttribute('role', 'status');
    expect(screen.getByLabelText('Session token')).toHaveFocus();
    expect(sessionStorage.getItem('foundry.token')).toBeNull();
  });
});
