// The job kinds a worker can run, loaded lazily so a selftest never loads onnxruntime.
// A kind is `(params, ctx) => JobOutcome`; it reports progress and honours ctx.signal via
// throwIfCancelled(ctx), and writes outputs only under ctx.workDir.
import type { Json } from '../../contract/ipc';
import type { JobOutcome } from './protocol';
import type { WorkContext } from './progress';

export interface JobContext extends WorkContext { workDir: string; runId: string }
export type JobFn = (params: { [k: string]: Json }, ctx: JobContext) => Promise<JobOutcome>;

export const jobKinds: Record<string, () => Promise<JobFn>> = {
  selftest: async () => (await import('./kinds/selftest')).selftestJob,
  quantize: async () => (await import('./kinds/quantize')).quantizeJob,
};
