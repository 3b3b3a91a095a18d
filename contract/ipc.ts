// THE IPC contract: every channel between the renderer and the engine, with its request and response
// validators, and the push events. Used by the Electron preload (window.studio), the main-process
// handlers, the browser host (WebSocket) and the renderer. It imports nothing but ./validate (and the
// recipe's type from ./recipe).
//
// Wire format: a call is `{ channel, request }`; the answer is `{ ok: true, value }` or
// `{ ok: false, error: { code, message } }`. Requests are validated on both sides of the wire
// (the client before sending, the server before handling); responses are validated by the client.
//
// Adding channels: append a block at the end, e.g. `export const studioChannels = {...}`
// in the same style, and spread it into `channels` in the marked line. Keep names `area.verb`.
import {
  arr, bool, json, jsonObject, nullable, num, obj, oneOf, opt, record, str, tagged,
  ContractError, type Infer, type Validator, type Json,
} from './validate';
import type { RecipeInput } from './recipe';

export { ContractError, type Infer, type Validator, type Json };

export interface ErrorPayload { code: string; message: string }
export type Result<T> = { ok: true; value: T } | { ok: false; error: ErrorPayload };

// ---------- shared shapes ----------
const id = str({ min: 1, max: 64, pattern: /^[A-Za-z0-9_-]+$/ });
const name = str({ min: 1, max: 200 });
const isoTime = str({ max: 40 });
const text = str({ max: 10_000 });
const empty = obj({});

export const ProjectV = obj({
  id, name, description: str({ max: 2000 }), createdAt: isoTime, updatedAt: isoTime,
  /** Absolute path of the project's folder on disk (models, datasets, run outputs live inside). */
  dir: str({ max: 4096 }),
});
export type Project = Infer<typeof ProjectV>;

const TensorInfoV = obj({ name: str({ max: 1000 }), elemType: str({ max: 40 }), shape: arr(nullable(oneOfNumOrStr()), { max: 64 }) });
function oneOfNumOrStr(): Validator<number | string> {
  return (v, p) => (typeof v === 'number' && Number.isFinite(v)) || typeof v === 'string' ? v : num()(v, p);
}
export type TensorInfo = Infer<typeof TensorInfoV>;

export const ModelV = obj({
  id, projectId: id, name,
  /** Path relative to the project folder. */
  file: str({ max: 4096 }),
  sha256: str({ min: 64, max: 64 }), sizeBytes: num({ min: 0 }), opset: num({ int: true, min: 0 }),
  inputs: arr(TensorInfoV, { max: 10_000 }), outputs: arr(TensorInfoV, { max: 10_000 }),
  nodeCount: num({ int: true, min: 0 }), createdAt: isoTime,
});
export type ModelInfo = Infer<typeof ModelV>;

export const DatasetV = obj({
  id, projectId: id, name, kind: oneOf('npy', 'images', 'text'), file: str({ max: 4096 }),
  options: jsonObject(), createdAt: isoTime,
});
export type DatasetInfo = Infer<typeof DatasetV>;

export const PipelineV = obj({ id, projectId: id, name, graph: jsonObject(), createdAt: isoTime, updatedAt: isoTime });
export type PipelineInfo = Infer<typeof PipelineV>;

export const RunStatusV = oneOf('queued', 'running', 'succeeded', 'failed', 'cancelled');
export type RunStatus = Infer<typeof RunStatusV>;

export const RunV = obj({
  id, projectId: id, pipelineId: nullable(id), kind: str({ min: 1, max: 40 }), status: RunStatusV,
  progress: num({ min: 0, max: 1 }), stage: str({ max: 200 }), message: str({ max: 2000 }),
  params: jsonObject(), result: nullable(json()), error: nullable(obj({ code: str({ max: 60 }), message: text })),
  createdAt: isoTime, startedAt: nullable(isoTime), finishedAt: nullable(isoTime),
  timings: record(num()),
});
export type RunInfo = Infer<typeof RunV>;

