// Handlers for the studio-ui channels of contract/ipc.ts (samples, graph, tensor statistics,
// hardware). They reach the store only through the foundation's own channels (`call`), so paths,
// hashing and import rules stay in one place.
import { readFileSync, readdirSync, statSync, existsSync } from 'node:fs';
import { join, resolve, dirname, isAbsolute } from 'node:path';
import { fileURLToPath } from 'node:url';
import { execFileSync } from 'node:child_process';
import { arch, platform, totalmem, cpus } from 'node:os';
import type { Channel, RequestOf, ResponseOf, Json, TensorStats, ActivationRange, RunEvaluation, FileRef } from '../../contract/ipc';
import { StudioError, quote } from '../errors';
import { loadModel, type LoadedModel } from '../onnx/model-io';
import { tensorToFloat32, tensorDims, dataTypeName } from '../onnx/tensor';
import { readNpy, writeNpy, type NpyArray } from '../data/npy';
import { imagesToArray, listImages, textToArray } from './dataset-import';
import { mkdtempSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { readTextWindows } from '../data/text-windows';
import { minMaxPerParam } from '../quant/math/layout';
import { weightAxes } from '../quant/math/axes';
import { runCalibration } from '../quant/calibration/run-calibration';
import { percentileRange } from '../quant/calibration/collectors';
import { graphView, constantTensors } from './graph-view';
import { compareLatency } from '../eval/latency';
import { top1Accuracy, perplexity } from '../eval/task-metrics';
import { createSession } from '../runtime/session';
import { makeCalibrators, moments, plotHistogram, quantChoices, toTensorHistogram } from './tensor-stats';
import type { Handlers, ServiceDeps } from './types';
import { foundationHandlers } from './foundation-handlers';

export type CallFn = <C extends Channel>(channel: C, request: RequestOf<C>) => Promise<ResponseOf<C>>;
type StudioUiChannel = 'samples.list' | 'samples.open' | 'graph.view' | 'tensors.stats' | 'tensors.activationRanges' | 'hardware.info' | 'hardware.native' | 'runs.evaluate' | 'datasets.prepare';
export type StudioUiHandlers = { [C in StudioUiChannel]: (req: RequestOf<C>) => Promise<ResponseOf<C>> };

/** projects-sample/ beside the app (repo root in development; override for a packaged app). */
export function defaultSamplesDir(): string {
  return resolve(dirname(fileURLToPath(import.meta.url)), '../../projects-sample');
}

interface SampleManifest {
  title: string; description: string; model: string; recipe: string; template?: string;
  datasets: { name: string; kind: 'npy' | 'images' | 'text'; file: string; options?: Record<string, Json> }[];
}

function readManifest(dir: string, id: string): SampleManifest {
  const file = join(dir, id, 'sample.json');
  try {
    return JSON.parse(readFileSync(file, 'utf8')) as SampleManifest;
  } catch (e) {
    throw new StudioError('NOT_FOUND', `Sample ${quote(id)} has no readable manifest at ${quote(file)}: ${(e as Error).message}`);
  }
}

/** Where datasets.prepare writes its .npy before the store copies it into the project. */
export const PREP_DIR_PREFIX = join(tmpdir(), 'qstudio-prep-');

export function studioUiHandlers(call: CallFn, opts: { samplesDir?: string; resolveFile?: (ref: FileRef) => string } = {}): StudioUiHandlers {
  const samplesDir = opts.samplesDir ?? defaultSamplesDir();
  const models = new Map<string, { key: string; loaded: LoadedModel }>();
  const activationCache = new Map<string, Map<string, ActivationRange>>();
  const evaluations = new Map<string, RunEvaluation>();

  async function modelFile(modelId: string): Promise<{ path: string; sha: string; projectId: string }> {
    const m = await call('models.get', { id: modelId });
    const p = await call('projects.get', { id: m.projectId });
    return { path: isAbsolute(m.file) ? m.file : join(p.dir, m.file), sha: m.sha256, projectId: m.projectId };
  }
  async function model(modelId: string): Promise<LoadedModel> {
    const f = await modelFile(modelId);
    const hit = models.get(modelId);
    if (hit && hit.key === f.sha) return hit.loaded;
    const loaded = await loadModel(f.path);
    if (models.size > 4) models.clear();
    models.set(modelId, { key: f.sha, loaded });
    return loaded;
  }
  async function datasetInputs(modelId: string, datasetId: string, lm: LoadedModel): Promise<{ inputs: Record<string, NpyArray>; name: string }> {
    const m = await call('models.get', { id: modelId });
    const p = await call('projects.get', { id: m.projectId });
    const d = (await call('datasets.list', { projectId: m.projectId })).find((x) => x.id === datasetId);
    if (!d) throw new StudioError('NOT_FOUND', `Dataset ${quote(datasetId)} is not in project ${quote(p.name)}.`);
    const path = isAbsolute(d.file) ? d.file : join(p.dir, d.file);
    const inits = new Set(lm.model.graph!.initializer.map((t) => t.name));
    const graphInputs = lm.model.graph!.input.filter((i) => !inits.has(i.name)).map((i) => i.name);
    const input = typeof d.options.input === 'string' ? d.options.input : graphInputs[0];
    if (!input || !graphInputs.includes(input)) throw new StudioError('BAD_DATA', `Dataset ${quote(d.name)} feeds input ${quote(input)}, which model ${quote(m.name)} does not have (inputs: ${graphInputs.join(', ')}).`);
    if (graphInputs.length > 1) throw new StudioError('BAD_DATA', `Model ${quote(m.name)} has ${graphInputs.length} inputs; activation statistics need one dataset per input (only single-input models are supported here).`);
    if (d.options.role === 'labels') throw new StudioError('BAD_DATA', `Dataset ${quote(d.name)} holds labels, not model inputs: choose a calibration dataset.`);
    let arr: NpyArray;
    if (d.kind === 'npy') arr = readNpy(path);
    else if (d.kind === 'text') arr = readTextWindows(path, 16, typeof d.options.window === 'number' ? d.options.window : 256);
    else throw new StudioError('BAD_DATA', `Dataset ${quote(d.name)} is an image folder; convert it to .npy first (activation statistics read .npy or text).`);
    return { inputs: { [input]: arr }, name: d.name };
  }

  function consumerOf(lm: LoadedModel, tensor: string) {
    return lm.model.graph!.node.find((n) => n.input.includes(tensor) && ['Conv', 'ConvTranspose', 'Gemm', 'MatMul', 'Gather'].includes(n.opType));
  }

  return {
    async 'samples.list'() {
      if (!existsSync(samplesDir)) return [];
      const out: ResponseOf<'samples.list'> = [];
      for (const id of readdirSync(samplesDir).sort()) {
        if (!existsSync(join(samplesDir, id, 'sample.json'))) continue;
        const m = readManifest(samplesDir, id);
        const files = [m.model, ...m.datasets.map((d) => d.file), m.recipe];
        const sizeBytes = files.reduce((a, f) => a + (existsSync(join(samplesDir, id, f)) ? statSync(join(samplesDir, id, f)).size : 0), 0);
        out.push({ id, title: m.title, description: m.description, sizeBytes, files });
      }
      return out;
    },

    async 'samples.open'(req) {
      const m = readManifest(samplesDir, req.sampleId);
      const dir = join(samplesDir, req.sampleId);
      const recipe = JSON.parse(readFileSync(join(dir, m.recipe), 'utf8')) as Record<string, Json>;
      const project = await call('projects.create', { name: req.name ?? m.title, description: m.description });
      try {
        await call('models.import', { projectId: project.id, file: { kind: 'path', path: join(dir, m.model) }, name: m.title });
        for (const d of m.datasets) {
          await call('datasets.add', { projectId: project.id, name: d.name, kind: d.kind, file: { kind: 'path', path: join(dir, d.file) }, options: { ...(d.options ?? {}), sample: req.sampleId } });
        }
      } catch (e) {
        await call('projects.delete', { id: project.id }).catch(() => undefined);
        throw e;
      }
      return { project, recipe };
    },

    async 'graph.view'(req) {
      return graphView((await model(req.modelId)).model, req.modelId);
    },

    async 'tensors.stats'(req): Promise<TensorStats> {
      const lm = await model(req.modelId);
      const g = lm.model.graph!;
      const bits = req.bits ?? 8;
      const percentile = req.percentile ?? 99.99;
      const weight = g.initializer.find((t) => t.name === req.tensor) ?? constantTensors(lm.model).get(req.tensor);
      if (weight) {
        const values = tensorToFloat32(weight, lm.baseDir);
        const dims = tensorDims(weight);
        const cals = makeCalibrators(percentile, req.tensor);
        for (const c of cals.values()) c.update(values);
        const h = cals.get('minmax')!.histogram();
        const { min, max } = h;
        const histogram = toTensorHistogram(h);
        const mo = moments({ values, histogram });
        const consumer = consumerOf(lm, req.tensor);
        let perChannel: TensorStats['perChannel'] = null;
        if (consumer && dims.length >= 2) {
          const transB = Number(consumer.attribute.find((a) => a.name === 'transB')?.i ?? 0);
          const { channelAxis } = weightAxes(consumer.opType === 'Gather' ? 'Gather' : consumer.opType, dims.length, { transB }, consumer.name);
          const r = minMaxPerParam(values, dims, channelAxis);
          perChannel = { axis: channelAxis, min: Array.from(r.min), max: Array.from(r.max) };
        }
        return {
          tensor: req.tensor, kind: 'weight', dtype: dataTypeName[weight.dataType] ?? String(weight.dataType), shape: dims,
          count: values.length, min, max, mean: mo.mean, std: mo.std, histogram: plotHistogram(histogram, 200, { min, max }), exact: true,
          choices: quantChoices(cals, { values, histogram, min, max }, bits), perChannel,
          source: consumer ? `weight of ${consumer.opType} '${consumer.name}'` : 'weight',
        };
      }
      const produced = g.node.some((n) => n.output.includes(req.tensor)) || g.input.some((i) => i.name === req.tensor);
      if (!produced) throw new StudioError('NOT_FOUND', `Tensor ${quote(req.tensor)} is neither a weight nor an activation of this model.`);
      if (!req.datasetId) throw new StudioError('BAD_ARGUMENT', `Tensor ${quote(req.tensor)} is an activation: choose a calibration dataset to observe it.`);
      const { inputs, name } = await datasetInputs(req.modelId, req.datasetId, lm);
      const samples = req.samples ?? 64;
      const cals = makeCalibrators(percentile, req.tensor);
      const all = [...cals.values()];
      const cal = await runCalibration(lm.model, [req.tensor], inputs, {
        samples, batchSize: 8, device: 'cpu',
        // Feed every method's calibrator from the one run; the histogram for the plot is theirs.
        makeCollector: () => ({
          update: (v) => { for (const c of all) c.update(v); },
          range: () => { const h = all[0]!.histogram(); return { min: h.min, max: h.max }; },
          histogram: () => toTensorHistogram(all[0]!.histogram()),
          count: () => all[0]!.count,
        }),
      });
      const st = cal.stats.get(req.tensor);
      if (!st) throw new StudioError('BAD_DATA', `Tensor ${quote(req.tensor)} produced no float values on dataset ${quote(name)} (is it an integer tensor?).`);
      const histogram = st.histogram;
      const mo = moments({ histogram });
      return {
        tensor: req.tensor, kind: 'activation', dtype: 'float32', shape: [],
        count: st.count, min: st.min, max: st.max, mean: mo.mean, std: mo.std, histogram: plotHistogram(histogram, 200, { min: st.min, max: st.max }), exact: false,
        choices: quantChoices(cals, { histogram, min: st.min, max: st.max }, bits), perChannel: null,
        source: `${cal.samplesUsed} samples of '${name}'`,
      };
    },

    async 'tensors.activationRanges'(req) {
      const samples = req.samples ?? 32;
      const key = `${req.modelId}:${req.datasetId}:${samples}`;
      const hit = activationCache.get(key);
      if (hit) return [...hit.values()];
      const lm = await model(req.modelId);
      const g = lm.model.graph!;
      const weights = new Set([...g.initializer.map((t) => t.name), ...constantTensors(lm.model).keys()]);
      const wanted = new Map<string, { node: string; opType: string }>();
      for (const n of g.node) {
        if (!['Conv', 'Gemm', 'MatMul', 'ConvTranspose'].includes(n.opType)) continue;
        for (const t of n.input) if (t && !weights.has(t) && !wanted.has(t)) wanted.set(t, { node: n.name, opType: n.opType });
      }
      const { inputs } = await datasetInputs(req.modelId, req.datasetId, lm);
      const cal = await runCalibration(lm.model, [...wanted.keys()], inputs, { samples, batchSize: 8, device: 'cpu' });
      const out = new Map<string, ActivationRange>();
      for (const [t, w] of wanted) {
        const st = cal.stats.get(t);
        if (!st) continue;
        const p = percentileRange(st.histogram, 99.9, st.min, st.max);
        out.set(t, { tensor: t, node: w.node, opType: w.opType, min: st.min, max: st.max, p999Min: p.min, p999Max: p.max });
      }
      activationCache.set(key, out);
      return [...out.values()];
    },

    async 'runs.evaluate'(req) {
      const key = `${req.runId}:${req.batch ?? 8}`;
      const hit = evaluations.get(key);
      if (hit) return hit;
      const run = await call('runs.get', { id: req.runId });
      if (run.status !== 'succeeded') throw new StudioError('BAD_ARGUMENT', `Run ${quote(run.id)} is ${run.status}; only a finished run can be measured.`);
      const project = await call('projects.get', { id: run.projectId });
      const artifact = (await call('artifacts.list', { projectId: run.projectId, runId: run.id })).find((a) => a.kind === 'model');
      if (!artifact) throw new StudioError('NOT_FOUND', `Run ${quote(run.id)} recorded no model artifact.`);
      const quantPath = isAbsolute(artifact.file) ? artifact.file : join(project.dir, artifact.file);
      const fp32Path = run.params.modelPath;
      if (typeof fp32Path !== 'string') throw new StudioError('NOT_FOUND', `Run ${quote(run.id)} does not record its FP32 model path.`);
      const inputs: Record<string, NpyArray> = {};
      for (const [name, p] of Object.entries((run.params.inputs ?? {}) as Record<string, Json>)) if (typeof p === 'string') inputs[name] = readNpy(p);
      if (!Object.keys(inputs).length) throw new StudioError('BAD_DATA', `Run ${quote(run.id)} had no input data to measure with.`);
      const batch = req.batch ?? 8;
      const threads = 1;
      const lat = await compareLatency(fp32Path, quantPath, inputs, { batch, threads, runs: 21, warmup: 3 });
      let metric: RunEvaluation['metric'] = null;
      const [first] = Object.values(inputs);
      const samples = first?.shape[0] ?? 0;
      const both = async (f: (s: Awaited<ReturnType<typeof createSession>>) => Promise<number>) => {
        const out: number[] = [];
        for (const path of [fp32Path, quantPath]) {
          const s = await createSession(path, { device: 'cpu' });
          try { out.push(await f(s)); } finally { await s.release(); }
        }
        return out as [number, number];
      };
      if (typeof run.params.labels === 'string') {
        const labels = readNpy(run.params.labels);
        const [a, b] = await both((s) => top1Accuracy(s, inputs, labels));
        metric = { name: 'top-1 accuracy', fp32: a, quant: b, higherIsBetter: true };
      } else if (first && first.dtype === 'int64' && first.shape.length === 2 && Object.keys(inputs).length === 1) {
        const [a, b] = await both((s) => perplexity(s, first));
        metric = { name: 'perplexity', fp32: a, quant: b, higherIsBetter: false };
      }
      // Speed-up from the fastest run of each model, not the median: with 1 thread on a shared machine
      // the FP32 model's longer runs get preempted far more often than the int8 model's, which once
      // made the medians claim 7.9× where the compute (min, and CPU time) is 2.3×.
      const result: RunEvaluation = {
        runId: run.id, batch: lat.a.batch, threads, samples, fp32Ms: lat.a.minMs, quantMs: lat.b.minMs, speedup: lat.a.minMs / lat.b.minMs,
        fp32MedianMs: lat.a.medianMs, quantMedianMs: lat.b.medianMs, fp32CpuMs: lat.a.cpuMs, quantCpuMs: lat.b.cpuMs, runs: lat.a.runs, metric,
      };
      evaluations.set(key, result);
      return result;
    },

    async 'datasets.prepare'(req) {
      if (!opts.resolveFile) throw new StudioError('INTERNAL', 'datasets.prepare needs the host\'s file resolver.');
      const paths = req.files.map((f) => opts.resolveFile!(f));
      const names = req.files.map((f, i) => (f.kind === 'upload' ? f.name : paths[i]!.split(/[\\/]/).pop() ?? 'file'));
      let arr: NpyArray;
      let options: Record<string, Json>;
      if (req.kind === 'images') {
        const o = { width: req.width ?? 224, height: req.height ?? 224, channels: req.channels ?? 'rgb', mean: req.mean ?? 0.5, std: req.std ?? 0.5 } as const;
        const files = req.files.every((f) => f.kind === 'upload') ? paths : listImages(paths);
        arr = imagesToArray(files, o, req.files.every((f) => f.kind === 'upload') ? names : undefined);
        options = { role: 'calibration', source: 'images', images: arr.shape[0]!, resize: [o.width, o.height], channels: o.channels, mean: o.mean, std: o.std };
      } else {
        if (paths.length !== 1) throw new StudioError('BAD_ARGUMENT', `A text dataset is one file; got ${paths.length}.`);
        const window = req.window ?? 256;
        arr = textToArray(paths[0]!, window, 1024, names[0]);
        options = { role: 'calibration', source: 'text', window, windows: arr.shape[0]! };
      }
      if (req.input) options.input = req.input;
      const dir = mkdtempSync(PREP_DIR_PREFIX);
      try {
        const file = join(dir, `${req.name.replace(/[^A-Za-z0-9._-]+/g, '-').slice(0, 80) || 'data'}.npy`);
        await writeNpy(file, arr);
        return await call('datasets.add', { projectId: req.projectId, name: req.name, kind: 'npy', file: { kind: 'path', path: file }, options });
      } finally {
        rmSync(dir, { recursive: true, force: true });
      }
    },

    async 'hardware.native'() {
      return nativeHardware();
    },

    async 'hardware.info'() {
      const notes: string[] = [];
      let cpuModel = cpus()[0]?.model ?? 'unknown CPU';
      let flags: Record<string, boolean> = {};
      let providers: ResponseOf<'hardware.info'>['providers'] = [];
      try {
        const hw = await import('../runtime/hardware');
        const h = hw.detectHardware();
        cpuModel = h.cpuModel;
        flags = { ...h.flags };
        providers = h.backends;
      } catch (e) {
        notes.push(`Runtime hardware detection unavailable: ${(e as Error).message}`);
      }
      const gpus: ResponseOf<'hardware.info'>['gpus'] = [];
      // The native addon knows the CPU's AMX state and the CUDA device it was built for.
      try {
        const native = await import('../../native-kernels/lib/index');
        const sum = native.hardwareSummary();
        if (sum.native.available) {
          flags = { ...flags, amxTile: sum.cpu.amxTile, amxPermitted: sum.cpu.amxPermitted };
          notes.push(`Native kernels: ${sum.cpuKernels} (GEMM: ${sum.gemmKernel}).${sum.cpu.amxNote ? ` AMX: ${sum.cpu.amxNote}` : ''}`);
          if (sum.gpu.available) gpus.push({ name: `${sum.gpu.name} (sm ${sum.gpu.computeCapability})`, memoryBytes: sum.gpu.totalMemory || null, source: 'native CUDA addon' });
          else if (sum.gpu.compiled && sum.gpu.reason) notes.push(`CUDA kernels built but not usable: ${sum.gpu.reason}`);
        } else notes.push(`Native kernels not loaded (TypeScript reference kernels in use)${sum.native.error ? `: ${sum.native.error}` : ''}.`);
      } catch (e) {
        notes.push(`Native kernels unavailable: ${(e as Error).message}`);
      }
      try {
        const out = execFileSync('nvidia-smi', ['--query-gpu=name,memory.total', '--format=csv,noheader,nounits'], { timeout: 3000, encoding: 'utf8', stdio: ['ignore', 'pipe', 'ignore'] });
        for (const line of out.trim().split('\n').filter(Boolean)) {
          const [gname, mem] = line.split(',').map((s) => s.trim());
          if (gpus.some((g) => gname && g.name.startsWith(gname))) continue;
          gpus.push({ name: gname ?? 'GPU', memoryBytes: mem ? Number(mem) * 2 ** 20 : null, source: 'nvidia-smi' });
        }
      } catch {
        if (!gpus.length) notes.push('No NVIDIA GPU found (nvidia-smi not available): runs use the CPU.');
      }
      return { cpuModel, cores: cpus().length, arch: arch(), platform: platform(), memoryBytes: totalmem(), flags, gpus, providers, notes };
    },
  };
}

/** native-kernels/lib's hardwareSummary() (cpuFeatures() + deviceInfo()) in the contract's shape.
 *  Importing the lib never throws when the binary is missing: it reports why in native.error. */
export async function nativeHardware(): Promise<ResponseOf<'hardware.native'>> {
  let native: typeof import('../../native-kernels/lib/index');
  try {
    native = await import('../../native-kernels/lib/index');
  } catch (e) {
    const reason = `the native kernels library could not be imported: ${(e as Error).message}`;
    return {
      addon: { loaded: false, error: reason, path: null },
      cpu: { vendor: '', brand: cpus()[0]?.model ?? '', threads: cpus().length, flags: {}, amxNote: 'unknown: the native addon is not loaded' },
      gpu: { compiled: false, available: false, reason, name: '', computeCapability: '', multiprocessors: 0, totalMemory: 0, freeMemory: 0, driverVersion: 0, runtimeVersion: 0, deviceCount: 0, archs: '' },
      cpuKernels: 'typescript-reference', gemmKernel: 'typescript-reference',
    };
  }
  const sum = native.hardwareSummary();
  const { vendor, brand, threads, amxNote, ...rest } = sum.cpu;
  const flags: Record<string, boolean> = {};
  for (const [k, v] of Object.entries(rest)) if (typeof v === 'boolean') flags[k] = v;
  const g = sum.gpu;
  const int = (v: number) => (Number.isFinite(v) ? Math.max(0, Math.trunc(v)) : 0);
  return {
    addon: { loaded: sum.native.available, error: sum.native.error ? String(sum.native.error).slice(0, 4000) : null, path: sum.native.path },
    cpu: { vendor, brand, threads: int(threads), flags, amxNote },
    gpu: {
      compiled: g.compiled, available: g.available, reason: g.reason.slice(0, 2000), name: g.name, computeCapability: g.computeCapability,
      multiprocessors: int(g.multiprocessors), totalMemory: Math.max(0, g.totalMemory || 0), freeMemory: Math.max(0, g.freeMemory || 0),
      driverVersion: int(g.driverVersion), runtimeVersion: int(g.runtimeVersion), deviceCount: int(g.deviceCount), archs: g.archs,
    },
    cpuKernels: sum.cpuKernels, gemmKernel: sum.gemmKernel,
  };
}

// ---- wiring into the service (engine/api/service.ts handlerModules) ----

const perDeps = new WeakMap<ServiceDeps, StudioUiHandlers>();

function forDeps(d: ServiceDeps): StudioUiHandlers {
  let h = perDeps.get(d);
  if (!h) {
    const samplesDir = defaultSamplesDir();
    // Sample files are the engine's own: let the import handlers read them whatever the host's file policy.
    const inner: ServiceDeps = {
      ...d,
      resolveFile: (ref) => (ref.kind === 'path' && (resolve(ref.path).startsWith(samplesDir + '/') || resolve(ref.path).startsWith(PREP_DIR_PREFIX)) ? ref.path : d.resolveFile(ref)),
    };
    const call: CallFn = async (channel, request) => {
      const f = foundationHandlers[channel] as ((r: typeof request, deps: ServiceDeps) => unknown) | undefined;
      if (!f) throw new StudioError('INTERNAL', `studio-ui handlers need channel ${quote(channel)}, which has no handler.`);
      return (await f(request, inner)) as ResponseOf<typeof channel>;
    };
    h = studioUiHandlers(call, { samplesDir, resolveFile: (ref) => d.resolveFile(ref) });
    perDeps.set(d, h);
  }
  return h;
}

export const studioUiHandlerMap: Handlers = {
  'samples.list': (r, d) => forDeps(d)['samples.list'](r),
  'samples.open': (r, d) => forDeps(d)['samples.open'](r),
  'graph.view': (r, d) => forDeps(d)['graph.view'](r),
  'tensors.stats': (r, d) => forDeps(d)['tensors.stats'](r),
  'tensors.activationRanges': (r, d) => forDeps(d)['tensors.activationRanges'](r),
  'hardware.info': (r, d) => forDeps(d)['hardware.info'](r),
  'hardware.native': (r, d) => forDeps(d)['hardware.native'](r),
  'runs.evaluate': (r, d) => forDeps(d)['runs.evaluate'](r),
  'datasets.prepare': (r, d) => forDeps(d)['datasets.prepare'](r),
};
