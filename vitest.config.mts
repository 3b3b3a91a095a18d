import { defineConfig } from 'vitest/config';

// Unit + integration tests: real files, real onnxruntime sessions, real SQLite.
// The e2e suite (real Chromium) has its own config: vitest.e2e.config.mts.
export default defineConfig({
  test: {
    include: ['test/**/*.test.ts', 'test/**/*.test.tsx'],
    exclude: ['test/e2e/**', 'node_modules/**'],
    testTimeout: 120_000,
    hookTimeout: 120_000,
    pool: 'forks',
    maxWorkers: 2,
  },
});