export const MetricV = obj({ runId: id, name: str({ min: 1, max: 200 }), value: num(), step: nullable(num()) });
export type MetricInfo = Infer<typeof MetricV>;

export const ArtifactV = obj({
  id, runId: id, projectId: id, kind: str({ min: 1, max: 40 }), file: str({ max: 4096 }),
  sizeBytes: num({ min: 0 }), sha256: str({ min: 64, max: 64 }), createdAt: isoTime,
});
export type ArtifactInfo = Infer<typeof ArtifactV>;

/** A file the user chose: a path (Electron dialog, CLI) or an upload id (browser host's POST /upload). */
export const FileRefV = tagged('kind', {
  path: obj({ kind: oneOf('path'), path: str({ min: 1, max: 4096 }) }),
  upload: obj({ kind: oneOf('upload'), uploadId: id, name: str({ min: 1, max: 255 }) }),
});
export type FileRef = Infer<typeof FileRefV>;

const FileFilterV = obj({ name: str({ max: 100 }), extensions: arr(str({ min: 1, max: 20 }), { max: 20 }) });

// ---------- run params ----------
/**
 * params of a "quantize" run as a client sends them: ids only (the service derives every path the
 * worker reads). The recipe is the contract's recipe (contract/recipe.ts); the service judges it with
 * that schema before a run row exists (BAD_RECIPE). Other keys pass through to the kind's handler.
 */
export interface QuantizeRunParams {
  modelId: string;
  recipe?: RecipeInput;
  datasetId?: string;
  /** The model input the dataset feeds (default: the model's first input). */
  inputName?: string;
  labelsDatasetId?: string;
  outputName?: string;
}

const quantizeRunParamsV: Validator<{ [k: string]: Json }> = (v, p) => {
  const o = jsonObject()(v, p);
  id(o.modelId, `${p}.modelId`);
  for (const k of ['datasetId', 'labelsDatasetId'] as const) if (o[k] !== undefined) id(o[k], `${p}.${k}`);
  for (const k of ['inputName', 'outputName'] as const) if (o[k] !== undefined) str({ min: 1, max: 1000 })(o[k], `${p}.${k}`);
  if (o.recipe !== undefined) jsonObject()(o.recipe, `${p}.recipe`);
  return o;
};

/** runs.start's request: a quantize run's params are typed on the wire, other kinds take a JSON object. */
const runStartV: Validator<{ projectId: string; pipelineId?: string; kind: string; params?: { [k: string]: Json } }> = (v, p) => {
  const r = obj({ projectId: id, pipelineId: opt(id), kind: str({ min: 1, max: 40 }), params: opt(jsonObject()) })(v, p);
  if (r.kind === 'quantize') quantizeRunParamsV(r.params ?? {}, `${p}.params`);
  return r;
};

/** A quantize run's params in the form runs.start takes them. */
export function quantizeRunParams(p: QuantizeRunParams): { [k: string]: Json } {
  return JSON.parse(JSON.stringify(p)) as { [k: string]: Json };
}

// ---------- channels ----------
const ch = <Req, Res>(request: Validator<Req>, response: Validator<Res>) => ({ request, response });

