// The job kinds a worker can run, loaded lazily so a selftest never loads onnxruntime.
// A kind is `(params, ctx) => JobOutcome`; it reports progress and honours ctx.signal via
// throwIfCancelled(ctx), and writes outputs only under ctx.workDir. A kind imports its types from
// kinds/job-context.ts, never from this table (which imports the kinds: that would be a cycle).
import type { JobFn } from './kinds/job-context';

export const jobKinds: Record<string, () => Promise<JobFn>> = {
  selftest: async () => (await import('./kinds/selftest')).selftestJob,
  quantize: async () => (await import('./kinds/quantize')).quantizeJob,
  analyze: async () => (await import('./kinds/analyze')).analyzeJob,
};
