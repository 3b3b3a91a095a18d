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
    // expect.poll's 1 s default is shorter than one React Flow layout pass on a loaded 2-core machine
    // (a CI run saw the editor's edges still undrawn after 1 s); a poll that can succeed gets 15 s.
    expect: { poll: { timeout: 15_000 } },
  },
});
