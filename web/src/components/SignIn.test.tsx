import { render, screen } from '@testing-library/react';
import userEvent from '@testing-library/user-event';
import { describe, expect, it, vi } from 'vitest';
import { SignIn } from './SignIn';

describe('SignIn', () => {
  it('starts focused on the labelled token field', () => {
    render(<SignIn onSignIn={() => {}} />);
    expect(screen.getByLabelText('Session token')).toHaveFocus();
  });

  it.each([
    ['', 'Paste a session token to sign in.'],
    ['not a token', 'That does not look like a session token (three parts separated by dots).'],
  ])('refuses %j with a message and keeps focus on the field', async (typed, message) => {
    const onSignIn = vi.fn();
    render(<SignIn onSignIn={onSignIn} />);
    const field = screen.getByLabelText('Session token');
    if (typed) await userEvent.type(field, typed);
    await userEvent.click(screen.getByRole('button', { name: 'Sign in' }));
    expect(screen.getByRole('alert')).toHaveTextContent(message);
    expect(field).toHaveFocus();
    expect(field).toHaveAttribute('aria-invalid', 'true');
    expect(onSignIn).not.toHaveBeenCalled();
  });

  it('signs in with the pasted token, a "Bearer " prefix and spaces removed, from the keyboard alone', async () => {
    const onSignIn = vi.fn();
    render(<SignIn onSignIn={onSignIn} notice="Your session expired." />);
    expect(screen.getByRole('status')).toHaveTextContent('Your session expired.');
    await userEvent.paste('  Bearer aaa.bbb.ccc \n');
    await userEvent.tab();
    expect(screen.getByRole('button', { name: 'Sign in' })).toHaveFocus();
    await userEvent.keyboard('{Enter}');
    expect(onSignIn).toHaveBeenCalledWith('aaa.bbb.ccc');
  });
});
