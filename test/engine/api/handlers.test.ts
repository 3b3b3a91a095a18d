// The handler modules over a real engine (store, files, job runner): the sample projects opened
// through samples.open, their real models' graphs and tensor statistics, hardware reports, and
// runs.evaluate on a real quantized model. The host's file policy applies to files a user names,
// never to the engine's own sample files.
import { describe, expect, it, beforeAll } from 'vitest';
import { resolve, join } from 'node:path';
import { readFileSync, mkdtempSync, rmSync, statSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { parseRecipe } from '../../../engine/pipeline/recipe';
import { validateRequest, validateResponse, type Channel, type RequestOf, type ResponseOf } from '../../../contract/ipc';
import { StudioError } from '../../../engine/errors';
import { useTempStudio } from '../../fixtures/temp-studio';

const root = resolve(import.meta.dirname, '../../..');
const samples = resolve(root, 'projects-sample');

// A host that allows no user file at all: the samples must still open (they are the engine's own).
const studio = useTempStudio('qs-handlers-', {
  resolveFile: (ref) => { throw new StudioError('BAD_ARGUMENT', `This host accepts no files (${ref.kind}).`); },
});
const ids = { fm: '', ocr: '', d1: '', project: '' };

/** The service as a host drives it: validated request, handler, validated answer. */
async function h<C extends Channel>(channel: C, request: RequestOf<C>): Promise<ResponseOf<C>> {
  const r = await studio.engine.service.dispatch(channel, request);
  if (!r.ok) throw new Error(`${channel}: [${r.error.code}] ${r.error.message}`);
  return r.value as ResponseOf<C>;
}

beforeAll(async () => {
  const fm = await h('samples.open', { sampleId: 'fmnist-cnn' });
  const ocr = await h('samples.open', { sampleId: 'ppocr-rec' });
  ids.project = fm.project.id;
  ids.fm = (await h('models.list', { projectId: fm.project.id }))[0]!.id;
  ids.ocr = (await h('models.list', { projectId: ocr.project.id }))[0]!.id;
  ids.d1 = (await h('datasets.list', { projectId: fm.project.id })).find((d) => d.options.role !== 'labels')!.id;
}, 120_000);

describe('samples and the file policy', () => {
  it('opened the samples as projects with their model and datasets copied in', async () => {
    const fm = (await h('models.list', { projectId: ids.project }))[0]!;
    expect(fm.nodeCount).toBeGreaterThan(0);
    expect(statSync(join(studio.dir, 'data', 'projects', ids.project, fm.file)).size).toBe(statSync(join(samples, 'fmnist-cnn', 'model.onnx')).size);
    const ds = await h('datasets.list', { projectId: ids.project });
    expect(ds.length).toBeGreaterThanOrEqual(1);
    for (const d of ds) expect(d.options.sample).toBe('fmnist-cnn');
  });

  it('a file the user names still goes through the host\'s policy', async () => {
    const r = await studio.engine.service.dispatch('models.import', { projectId: ids.project, file: { kind: 'path', path: join(samples, 'fmnist-cnn', 'model.onnx') } });
    expect(r.ok).toBe(false);
    if (!r.ok) expect(r.error).toEqual({ code: 'BAD_ARGUMENT', message: 'This host accepts no files (path).' });
  });
});

describe('handlers on real sample models', () => {
  it('lists the samples, each with a recipe the engine accepts', async () => {
    const list = await h('samples.list', {});
    expect(list.map((s) => s.id)).toEqual(['fmnist-cnn', 'moby-gpt', 'ppocr-rec']);
    const total = list.reduce((a, s) => a + s.sizeBytes, 0);
    expect(total).toBeLessThan(45e6);
    for (const s of list) expect(() => parseRecipe(JSON.parse(readFileSync(resolve(samples, s.id, 'recipe.json'), 'utf8')))).not.toThrow();
  });

  it('returns the fmnist graph with weights on the Conv nodes and edges between them', async () => {
    const g = await h('graph.view', { modelId: ids.fm });
    const convs = g.nodes.filter((n) => n.opType === 'Conv');
    expect(convs.length).toBe(5);
    expect(convs[0]!.weights.length).toBeGreaterThanOrEqual(1);
    const w = g.tensors.find((t) => t.name === convs[0]!.weights[0]);
    expect(w?.kind).toBe('weight');
    expect(w?.shape.length).toBe(4);
    expect(g.edges.some((e) => e.source === 'input:image')).toBe(true);
    expect(g.nodes.at(-1)!.opType).toBe('Output');
  });

  it('folds PP-OCR weight Constants into their consumers', async () => {
    const g = await h('graph.view', { modelId: ids.ocr });
    expect(g.nodes.some((n) => n.opType === 'Constant' && n.weights.length === 0 && n.outputs.length === 1 && g.tensors.find((t) => t.name === n.outputs[0])?.kind === 'weight')).toBe(false);
    const conv = g.nodes.find((n) => n.opType === 'Conv')!;
    expect(conv.weights.length).toBeGreaterThanOrEqual(1);
  });

  it('measures a real conv weight: MinMax clips nothing, symmetric wastes codes on skewed data', async () => {
    const g = await h('graph.view', { modelId: ids.fm });
    const wname = g.nodes.find((n) => n.opType === 'Conv')!.weights[0]!;
    const s = await h('tensors.stats', { modelId: ids.fm, tensor: wname });
    expect(s.exact).toBe(true);
    expect(s.histogram.counts.reduce((a, b) => a + b, 0)).toBe(s.count);
    const mm = s.choices.filter((c) => c.method === 'minmax');
    expect(mm.map((c) => c.scheme)).toEqual(['symmetric', 'asymmetric']);
    for (const c of mm) expect(c.clippedFraction).toBe(0);
    expect(mm[0]!.sqnrDb).toBeGreaterThan(20);
    const pct = s.choices.find((c) => c.method === 'percentile' && c.scheme === 'asymmetric')!;
    expect(pct.rangeMax - pct.rangeMin).toBeLessThanOrEqual(s.max - s.min + 1e-9);
    expect(s.perChannel?.min.length).toBe(Number(s.shape[0]));
    // 4-bit is coarser than 8-bit on the same tensor.
    const s4 = await h('tensors.stats', { modelId: ids.fm, tensor: wname, bits: 4 });
    expect(s4.choices[0]!.sqnrDb).toBeLessThan(mm[0]!.sqnrDb - 15);
  });

  it('observes a real activation on the sample images; ReLU output makes symmetric waste half the codes', async () => {
    const g = await h('graph.view', { modelId: ids.fm });
    const relu = g.nodes.find((n) => n.opType === 'Relu')!;
    const s = await h('tensors.stats', { modelId: ids.fm, tensor: relu.outputs[0]!, datasetId: ids.d1, samples: 32 });
    expect(s.kind).toBe('activation');
    expect(s.min).toBeGreaterThanOrEqual(0);
    const sym = s.choices.find((c) => c.method === 'minmax' && c.scheme === 'symmetric')!;
    const asym = s.choices.find((c) => c.method === 'minmax' && c.scheme === 'asymmetric')!;
    expect(sym.wastedCodes).toBeGreaterThanOrEqual(127);
    expect(asym.wastedCodes).toBeLessThanOrEqual(2);
    expect(asym.sqnrDb).toBeGreaterThan(sym.sqnrDb);
    const ranges = await h('tensors.activationRanges', { modelId: ids.fm, datasetId: ids.d1, samples: 16 });
    expect(ranges.length).toBe(6);
    for (const r of ranges) expect(r.max).toBeGreaterThanOrEqual(r.p999Max);
  });

  it('reports what the native kernel addon detected, in the contract\'s shape', async () => {
    const nk = await import('../../../native-kernels/lib/index');
    const n = validateResponse('hardware.native', await h('hardware.native', {}));
    expect(n.addon.loaded).toBe(nk.nativeAvailable());
    const cpu = nk.cpuFeatures();
    // The int8 instructions the panel is about, exactly as cpuid reported them through the addon.
    for (const k of ['avx512vnni', 'amxInt8', 'amxTile', 'avx2'] as const) expect(n.cpu.flags[k]).toBe(cpu[k]);
    expect(n.gpu.available).toBe(nk.deviceInfo().available);
    if (!n.gpu.available) expect(n.gpu.reason.length).toBeGreaterThan(0);
    if (!n.addon.loaded) expect(n.addon.error).toBeTruthy();
  });

  it('reports the CPU and onnxruntime providers', async () => {
    const hw = await h('hardware.info', {});
    expect(hw.cores).toBeGreaterThan(0);
    expect(hw.providers.some((p) => p.name === 'cpu' && p.available)).toBe(true);
  });
});

describe('contract checks of these channels', () => {
  it('rejects malformed requests, naming the field and quoting the value', () => {
    expect(() => validateRequest('tensors.stats', { modelId: 'm1', tensor: 'w', bits: 3 })).toThrow(/request\.bits.*'3'/);
    expect(() => validateRequest('graph.view', { modelId: '../etc' })).toThrow(/request\.modelId/);
    expect(() => validateRequest('datasets.prepare', { projectId: 'p', name: 'x', kind: 'video', files: [] })).toThrow(/request\.kind/);
    expect(validateRequest('samples.open', { sampleId: 'fmnist-cnn' })).toEqual({ sampleId: 'fmnist-cnn' });
  });

  it('checks what the engine answers', () => {
    expect(() => validateResponse('runs.evaluate', { runId: 'r', batch: 8, threads: 1, samples: 3, fp32Ms: -1, quantMs: 1, speedup: 1, metric: null })).toThrow(/fp32Ms/);
  });
});

describe('runs.evaluate latency', () => {
  it('takes the speed-up from the fastest interleaved runs, with median and CPU time beside it', async () => {
    const { quantizeModel } = await import('../../../engine/pipeline/quantize');
    const { readNpy } = await import('../../../engine/data/npy');
    const evalDir = mkdtempSync(resolve(tmpdir(), 'qstudio-eval-'));
    try {
      const modelPath = resolve(samples, 'fmnist-cnn/model.onnx');
      const images = resolve(samples, 'fmnist-cnn/images.npy');
      const out = resolve(evalDir, 'model.int8.onnx');
      const recipe = parseRecipe(JSON.parse(readFileSync(resolve(samples, 'fmnist-cnn/recipe.json'), 'utf8')));
      await quantizeModel({ modelPath, outputPath: out, recipe: { ...recipe, calibration: { ...recipe.calibration, samples: 64 } }, inputs: { image: readNpy(images) } });
      // A finished run as the job runner records one: its FP32 source, its inputs and its model artifact.
      const run = studio.engine.store.createRun({ projectId: ids.project, kind: 'quantize', params: { modelPath, inputs: { image: images } } });
      studio.engine.store.markRunStarted(run.id);
      studio.engine.store.finishRun(run.id, { status: 'succeeded', artifacts: [{ kind: 'model', file: out, sizeBytes: statSync(out).size, sha256: '0'.repeat(64) }] });
      const ev = validateResponse('runs.evaluate', await h('runs.evaluate', { runId: run.id, batch: 8 }));
      expect(ev.runId).toBe(run.id);
      expect(ev.speedup).toBeCloseTo(ev.fp32Ms / ev.quantMs, 6);
      expect(ev.fp32Ms).toBeLessThanOrEqual(ev.fp32MedianMs!);
      expect(ev.quantMs).toBeLessThanOrEqual(ev.quantMedianMs!);
      expect(ev.runs).toBe(21);
      // int8 with VNNI is at most 4× per instruction; the CNN measures ~2.3× (fastest and CPU time alike).
      // The old median-based figure read 7.9× when other processes loaded the machine.
      expect(ev.speedup).toBeGreaterThan(1);
      expect(ev.speedup).toBeLessThan(4);
    } finally {
      rmSync(evalDir, { recursive: true, force: true });
    }
  }, 60_000);
});

describe('pipeline templates against the engine', () => {
  it('every template compiles to a recipe parseRecipe accepts; QAT keeps its qat algorithm', async () => {
    const { TEMPLATES } = await import('../../../renderer/src/features/pipeline/templates');
    const { compilePipeline } = await import('../../../renderer/src/features/pipeline/compile');
    for (const t of TEMPLATES) {
      const c = compilePipeline(t.build());
      if (!c.ok) throw new Error(`${t.id}: ${JSON.stringify(c.problems)}`);
      const r = parseRecipe(JSON.parse(JSON.stringify(c.recipe)), t.id);
      if (t.id === 'qat') expect(r.algorithms).toEqual([{ name: 'qat', steps: 300, lr: 1e-4, batchSize: 64, learnScales: false }]);
    }
  });
});
