// Messages between the job runner (main thread) and a job's worker thread.
import type { Json } from '../../contract/ipc';
import type { ProgressEvent } from '../util/work-context';

export interface JobWorkerData {
  runId: string;
  kind: string;
  params: { [k: string]: Json };
  /** Scratch folder of this run: jobs write outputs here; the runner publishes them only on success. */
  workDir: string;
  /** Set by the runner when the worker is loaded through the tsx shim. */
  __target?: string;
}

export interface JobArtifactOut { kind: string; /** absolute path inside workDir */ path: string }

export interface JobOutcome {
  result?: Json;
  metrics?: { name: string; value: number; step?: number | null }[];
  artifacts?: JobArtifactOut[];
}

export type FromWorker =
  | { type: 'progress'; event: ProgressEvent }
  | { type: 'log'; line: string }
  | { type: 'done'; outcome: JobOutcome }
  | { type: 'error'; error: { code: string; message: string } };

export type ToWorker = { type: 'cancel' };
