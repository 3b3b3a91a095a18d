// Worker-thread entry of the analysis pool: receives the shared analysis data once (workerData), then
// runs one variant task per message and posts its result (or its error) back.
import { parentPort, workerData } from 'node:worker_threads';
import { toErrorPayload } from '../errors';
import { runVariant, type AnalysisShared, type VariantTask } from './variant-task';

const shared = (workerData as { shared: AnalysisShared }).shared;
const port = parentPort!;
port.on('message', (task: VariantTask) => {
  runVariant(shared, task).then(
    (result) => port.postMessage({ ok: true, result }),
    (e) => port.postMessage({ ok: false, id: task.id, error: toErrorPayload(e) }),
  );
});
port.postMessage({ ready: true });