export const coreChannels = {
  'app.info': ch(empty, obj({ version: str(), host: oneOf('electron', 'browser'), dataDir: str({ max: 4096 }), platform: str() })),

  'projects.list': ch(empty, arr(ProjectV)),
  'projects.get': ch(obj({ id }), ProjectV),
  'projects.create': ch(obj({ name, description: opt(str({ max: 2000 })) }), ProjectV),
  'projects.rename': ch(obj({ id, name }), ProjectV),
  'projects.delete': ch(obj({ id }), obj({ deleted: bool })),

  'models.list': ch(obj({ projectId: id }), arr(ModelV)),
  'models.get': ch(obj({ id }), ModelV),
  /** Copies the file into the project folder, hashes it and reads opset and inputs/outputs. */
  'models.import': ch(obj({ projectId: id, file: FileRefV, name: opt(name) }), ModelV),
  'models.delete': ch(obj({ id }), obj({ deleted: bool })),

  'datasets.list': ch(obj({ projectId: id }), arr(DatasetV)),
  'datasets.add': ch(obj({ projectId: id, name, kind: oneOf('npy', 'images', 'text'), file: FileRefV, options: opt(jsonObject()) }), DatasetV),
  'datasets.delete': ch(obj({ id }), obj({ deleted: bool })),

  'pipelines.list': ch(obj({ projectId: id }), arr(PipelineV)),
  'pipelines.get': ch(obj({ id }), PipelineV),
  /** Creates (no id) or updates (id) a pipeline: the recipe graph as JSON. */
  'pipelines.save': ch(obj({ projectId: id, id: opt(id), name, graph: jsonObject() }), PipelineV),
  'pipelines.delete': ch(obj({ id }), obj({ deleted: bool })),

  'runs.list': ch(obj({ projectId: id }), arr(RunV)),
  'runs.get': ch(obj({ id }), RunV),
  'runs.logs': ch(obj({ id, after: opt(num({ int: true, min: 0 })) }), arr(obj({ seq: num({ int: true }), time: isoTime, line: text }))),
  /** Starts a job in a worker thread: kind 'quantize' (params: modelId, recipe, datasetId…) or 'selftest'. */
  'runs.start': ch(runStartV, RunV),
  'runs.cancel': ch(obj({ id }), RunV),

  'metrics.list': ch(obj({ runId: id }), arr(MetricV)),
  'artifacts.list': ch(obj({ projectId: id, runId: opt(id) }), arr(ArtifactV)),
  /** Copies an artifact to a chosen path (atomic). */
  'artifacts.export': ch(obj({ id, destPath: str({ min: 1, max: 4096 }) }), obj({ path: str({ max: 4096 }), sizeBytes: num({ min: 0 }) })),

  /** Native file dialogs: Electron only (the browser host answers UNSUPPORTED; the browser uploads instead). */
  'dialog.openFile': ch(obj({ title: opt(str({ max: 200 })), filters: opt(arr(FileFilterV, { max: 10 })), directory: opt(bool) }), obj({ path: nullable(str({ max: 4096 })) })),
  'dialog.saveFile': ch(obj({ title: opt(str({ max: 200 })), defaultName: opt(str({ max: 255 })), filters: opt(arr(FileFilterV, { max: 10 })) }), obj({ path: nullable(str({ max: 4096 })) })),
} as const;

// ---- studio block (append channels here in the same style) ----
// Sample projects, the model graph, tensor statistics for the range/histogram views, hardware.
const tensorName = str({ min: 1, max: 1000 });
const dimV = nullable(oneOfNumOrStr());

export const SampleV = obj({ id, title: name, description: str({ max: 2000 }), sizeBytes: num({ min: 0 }), files: arr(str({ max: 255 }), { max: 50 }) });
export type SampleInfo = Infer<typeof SampleV>;

export const GraphTensorV = obj({
  name: tensorName, kind: oneOf('weight', 'activation', 'input', 'output'), dtype: str({ max: 40 }),
  shape: arr(dimV, { max: 64 }), elements: nullable(num({ min: 0 })),
});
export type GraphTensor = Infer<typeof GraphTensorV>;
export const GraphNodeV = obj({
  id: str({ min: 1, max: 1000 }), name: str({ max: 1000 }), opType: str({ min: 1, max: 100 }), domain: str({ max: 200 }),
  inputs: arr(str({ max: 1000 }), { max: 1000 }), outputs: arr(str({ max: 1000 }), { max: 1000 }),
  /** Inputs that are weights (initializers or folded Constant nodes). */
  weights: arr(str({ max: 1000 }), { max: 1000 }),
  attributes: record(str({ max: 400 }), { maxKeys: 100 }),
});
export type GraphNode = Infer<typeof GraphNodeV>;
export const GraphViewV = obj({
  modelId: id, opset: num({ int: true, min: 0 }), producer: str({ max: 400 }),
  nodes: arr(GraphNodeV, { max: 50_000 }),
  edges: arr(obj({ source: str({ max: 1000 }), target: str({ max: 1000 }), tensor: str({ max: 1000 }) }), { max: 200_000 }),
  tensors: arr(GraphTensorV, { max: 200_000 }),
});
export type GraphView = Infer<typeof GraphViewV>;

