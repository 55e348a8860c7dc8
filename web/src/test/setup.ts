import '@testing-library/jest-dom/vitest';
import { cleanup } from '@testing-library/react';
import { afterEach, vi } from 'vitest';

// relay-test-utils spies with the `jest` global; vitest's `vi` is the same API.
(globalThis as unknown as { jest: typeof vi }).jest = vi;

afterEach(() => cleanup());
