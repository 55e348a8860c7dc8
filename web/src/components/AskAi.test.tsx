import { act, render, screen } from '@testing-library/react';
import userEvent from '@testing-library/user-event';
import { describe, expect, it } from 'vitest';
import { createMockEnvironment } from 'relay-test-utils';
import { ApiError } from '../errors';
import { operationName, withRelay } from '../test/relay';
import { AskAi } from './AskAi';

describe('AskAi', () => {
  it('sends the question and shows the whole answer', async () => {
    const environment = createMockEnvironment();
    render(withRelay(environment, <AskAi />));
    await userEvent.type(screen.getByLabelText('Question'), 'What is Foundry?');
    await userEvent.click(screen.getByRole('button', { name: 'Ask' }));
    expect(screen.getByRole('button', { name: 'Asking…' })).toBeDisabled();
    const op = environment.mock.getMostRecentOperation();
    expect(operationName(op)).toBe('AskAiMutation');
    expect(op.request.variables).toEqual({ input: { prompt: 'What is Foundry?' } });
    await act(async () =>
      environment.mock.resolve(op, { data: { generate: { text: 'A platform.', model: 'fast', latencyMs: 42 } } }),
    );
    expect(screen.getByText('A platform.')).toBeInTheDocument();
    expect(screen.getByText('fast, 42 ms')).toBeInTheDocument();
  });

  it.each([
    ['AI_UNAVAILABLE', 'The AI service is unavailable right now. Everything else still works; try again later.'],
    ['AI_LIMIT_REACHED', 'Your organization has reached its AI usage limit for now. Try again later.'],
  ])('%s is shown as a sentence and focus returns to the question', async (code, sentence) => {
    const environment = createMockEnvironment();
    render(withRelay(environment, <AskAi />));
    await userEvent.type(screen.getByLabelText('Question'), 'hi');
    await userEvent.click(screen.getByRole('button', { name: 'Ask' }));
    await act(async () => environment.mock.rejectMostRecentOperation(new ApiError(code, 'x')));
    expect(screen.getByRole('alert')).toHaveTextContent(sentence);
    expect(screen.getByLabelText('Question')).toHaveFocus();
  });
});