const RangeMethodV = oneOf('minmax', 'percentile', 'entropy', 'mse');
export const QuantChoiceV = obj({
  method: RangeMethodV, scheme: oneOf('symmetric', 'asymmetric'), dtype: str({ max: 10 }),
  /** The calibrated float range, and the range the integer grid actually covers. */
  rangeMin: num(), rangeMax: num(), gridMin: num(), gridMax: num(),
  scale: num({ min: 0 }), zeroPoint: num({ int: true }), qmin: num({ int: true }), qmax: num({ int: true }),
  /** Fraction of values outside the grid (saturated). */
  clippedFraction: num({ min: 0, max: 1 }),
  /** Integer codes no value maps to because they lie outside the data's range. */
  wastedCodes: num({ int: true, min: 0 }),
  mse: num({ min: 0 }), sqnrDb: num(),
});
export type QuantChoice = Infer<typeof QuantChoiceV>;
export const TensorStatsV = obj({
  tensor: tensorName, kind: oneOf('weight', 'activation'), dtype: str({ max: 40 }), shape: arr(dimV, { max: 64 }),
  count: num({ min: 0 }), min: num(), max: num(), mean: num(), std: num({ min: 0 }),
  /** `counts[i]` values fall in [lo + i·w, lo + (i+1)·w), w = (hi − lo) / counts.length. */
  histogram: obj({ lo: num(), hi: num(), counts: arr(num({ min: 0 }), { max: 4096 }) }),
  /** Whether the numbers are exact (weights) or estimated from the calibrators' histogram (activations). */
  exact: bool,
  choices: arr(QuantChoiceV, { max: 32 }),
  /** Weights: min/max per output channel (AIMET's per-channel range plot). */
  perChannel: nullable(obj({ axis: num({ int: true, min: 0 }), min: arr(num(), { max: 100_000 }), max: arr(num(), { max: 100_000 }) })),
  /** Activations: dataset and sample count used. */
  source: str({ max: 400 }),
});
export type TensorStats = Infer<typeof TensorStatsV>;
export const ActivationRangeV = obj({ tensor: tensorName, node: str({ max: 1000 }), opType: str({ max: 100 }), min: num(), max: num(), p999Min: num(), p999Max: num() });
export type ActivationRange = Infer<typeof ActivationRangeV>;

export const HardwareV = obj({
  cpuModel: str({ max: 400 }), cores: num({ int: true, min: 0 }), arch: str({ max: 40 }), platform: str({ max: 40 }), memoryBytes: num({ min: 0 }),
  flags: record(bool, { maxKeys: 40 }),
  gpus: arr(obj({ name: str({ max: 400 }), memoryBytes: nullable(num({ min: 0 })), source: str({ max: 100 }) }), { max: 16 }),
  providers: arr(obj({ name: str({ max: 60 }), bundled: bool, available: bool }), { max: 20 }),
  notes: arr(str({ max: 1000 }), { max: 20 }),
});
export type HardwareInfoV = Infer<typeof HardwareV>;

