/// <reference types="vitest/config" />
import { defineConfig } from 'vite';
import react from '@vitejs/plugin-react';

// `npm run dev` proxies /graphql to a local api (as CloudFront does in a
// stack), so the client always calls its own origin.
const apiOrigin = process.env.API_ORIGIN ?? 'http://127.0.0.1:8080';

export default defineConfig({
  plugins: [react({ babel: { plugins: ['relay'] } })],
  server: { proxy: { '/graphql': apiOrigin } },
  // React 19 and Relay 21 alone are ~520 kB minified (~155 kB gzipped); the
  // app's own code is a few kB. BENCHMARKS.md tracks the gzipped figure.
  build: { sourcemap: false, target: 'es2022', chunkSizeWarningLimit: 600 },
  test: {
    environment: 'jsdom',
    setupFiles: ['./src/test/setup.ts'],
    include: ['src/**/*.test.{ts,tsx}'],
  },
});
