// electron-vite builds three bundles: main (ESM, Node), the preload (CommonJS: sandboxed preloads
// cannot be ES modules), and the React renderer. Main's job worker (engine/jobs/worker.ts) is a
// separate entry via `?modulePath`. Dependencies stay external in main (node_modules ships in the app,
// native modules unpacked from asar); the preload bundles the contract and needs only `electron`.
import { resolve } from 'node:path';
import { defineConfig } from 'electron-vite';
import react from '@vitejs/plugin-react';

export default defineConfig({
  main: {
    build: {
      outDir: 'out/main',
      rollupOptions: { input: { index: resolve(__dirname, 'electron/main/index.ts') } },
    },
  },
  preload: {
    build: {
      outDir: 'out/preload',
      rollupOptions: {
        input: { index: resolve(__dirname, 'electron/preload/index.ts') },
        output: { format: 'cjs', entryFileNames: '[name].cjs' },
      },
    },
  },
  renderer: {
    root: resolve(__dirname, 'renderer'),
    plugins: [react()],
    build: {
      outDir: resolve(__dirname, 'out/renderer'),
      rollupOptions: { input: { index: resolve(__dirname, 'renderer/index.html') } },
    },
  },
});