/** The native kernel addon's own view (native-kernels/lib hardwareSummary(): cpuid flags, the CUDA device or why none). */
export const NativeHardwareV = obj({
  addon: obj({ loaded: bool, error: nullable(str({ max: 4000 })), path: nullable(str({ max: 4096 })) }),
  cpu: obj({
    vendor: str({ max: 100 }), brand: str({ max: 400 }), threads: num({ int: true, min: 0 }),
    flags: record(bool, { maxKeys: 40 }),
    amxNote: str({ max: 1000 }),
  }),
  gpu: obj({
    compiled: bool, available: bool, reason: str({ max: 2000 }), name: str({ max: 400 }), computeCapability: str({ max: 20 }),
    multiprocessors: num({ int: true, min: 0 }), totalMemory: num({ min: 0 }), freeMemory: num({ min: 0 }),
    driverVersion: num({ int: true, min: 0 }), runtimeVersion: num({ int: true, min: 0 }), deviceCount: num({ int: true, min: 0 }), archs: str({ max: 200 }),
  }),
  cpuKernels: str({ max: 100 }), gemmKernel: str({ max: 100 }),
});
export type NativeHardware = Infer<typeof NativeHardwareV>;

export const RunEvaluationV = obj({
  runId: id, batch: num({ int: true, min: 1 }), threads: num({ int: true, min: 0 }), samples: num({ int: true, min: 0 }),
  /** Fastest of the interleaved timed runs (the statistic a loaded machine's preemptions do not inflate). */
  fp32Ms: num({ min: 0 }), quantMs: num({ min: 0 }), speedup: num({ min: 0 }),
  /** Median wall time and process CPU time per run (1 thread: the compute time), for the record. */
  fp32MedianMs: opt(num({ min: 0 })), quantMedianMs: opt(num({ min: 0 })),
  fp32CpuMs: opt(num({ min: 0 })), quantCpuMs: opt(num({ min: 0 })),
  runs: opt(num({ int: true, min: 0 })),
  /** Top-1 on the project's labels (classifiers) or perplexity on the calibration windows (byte LMs). */
  metric: nullable(obj({ name: str({ max: 60 }), fp32: num(), quant: num(), higherIsBetter: bool })),
});
export type RunEvaluation = Infer<typeof RunEvaluationV>;

export const studioChannels = {
  'samples.list': ch(empty, arr(SampleV, { max: 100 })),
  /** Copies a sample into a new project (model, datasets); answers with the project and the sample's recipe. */
  'samples.open': ch(obj({ sampleId: id, name: opt(name) }), obj({ project: ProjectV, recipe: jsonObject() })),
  'graph.view': ch(obj({ modelId: id }), GraphViewV),
  /** Histogram, ranges per calibration method and the sym/asym integer grids of one weight or activation. */
  'tensors.stats': ch(obj({
    modelId: id, tensor: tensorName, datasetId: opt(id),
    bits: opt(oneOf(8, 4)), percentile: opt(num({ min: 50, max: 100 })), samples: opt(num({ int: true, min: 1, max: 100_000 })),
  }), TensorStatsV),
  /** Min/max of every activation that feeds a quantizable op, in graph order. */
  'tensors.activationRanges': ch(obj({ modelId: id, datasetId: id, samples: opt(num({ int: true, min: 1, max: 100_000 })) }), arr(ActivationRangeV, { max: 50_000 })),
  'hardware.info': ch(empty, HardwareV),
  /** What the native kernel addon detected (or why it did not load). */
  'hardware.native': ch(empty, NativeHardwareV),
  /** Measures a finished run's quantized model against its FP32 model: latency (same process, interleaved) and task metric. */
  'runs.evaluate': ch(obj({ runId: id, batch: opt(num({ int: true, min: 1, max: 4096 })) }), RunEvaluationV),
  /** Images (PNG files or a folder: resized, normalised → float32 [N,C,H,W]) or a text file (→ int64 byte windows), stored as an .npy dataset. */
  'datasets.prepare': ch(obj({
    projectId: id, name, kind: oneOf('images', 'text'), files: arr(FileRefV, { max: 100_000 }),
    input: opt(str({ min: 1, max: 1000 })),
    width: opt(num({ int: true, min: 1, max: 4096 })), height: opt(num({ int: true, min: 1, max: 4096 })),
    channels: opt(oneOf('rgb', 'gray')), mean: opt(num()), std: opt(num({ min: 1e-9 })),
    window: opt(num({ int: true, min: 2, max: 65_536 })),
  }), DatasetV),
} as const;
// ---- end studio block ----

