// What a job kind is given and what it is: the type every kind module implements. A leaf module of
// its own so a kind (kinds/*.ts) and the table that loads them lazily (kinds.ts) both import it
// without importing each other.
import type { Json } from '../../../contract/ipc';
import type { JobOutcome } from '../protocol';
import type { WorkContext } from '../../util/work-context';

export interface JobContext extends WorkContext { workDir: string; runId: string }
export type JobFn = (params: { [k: string]: Json }, ctx: JobContext) => Promise<JobOutcome>;
