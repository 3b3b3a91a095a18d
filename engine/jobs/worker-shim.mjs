// Loads a TypeScript worker entry through tsx when running from source (tests, CLI, browser host):
// `new Worker(shim, { workerData: { ..., __target: fileURL } })`. The Electron build uses
// electron-vite's bundled worker entry instead (electron/main passes its `?modulePath`).
import { register } from 'tsx/esm/api';
import { workerData } from 'node:worker_threads';

register();
await import(workerData.__target);