// ---- studio workflow block: data checked on attach, runs named / annotated / deleted ----
export const DatasetFactsV = obj({
  datasetId: id, dtype: nullable(str({ max: 40 })), shape: nullable(arr(num({ int: true, min: 0 }), { max: 64 })), samples: nullable(num({ int: true, min: 0 })),
  /** Why the data does not fit the project's model (null when it fits or cannot be checked). */
  problem: nullable(text),
});
export type DatasetFacts = Infer<typeof DatasetFactsV>;
export const RunNotesV = obj({
  runId: id, name: str({ max: 200 }), notes: str({ max: 10_000 }), tags: arr(str({ min: 1, max: 40 }), { max: 20 }),
  /** The name of the pipeline the run came from (its current name), null when it was deleted or none. */
  pipelineName: nullable(str({ max: 200 })),
});
export type RunNotes = Infer<typeof RunNotesV>;
export const studioWorkflowChannels = {
  /** datasets.add for .npy data, after checking the file parses and fits the project's model (else BAD_DATA naming the file). */
  'datasets.attach': ch(obj({ projectId: id, name, kind: oneOf('npy', 'images', 'text'), file: FileRefV, options: opt(jsonObject()) }), DatasetV),
  /** Shape, dtype and sample count of each dataset, and any mismatch with the project's model. */
  'datasets.inspect': ch(obj({ projectId: id }), arr(DatasetFactsV, { max: 10_000 })),
  'runs.notes': ch(obj({ projectId: id }), arr(RunNotesV, { max: 100_000 })),
  /** Rename a run, or set its notes or tags (fields left out are kept). */
  'runs.annotate': ch(obj({ id, name: opt(str({ max: 200 })), notes: opt(str({ max: 10_000 })), tags: opt(arr(str({ min: 1, max: 40 }), { max: 20 })) }), RunNotesV),
  /** Delete a finished run with its logs, metrics and artifacts (files included). */
  'runs.delete': ch(obj({ id }), obj({ deleted: bool })),
} as const;
// ---- end studio workflow block ----

// ---- sensitivity block: per-layer sensitivity analysis as a run (engine/analysis) ----
export const sensitivityChannels = {
  /** Starts a sensitivity analysis run (kind 'analyze') of a project's model with a recipe: calibration
   *  data, optional evaluation data and labels. Its result is the sensitivity report. */
  'analysis.start': ch(obj({
    projectId: id, modelId: id, datasetId: id, recipe: opt(jsonObject()), pipelineId: opt(id),
    evalDatasetId: opt(id), labelsDatasetId: opt(id), evalLabelsDatasetId: opt(id),
  }), RunV),
} as const;
// ---- end sensitivity block ----

export const channels = {
  ...coreChannels,
  ...studioChannels,
  ...studioWorkflowChannels,
  ...sensitivityChannels,
  // other blocks are spread here
} as const;

export type Channels = typeof channels;
export type Channel = keyof Channels;
export type RequestOf<C extends Channel> = Infer<Channels[C]['request']>;
export type ResponseOf<C extends Channel> = Infer<Channels[C]['response']>;

export function isChannel(c: unknown): c is Channel {
  return typeof c === 'string' && Object.prototype.hasOwnProperty.call(channels, c);
}

/** Validate a request for `channel`; throws ContractError (code BAD_ARGUMENT) naming the field. */
export function validateRequest<C extends Channel>(channel: C, request: unknown): RequestOf<C> {
  if (!isChannel(channel)) throw new ContractError(`Unknown channel '${String(channel).slice(0, 80)}'.`);
  return channels[channel].request(request, 'request') as RequestOf<C>;
}

