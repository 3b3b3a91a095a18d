// The worker thread's entry: runs one job kind, forwards progress and logs, honours cancel through an
// AbortSignal, and reports exactly one 'done' or 'error'. (The runner also terminates the thread after
// a grace period if the job ignores cancel.)
import { parentPort, workerData } from 'node:worker_threads';
import { toErrorPayload, StudioError, quote } from '../errors';
import { jobKinds } from './kinds';
import type { FromWorker, JobWorkerData, ToWorker } from './protocol';

const data = workerData as JobWorkerData;
const port = parentPort!;
const send = (m: FromWorker) => port.postMessage(m);
const controller = new AbortController();
port.on('message', (m: ToWorker) => {
  if (m?.type === 'cancel') controller.abort();
});

async function main() {
  const load = jobKinds[data.kind];
  if (!load) throw new StudioError('BAD_ARGUMENT', `Unknown job kind ${quote(data.kind)} (known: ${Object.keys(jobKinds).join(', ')}).`);
  const job = await load();
  const outcome = await job(data.params, {
    runId: data.runId,
    workDir: data.workDir,
    signal: controller.signal,
    onProgress: (event) => send({ type: 'progress', event }),
    log: (line) => send({ type: 'log', line }),
  });
  send({ type: 'done', outcome });
}

main().then(
  () => port.close(),
  (e) => {
    send({ type: 'error', error: toErrorPayload(e) });
    port.close();
  },
);
