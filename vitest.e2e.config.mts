import { defineConfig } from 'vitest/config';

// End-to-end: the built renderer (`electron-vite build` runs first, see `npm run test:e2e`) in real
// headless Chromium through the browser host, against the real engine and a real SQLite file.
// One worker: every test file starts a host and a browser; 2 cores.
export default defineConfig({
  test: {
    include: ['test/e2e/**/*.e2e.test.ts'],
    testTimeout: 180_000,
    hookTimeout: 120_000,
    pool: 'forks',
    maxWorkers: 1,
    fileParallelism: false,
  },
});
