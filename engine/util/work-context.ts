// How long engine work reports progress and honours cancel. Every long-running engine function
// takes `ctx?: WorkContext`; the job runner, the CLI (stderr bar) and tests supply one. A floor module
// (it imports only errors.ts): calibration, algorithms, export, evaluation and analysis all take it.
import { StudioError } from '../errors';

export interface ProgressEvent {
  /** Short stage id, e.g. 'load', 'calibrate', 'quantize', 'gptq', 'export', 'evaluate', 'qat'. */
  stage: string;
  /** 0..1 within the whole job when known. */
  fraction: number;
  message?: string;
  /** Free-form numbers for live plots (e.g. { step, loss, metric } during QAT). */
  metrics?: Record<string, number>;
}

export interface WorkContext {
  onProgress?: (e: ProgressEvent) => void;
  signal?: AbortSignal;
  log?: (line: string) => void;
}

export function throwIfCancelled(ctx?: WorkContext): void {
  if (ctx?.signal?.aborted) throw new StudioError('CANCELLED', 'The job was cancelled.');
}

/** Map a sub-task's 0..1 progress into [from, to] of the parent's range. */
export function subProgress(ctx: WorkContext | undefined, stage: string, from: number, to: number): WorkContext {
  return {
    ...ctx,
    onProgress: (e) => ctx?.onProgress?.({ ...e, stage: e.stage || stage, fraction: from + (to - from) * Math.min(1, Math.max(0, e.fraction)) }),
  };
}
