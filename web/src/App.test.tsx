import { render, screen, waitFor } from '@testing-library/react';
import userEvent from '@testing-library/user-event';
import { afterEach, beforeEach, describe, expect, it, vi } from 'vitest';
import { App } from './App';

// Clerk's SDK, replaced: what the app asks of it is recorded per instance.
const clerk = vi.hoisted(() => ({
  instances: [] as FakeClerk[],
  session: null as null | { getToken: () => Promise<string | null> },
  loadError: null as Error | null,
}));

interface FakeClerk {
  key: string;
  session: null | { getToken: () => Promise<string | null> };
  mounted: HTMLDivElement[];
  listeners: ((r: { session?: unknown }) => void)[];
  signOut: ReturnType<typeof vi.fn>;
}

vi.mock('@clerk/clerk-js', () => ({
  Clerk: class {
    key: string;
    session = clerk.session;
    user = null;
    mounted: HTMLDivElement[] = [];
    listeners: ((r: { session?: unknown }) => void)[] = [];
    signOut = vi.fn(async () => {
      this.session = null;
      for (const l of this.listeners) l({ session: null });
    });
    constructor(key: string) {
      this.key = key;
      clerk.instances.push(this as unknown as FakeClerk);
    }
    async load() {
      if (clerk.loadError) throw clerk.loadError;
    }
    mountSignIn(node: HTMLDivElement) {
      this.mounted.push(node);
    }
    unmountSignIn(node: HTMLDivElement) {
      this.mounted = this.mounted.filter((n) => n !== node);
    }
    addListener(listener: (r: { session?: unknown }) => void) {
      this.listeners.push(listener);
      return () => {
        this.listeners = this.listeners.filter((l) => l !== listener);
      };
    }
  },
}));

const fetch = vi.fn<typeof globalThis.fetch>();

beforeEach(() => {
  clerk.instances.length = 0;
  clerk.session = null;
  clerk.loadError = null;
  fetch.mockReset();
  vi.stubGlobal('fetch', fetch);
  sessionStorage.clear();
});

afterEach(() => vi.unstubAllGlobals());

function authorizations() {
  return fetch.mock.calls.map(([, init]) => (init?.headers as Record<string, string>).authorization);
}

describe('signing in with Clerk', () => {
  it('mounts Clerk’s sign-in with the publishable key when no one is signed in', async () => {
    render(<App clerkKey="pk_test_abc" />);
    expect(await screen.findByRole('heading', { name: 'Sign in to Foundry' })).toBeInTheDocument();
    const [instance] = clerk.instances;
    expect(instance.key).toBe('pk_test_abc');
    expect(instance.mounted).toEqual([screen.getByTestId('clerk-sign-in')]);
    expect(screen.queryByLabelText('Session token')).not.toBeInTheDocument();
    expect(fetch).not.toHaveBeenCalled();
  });

  it('asks the session for a token on every request, and signs out on UNAUTHENTICATED, saying why', async () => {
    const getToken = vi.fn<() => Promise<string | null>>().mockResolvedValueOnce('clerk.jwt.1').mockResolvedValue('clerk.jwt.2');
    clerk.session = { getToken };
    fetch.mockResolvedValue(
      new Response(JSON.stringify({ errors: [{ message: 'expired', extensions: { code: 'UNAUTHENTICATED' } }] }), {
        status: 401,
        headers: { 'content-type': 'application/json' },
      }),
    );
    render(<App clerkKey="pk_test_abc" />);
    const notice = await screen.findByText('Your session is not valid or has expired. Sign in again.');
    expect(notice).toHaveAttribute('role', 'status');
    expect(authorizations()[0]).toBe('Bearer clerk.jwt.1');
    expect(getToken).toHaveBeenCalledTimes(fetch.mock.calls.length);
    const [instance] = clerk.instances;
    expect(instance.signOut).toHaveBeenCalled();
    expect(instance.mounted).toHaveLength(1);
  });

  it('signs out through Clerk from the documents screen', async () => {
    clerk.session = { getToken: () => Promise.resolve('clerk.jwt.1') };
    fetch.mockReturnValue(new Promise(() => {}));
    render(<App clerkKey="pk_test_abc" />);
    const button = await screen.findByRole('button', { name: 'Sign out' });
    expect(screen.getByRole('heading', { name: 'Foundry documents' })).toHaveFocus();
    await waitFor(() => expect(authorizations()).toEqual(['Bearer clerk.jwt.1']));
    await userEvent.click(button);
    expect(clerk.instances[0].signOut).toHaveBeenCalled();
    expect(await screen.findByTestId('clerk-sign-in')).toBeInTheDocument();
  });

  it('says in one sentence that sign-in is unavailable when Clerk cannot load', async () => {
    clerk.loadError = new Error('invalid publishable key');
    render(<App clerkKey="pk_test_bad" />);
    expect(await screen.findByRole('alert')).toHaveTextContent(
      'Sign-in is unavailable: Clerk could not be loaded (invalid publishable key). Check VITE_CLERK_PUBLISHABLE_KEY and the network, then reload the page.',
    );
  });
});

describe('without a Clerk key', () => {
  it('signs in with a pasted token and never loads Clerk', async () => {
    fetch.mockReturnValue(new Promise(() => {}));
    render(<App clerkKey="" />);
    await userEvent.click(screen.getByLabelText('Session token'));
    await userEvent.paste('aaa.bbb.ccc');
    await userEvent.click(screen.getByRole('button', { name: 'Sign in' }));
    await waitFor(() => expect(authorizations()).toEqual(['Bearer aaa.bbb.ccc']));
    expect(clerk.instances).toHaveLength(0);
  });
});
