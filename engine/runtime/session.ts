// onnxruntime-node sessions: one place that picks the execution provider, the thread count and the
// optimisation level, and turns ORT's load errors into StudioErrors that name the model.
import * as ort from 'onnxruntime-node';
import { StudioError, quote } from '../errors';
import { cudaProviderInstalled } from './hardware';

export type Device = 'auto' | 'cpu' | 'cuda';

export interface SessionOptions {
  device?: Device;
  /** Intra-op threads (0 or undefined: ORT's default, all cores). */
  threads?: number;
  optimization?: 'disabled' | 'basic' | 'extended' | 'all';
  /** Name used in error messages (the model file). */
  source?: string;
}

export interface StudioSession {
  session: ort.InferenceSession;
  /** Provider actually used: 'cuda' or 'cpu'. */
  provider: 'cuda' | 'cpu';
  /** Why the requested device was not used, if it was not. */
  notice?: string;
  inputNames: readonly string[];
  outputNames: readonly string[];
  run(feeds: Record<string, ort.Tensor>, outputs?: readonly string[]): Promise<Record<string, ort.Tensor>>;
  release(): Promise<void>;
}

function baseOptions(o: SessionOptions): ort.InferenceSession.SessionOptions {
  return {
    graphOptimizationLevel: o.optimization ?? 'all',
    ...(o.threads ? { intraOpNumThreads: o.threads, interOpNumThreads: 1 } : {}),
    executionMode: 'sequential',
  };
}

async function create(model: string | Uint8Array, opts: ort.InferenceSession.SessionOptions): Promise<ort.InferenceSession> {
  return typeof model === 'string' ? ort.InferenceSession.create(model, opts) : ort.InferenceSession.create(model, opts);
}

/** Pick 'cuda' when asked for and installed; otherwise 'cpu' with a notice saying why. */
export function chooseProvider(device: Device, cudaInstalled = cudaProviderInstalled()): { provider: 'cuda' | 'cpu'; notice?: string } {
  if (device === 'cpu') return { provider: 'cpu' };
  if (cudaInstalled) return { provider: 'cuda' };
  return {
    provider: 'cpu',
    notice: device === 'cuda'
      ? 'Device "cuda" was requested but this onnxruntime-node install has no CUDA provider library: running on the CPU.'
      : 'No CUDA provider in this onnxruntime-node install: calibration and evaluation run on the CPU.',
  };
}

export async function createSession(model: string | Uint8Array, o: SessionOptions = {}): Promise<StudioSession> {
  const source = o.source ?? (typeof model === 'string' ? model : '<model bytes>');
  let { provider, notice } = chooseProvider(o.device ?? 'auto');
  let session: ort.InferenceSession;
  try {
    if (provider === 'cuda') {
      try {
        session = await create(model, { ...baseOptions(o), executionProviders: ['cuda', 'cpu'] });
      } catch (e) {
        provider = 'cpu';
        notice = `The CUDA provider failed to start (${(e as Error).message.split('\n')[0]}): running on the CPU.`;
        session = await create(model, { ...baseOptions(o), executionProviders: ['cpu'] });
      }
    } else {
      session = await create(model, { ...baseOptions(o), executionProviders: ['cpu'] });
    }
  } catch (e) {
    throw new StudioError('BAD_MODEL', `onnxruntime cannot load model ${quote(source)}: ${(e as Error).message.trim()}`, { cause: e });
  }
  const s = session!;
  return {
    session: s,
    provider,
    notice,
    inputNames: s.inputNames,
    outputNames: s.outputNames,
    async run(feeds, outputs) {
      try {
        return (outputs ? await s.run(feeds, outputs as string[]) : await s.run(feeds)) as Record<string, ort.Tensor>;
      } catch (e) {
        throw new StudioError('RUNTIME_ERROR', `onnxruntime failed running ${quote(source)}: ${(e as Error).message.trim()}`, { cause: e });
      }
    },
    release: () => s.release(),
  };
}

export { ort };