export function validateResponse<C extends Channel>(channel: C, value: unknown): ResponseOf<C> {
  return channels[channel].response(value, 'response') as ResponseOf<C>;
}

// ---------- push events (main -> renderer) ----------
export const events = {
  /** A run's progress (throttled by the runner). */
  'run.progress': obj({ runId: id, stage: str({ max: 200 }), fraction: num({ min: 0, max: 1 }), message: opt(str({ max: 2000 })), metrics: opt(record(num(), { maxKeys: 100 })) }),
  /** A run changed status (started, succeeded, failed, cancelled). */
  'run.status': obj({ runId: id, projectId: id, status: RunStatusV, error: opt(obj({ code: str({ max: 60 }), message: text })) }),
  'run.log': obj({ runId: id, line: text }),
} as const;
export type EventName = keyof typeof events;
export type EventOf<E extends EventName> = Infer<(typeof events)[E]>;
export type StudioEvent = { [E in EventName]: { event: E; payload: EventOf<E> } }[EventName];

export function validateEvent(event: unknown, payload: unknown): StudioEvent {
  if (typeof event !== 'string' || !Object.prototype.hasOwnProperty.call(events, event)) {
    throw new ContractError(`Unknown event '${String(event).slice(0, 80)}'.`);
  }
  return { event, payload: events[event as EventName](payload, event) } as StudioEvent;
}

/** Check an answer envelope from the other side of the wire. */
export function validateResult<C extends Channel>(channel: C, raw: unknown): Result<ResponseOf<C>> {
  if (typeof raw !== 'object' || raw === null) throw new ContractError(`Malformed answer on ${channel}: ${typeof raw}.`);
  const r = raw as { ok?: unknown; value?: unknown; error?: { code?: unknown; message?: unknown } };
  if (r.ok === true) return { ok: true, value: validateResponse(channel, r.value) };
  if (r.ok === false && r.error && typeof r.error.code === 'string' && typeof r.error.message === 'string') {
    return { ok: false, error: { code: r.error.code, message: r.error.message } };
  }
  throw new ContractError(`Malformed answer on ${channel}.`);
}

// ---------- the client interface (window.studio in Electron; a WebSocket client in the browser host) ----------
export interface StudioClient {
  readonly host: 'electron' | 'browser';
  /** Call a channel; resolves with the value or rejects with a StudioClientError ({ code, message }). */
  invoke<C extends Channel>(channel: C, request: RequestOf<C>): Promise<ResponseOf<C>>;
  /** Subscribe to push events; returns the unsubscribe function. */
  onEvent(listener: (e: StudioEvent) => void): () => void;
}

export class StudioClientError extends Error {
  readonly code: string;
  constructor(error: ErrorPayload) {
    super(error.message);
    this.name = 'StudioClientError';
    this.code = error.code;
  }
}

/**
 * What the Electron preload exposes as `window.studio`: the same calls, but answering with the Result
 * envelope instead of rejecting — contextBridge copies thrown Errors without their custom properties,
 * so a rejected `code` would be lost. renderer/src/api/client.ts wraps it into a StudioClient.
 */
export interface StudioBridge {
  readonly host: 'electron';
  invoke(channel: Channel, request: unknown): Promise<Result<unknown>>;
  onEvent(listener: (e: StudioEvent) => void): () => void;
}

/** Wrap a Result-returning bridge (the preload's window.studio) into a StudioClient. */
export function clientFromBridge(bridge: StudioBridge): StudioClient {
  return {
    host: 'electron',
    async invoke<C extends Channel>(channel: C, request: RequestOf<C>): Promise<ResponseOf<C>> {
      const r = validateResult(channel, await bridge.invoke(channel, request));
      if (r.ok) return r.value;
      throw new StudioClientError(r.error);
    },
    onEvent: (listener) => bridge.onEvent(listener),
  };
}

/** Names the preload/main use for the Electron IPC transport. */
export const IPC_INVOKE = 'studio:invoke';
export const IPC_EVENT = 'studio:event';
