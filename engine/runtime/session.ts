// onnxruntime-node sessions: one place that picks the execution provider, the thread count and the
// optimisation level, and turns ORT's load errors into StudioErrors that name the model.
import * as ort from 'onnxruntime-node';
import { AsyncLocalStorage } from 'node:async_hooks';
import { join } from 'node:path';
import { tmpdir } from 'node:os';
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
  /** Folder external data locations are relative to, for a model given as bytes (default: the
   *  folder of the surrounding withModelFolder() call). */
  baseDir?: string;
  /** false: idle worker threads sleep instead of spin-waiting (on a shared, busy CPU spinning costs
   *  more than it saves). Default: onnxruntime's (spin). */
  spinning?: boolean;
  /** Where onnxruntime writes the graph as optimised (fusions it applied), for code that inspects them. */
  optimizedModelFile?: string;
  /** onnxruntime's log level for this session (0 verbose … 4 fatal; default: onnxruntime's). */
  logSeverity?: 0 | 1 | 2 | 3 | 4;
}

// A model given as bytes has no folder, and onnxruntime then resolves external data against the
// process's working directory: a same-named weights file there would be read silently. Every session
// made from bytes names a folder instead: the model's own (set once around a whole run, so
// calibration, staged capture, evaluation and QAT all inherit it), or a folder that does not exist,
// so a model with external data fails with a clear message rather than reading the cwd's file.
const modelFolder = new AsyncLocalStorage<string>();
const NO_FOLDER = join(tmpdir(), 'qstudio-model-folder-unknown');

/** Run `f` with `baseDir` as the folder external data of models given as bytes is read from. */
export function withModelFolder<T>(baseDir: string, f: () => T): T {
  return modelFolder.run(baseDir, f);
}

/** The folder external data is read from for sessions made from bytes here (undefined: none set). */
export function currentModelFolder(): string | undefined {
  return modelFolder.getStore();
}

/** Session config entries that point a model given as bytes at its external data folder (for code
 *  that calls ort.InferenceSession.create itself). */
export function externalDataFolderEntries(baseDir?: string): { model_external_initializers_file_folder_path: string } {
  return { model_external_initializers_file_folder_path: baseDir ?? modelFolder.getStore() ?? NO_FOLDER };
}

export interface StudioSession {
  session: ort.InferenceSession;
  /** Provider actually used: 'cuda' or 'cpu'. */
  provider: 'cuda' | 'cpu';
  /** Why the requested device was not used, if it was not. */
  notice?: string;
  inputNames: readonly string[];
  outputNames: readonly string[];
  /** Declared input types and shapes (a fixed batch shows as a number on axis 0). */
  inputMetadata: ort.InferenceSession['inputMetadata'];
  run(feeds: Record<string, ort.Tensor>, outputs?: readonly string[]): Promise<Record<string, ort.Tensor>>;
  release(): Promise<void>;
}

function baseOptions(o: SessionOptions): ort.InferenceSession.SessionOptions {
  return {
    graphOptimizationLevel: o.optimization ?? 'all',
    ...(o.threads ? { intraOpNumThreads: o.threads, interOpNumThreads: 1 } : {}),
    executionMode: 'sequential',
    ...(o.spinning === false ? { extra: { session: { intra_op: { allow_spinning: '0' }, inter_op: { allow_spinning: '0' } } } } : {}),
    ...(o.optimizedModelFile ? { optimizedModelFilePath: o.optimizedModelFile } : {}),
    ...(o.logSeverity !== undefined ? { logSeverityLevel: o.logSeverity } : {}),
  };
}

async function createIn(model: string | Uint8Array, opts: ort.InferenceSession.SessionOptions, baseDir: string | undefined): Promise<ort.InferenceSession> {
  if (typeof model === 'string') return ort.InferenceSession.create(model, opts);
  const extra = (opts.extra ?? {}) as { session?: Record<string, unknown> };
  const session = { ...(extra.session ?? {}), ...externalDataFolderEntries(baseDir) };
  return ort.InferenceSession.create(model, { ...opts, extra: { ...extra, session } });
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
  const baseDir = typeof model === 'string' ? undefined : o.baseDir ?? modelFolder.getStore();
  const create = (m: string | Uint8Array, opts: ort.InferenceSession.SessionOptions) => createIn(m, opts, baseDir);
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
    const msg = (e as Error).message.trim();
    if (typeof model !== 'string' && !baseDir && msg.includes(NO_FOLDER)) {
      throw new StudioError('BAD_MODEL', `Model ${quote(source)} keeps tensors in external data, but it was given as bytes with no folder to read that data from (pass baseDir or run inside withModelFolder): onnxruntime said: ${msg}`, { cause: e });
    }
    throw new StudioError('BAD_MODEL', `onnxruntime cannot load model ${quote(source)}: ${msg}`, { cause: e });
  }
  const s = session!;
  return {
    session: s,
    provider,
    notice,
    inputNames: s.inputNames,
    outputNames: s.outputNames,
    inputMetadata: s.inputMetadata,
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
