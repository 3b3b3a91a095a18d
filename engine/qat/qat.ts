// Quantization-aware training on the ONNX model itself: prepare (fold BN, plan the QDQ points as the
// exporter will place them, MSE weight grids, calibrated activation ranges), train (the generated
// forward+backward graph in onnxruntime, AdamW on the host), export (the QDQ writer, then the
// trained integers and scales written into it, so the file holds exactly what training simulated).
import { createHash } from 'node:crypto';
import { clone, create, ModelProtoSchema, NodeProtoSchema, DataType, type ModelProto, type NodeProto, type TensorProto } from '../onnx/proto';
import { tensorToFloat32, tensorDims, makeTensor } from '../onnx/tensor';
import { serializeModel } from '../onnx/model-io';
import type { NpyArray, NpyData } from '../data/npy';
import type { Recipe } from '../../contract/recipe';
import { dtypeInfo } from '../core/dtypes';
import { SHARE_SCALE_OPS } from '../core/ops';
import { createSession, ort, type Device, type StudioSession } from '../runtime/session';
import { toOrtTensor, sampleCount, sliceSamples, fixedRunSize, runSize, wholeRuns } from '../runtime/batching';
import { runCalibration, type CalibrationResult } from '../quant/calibration/run-calibration';
import { calibrationMethod } from '../quant/calibration/methods';
import { onnxDataTypeOf, toStorageArray } from '../quant/math';
import { planQdq, type QdqPlan } from '../export/qdq-plan';
import { rewriteQdq, type RewriteResult } from '../export/qdq-rewrite';
import { pruneUnused } from '../onnx/graph';
import { foldConvBatchNorm } from '../export/qdq-fold-bn';
import { throwIfCancelled, type WorkContext } from '../util/work-context';
import { StudioError, quote } from '../errors';
import { buildTrainingGraph, trainableInitializers, scaleInputName, zeroPointInputName, type ActivationFq } from './backward';
import { probeShapes } from './probe';
import { initWeightQuant, fakeQuantWeight, steWeightGrad, quantizeWeightInts, activationParams, mseRange, type WeightQuant } from './fake-quant';
import { AdamW, learningRate } from './optimizer';
import { saveCheckpoint, loadCheckpoint, type CheckpointState } from './checkpoint';
import { seededRandom as rng } from '../util/seeded-random';

export interface ActivationQuant { scale: number; zeroPoint: number; qmin: number; qmax: number }

/** Everything training changes, plus what it needs to know about the model. */
export interface QatSetup {
  /** The float model, BatchNormalization folded into the Convs (its initializers keep the FP32 weights). */
  model: ModelProto;
  baseDir?: string;
  recipe: Recipe;
  plan: QdqPlan;
  /** Trainable float tensors, current values. */
  params: Map<string, Float32Array>;
  paramDims: Map<string, number[]>;
  /** Quantized weights (a subset of params) and their current grids. */
  weightQuant: Map<string, WeightQuant>;
  /** Activation quantization per scale source tensor. */
  activations: Map<string, ActivationQuant>;
  /** Fake-quant points: tensor -> its scale source. */
  fqPoints: ActivationFq[];
  /** Biases the exporter stores as int32 with scale s_in * s_w: weight and activation source of each. */
  biasQuant: Map<string, { weight: string; act: string }>;
  notices: string[];
  /** The activation calibration the grids above start from (absent without activations), for the run's report. */
  calibration?: CalibrationResult;
}

export interface PrepareOptions {
  baseDir?: string;
  recipe: Recipe;
  /** Calibration samples (axis 0), usually the first `recipe.calibration.samples` of the training data. */
  calibration: Record<string, NpyArray>;
  device?: Device;
  ctx?: WorkContext;
}

/**
 * the QDQ plan, less the Q/DQ pairs on outputs of ops that only move values (MaxPool, Reshape, ...)
 * and share their input's grid when activations are 4-bit: those pairs change no value.
 */
export function qatPlan(model: ModelProto, recipe: Recipe): QdqPlan {
  const plan = planQdq(model, recipe);
  // No input-channel padding (QdqTarget.padChannelsTo): the export below writes the trained
  // weights with their own dims, which a padded Conv would no longer accept (ORT: "Input channels C is
  // not equal to kernel channels * group"). Padding is only a speed-up; QAT's model stays exact without it.
  for (const t of plan.targets) delete t.padChannelsTo;
  const a = recipe.activations;
  if (!a || dtypeInfo(a.dtype).bits >= 8) return plan;
  const producer = new Map<string, NodeProto>();
  for (const n of model.graph!.node) for (const o of n.output) producer.set(o, n);
  for (const [t, src] of [...plan.activations]) {
    const p = producer.get(t);
    if (t !== src && p && SHARE_SCALE_OPS.has(p.opType)) plan.activations.delete(t);
  }
  plan.calibrate = [...new Set(plan.activations.values())];
  return plan;
}

/**
 * 4-bit activation Q/DQ pairs, written so ORT 1.30 runs them right: a Clip to the 4-bit range, then
 * QuantizeLinear/DequantizeLinear in an 8-bit container with the same scale and zero-point — the same
 * 16 values. Measured here: ORT 1.30's own uint4 QuantizeLinear on activations gives batch-dependent,
 * wrong results (the CNN's top-1 drops from 92.6 % to 51-89 % depending on batch and optimisation
 * level), and it propagates 4-bit Q/DQ across MaxPool into a uint4 MaxPool it has no kernel for.
 * 4-bit weights stay real INT4 initializers behind DequantizeLinear.
 */
export function containerize4BitActivations(model: ModelProto, dtype: 'uint4' | 'int4'): number {
  const g = model.graph!;
  const producer = new Map<string, NodeProto>();
  const consumers = new Map<string, NodeProto[]>();
  for (const n of g.node) {
    for (const o of n.output) producer.set(o, n);
    for (const i of n.input) if (i) consumers.set(i, [...(consumers.get(i) ?? []), n]);
  }
  const inits = new Map(g.initializer.map((t) => [t.name, t]));
  const { qmin, qmax } = dtypeInfo(dtype);
  const wide = dtype === 'uint4' ? 'uint8' : 'int8';
  const out: NodeProto[] = [];
  let changed = 0;
  for (const n of g.node) {
    if (n.opType === 'QuantizeLinear') {
      const dqs = consumers.get(n.output[0]!) ?? [];
      const zpT = inits.get(n.input[2] ?? '');
      const sT = inits.get(n.input[1]!);
      if (zpT && sT && zpT.dataType === onnxDataTypeOf(dtype) && dqs.every((d) => d.opType === 'DequantizeLinear')) {
        const s = tensorToFloat32(sT)[0]!, z = Number(tensorToFloat32(zpT)[0]!);
        const lo = `${n.input[1]}_clip_lo`, hi = `${n.input[1]}_clip_hi`, zp8 = `${n.input[2]}_8bit`, clipped = `${n.input[0]}_clipped_${changed}`;
        if (!inits.has(lo)) {
          const add = [makeTensor(lo, DataType.FLOAT, [], Float32Array.of((qmin - z) * s)), makeTensor(hi, DataType.FLOAT, [], Float32Array.of((qmax - z) * s)), makeTensor(zp8, onnxDataTypeOf(wide), [], toStorageArray([z], wide))];
          for (const t of add) { g.initializer.push(t); inits.set(t.name, t); }
        }
        out.push(create(NodeProtoSchema, { opType: 'Clip', name: `${n.name}_clip4`, input: [n.input[0]!, lo, hi], output: [clipped] }));
        n.input[0] = clipped;
        n.input[2] = zp8;
        for (const d of dqs) d.input[2] = zp8;
        changed++;
      }
    }
    out.push(n);
  }
  g.node = out;
  return changed;
}

export async function prepareQat(source: ModelProto, o: PrepareOptions): Promise<QatSetup> {
  const model = clone(ModelProtoSchema, source);
  const notices: string[] = [];
  const folded = foldConvBatchNorm(model, o.baseDir);
  if (folded.length) notices.push(`QAT: folded ${folded.length} BatchNormalization node(s) into the Conv before them.`);
  const recipe = o.recipe;
  const plan = qatPlan(model, recipe);
  const g = model.graph!;
  const inits = new Map(g.initializer.map((t) => [t.name, t]));
  const params = new Map<string, Float32Array>();
  const paramDims = new Map<string, number[]>();
  for (const name of trainableInitializers(model)) {
    const t = inits.get(name)!;
    params.set(name, tensorToFloat32(t, o.baseDir));
    paramDims.set(name, tensorDims(t));
  }
  const weightQuant = new Map<string, WeightQuant>();
  const group = typeof recipe.weights.granularity === 'object' ? recipe.weights.granularity.group : undefined;
  for (const t of plan.targets) {
    if (t.weightInput === undefined) continue;
    const name = t.node.input[t.weightInput]!;
    if (weightQuant.has(name)) continue;
    const w = params.get(name);
    if (!w) { notices.push(`QAT: weight ${quote(name)} of node ${quote(t.node.name)} is not trainable here; it is quantized but stays fixed.`); continue; }
    const axis = group ? t.groupAxis : t.weightAxis;
    weightQuant.set(name, initWeightQuant(name, w, paramDims.get(name)!, recipe.weights.dtype, recipe.weights.scheme, axis, group && axis !== undefined ? group : undefined));
  }
  const activations = new Map<string, ActivationQuant>();
  const fqPoints: ActivationFq[] = [];
  const a = recipe.activations;
  let calibration: CalibrationResult | undefined;
  if (a && plan.calibrate.length) {
    const { qmin, qmax } = dtypeInfo(a.dtype);
    const hooks = calibrationMethod(a);
    const cal = await runCalibration(model, plan.calibrate, o.calibration, {
      samples: recipe.calibration.samples, batchSize: recipe.calibration.batchSize, device: o.device, ctx: o.ctx,
      makeCollector: hooks.makeCollector,
      chooseRange: a.calibration.method === 'mse'
        ? (_t, c) => { const r = c.range(); const h = c.histogram(); return mseRange(h.edges, h.counts, r.min, r.max, a.dtype, a.scheme); }
        : hooks.chooseRange,
    });
    calibration = cal;
    if (hooks.notice && a.calibration.method !== 'mse') notices.push(hooks.notice);
    for (const src of plan.calibrate) {
      const st = cal.stats.get(src);
      if (!st) throw new StudioError('BAD_DATA', `QAT calibration saw no values for tensor ${quote(src)}.`);
      const p = activationParams(st.rangeMin, st.rangeMax, a.dtype, a.scheme);
      activations.set(src, { scale: p.scale, zeroPoint: p.zeroPoint, qmin, qmax });
    }
    for (const [tensor, src] of plan.activations) fqPoints.push({ tensor, param: src, qmin, qmax });
  }
  // Mirror of the QDQ writer's rule: a bias becomes int32 when its node's activation input is quantized.
  const biasQuant = new Map<string, { weight: string; act: string }>();
  if (a && !group) {
    for (const t of plan.targets) {
      if (t.biasInput === undefined || t.weightInput === undefined) continue;
      const act = plan.activations.get(t.node.input[0]!);
      const bias = t.node.input[t.biasInput]!;
      if (act && params.has(bias) && weightQuant.has(t.node.input[t.weightInput]!)) biasQuant.set(bias, { weight: t.node.input[t.weightInput]!, act });
    }
  }
  return { model, baseDir: o.baseDir, recipe, plan, params, paramDims, weightQuant, activations, fqPoints, biasQuant, notices, ...(calibration ? { calibration } : {}) };
}

export interface TrainOptions {
  steps: number;
  lr: number;
  batchSize: number;
  learnScales?: boolean;
  /** Decoupled weight decay for matrices and kernels (biases, norms and scales get none). Default 0. */
  weightDecay?: number;
  /** Default: 5 % of the steps. */
  warmupSteps?: number;
  seed?: number;
  /** Use only the first N training samples. */
  trainSamples?: number;
  evalEvery?: number;
  evalSet?: { inputs: Record<string, NpyArray>; labels?: NpyArray };
  checkpointEvery?: number;
  checkpointPath?: string;
  device?: Device;
  threads?: number;
}

export interface TrainResult {
  steps: number;
  /** Step the run resumed from (0 for a fresh run). */
  resumedFrom: number;
  history: { step: number; loss: number; metric?: number }[];
  loss: 'cross-entropy' | 'distillation-kl';
  provider: 'cpu' | 'cuda';
  timeMs: number;
}


function gatherRows(a: NpyArray, rows: readonly number[]): NpyArray {
  const per = a.shape.slice(1).reduce((x, y) => x * y, 1);
  const Ctor = a.data.constructor as new (n: number) => NpyData;
  const out = new Ctor(rows.length * per);
  rows.forEach((r, k) => (out as Float32Array).set((a.data as Float32Array).subarray(r * per, (r + 1) * per), k * per));
  return { dtype: a.dtype, shape: [rows.length, ...a.shape.slice(1)], data: out };
}

function softmaxRows(logits: Float32Array, classes: number, out: Float32Array): number {
  let entropy = 0;
  for (let i = 0; i < logits.length; i += classes) {
    let mx = -Infinity;
    for (let c = 0; c < classes; c++) mx = Math.max(mx, logits[i + c]!);
    let sum = 0;
    for (let c = 0; c < classes; c++) sum += Math.exp(logits[i + c]! - mx);
    for (let c = 0; c < classes; c++) {
      const p = Math.exp(logits[i + c]! - mx) / sum;
      out[i + c] = p;
      if (p > 0) entropy -= p * Math.log(p);
    }
  }
  return entropy / (logits.length / classes);
}

function fingerprint(setup: QatSetup, o: TrainOptions, samples: number, distill: boolean): string {
  const h = createHash('sha256');
  h.update(JSON.stringify({ recipe: setup.recipe, steps: o.steps, lr: o.lr, batch: o.batchSize, learnScales: !!o.learnScales, samples, distill, seed: o.seed ?? 1 }));
  for (const [n, v] of setup.params) h.update(`${n}:${v.length};`);
  return h.digest('hex').slice(0, 32);
}

/** Feeds of the fake-quantized parameters and activation scales. */
function paramFeeds(setup: QatSetup, buffers: Map<string, Float32Array>): Record<string, ort.Tensor> {
  const feeds: Record<string, ort.Tensor> = {};
  for (const [name, w] of setup.params) {
    const wq = setup.weightQuant.get(name);
    let v = w;
    if (wq) {
      let buf = buffers.get(name);
      if (!buf) { buf = new Float32Array(w.length); buffers.set(name, buf); }
      v = fakeQuantWeight(w, wq, buf as Float32Array<ArrayBuffer>);
    }
    const bq = setup.biasQuant.get(name);
    if (bq) {
      let buf = buffers.get(name);
      if (!buf) { buf = new Float32Array(w.length); buffers.set(name, buf); }
      v = fakeQuantBias(w, setup.activations.get(bq.act)!.scale, setup.weightQuant.get(bq.weight)!.params.scale, buf as Float32Array<ArrayBuffer>);
    }
    feeds[name] = new ort.Tensor('float32', v, setup.paramDims.get(name)!);
  }
  for (const [src, a] of setup.activations) {
    feeds[scaleInputName(src)] = new ort.Tensor('float32', Float32Array.of(a.scale), []);
    feeds[zeroPointInputName(src)] = new ort.Tensor('float32', Float32Array.of(a.zeroPoint), []);
  }
  return feeds;
}

function inputFeeds(inputs: Record<string, NpyArray>): Record<string, ort.Tensor> {
  const f: Record<string, ort.Tensor> = {};
  for (const [k, v] of Object.entries(inputs)) f[k] = toOrtTensor(v, k);
  return f;
}

/**
 * Fine-tune `setup` in place. Labels (class ids, one per output row) give a cross-entropy loss;
 * without them the FP32 model's softmax is the target (distillation, KL reported).
 */
export async function trainQat(setup: QatSetup, data: { inputs: Record<string, NpyArray>; labels?: NpyArray }, o: TrainOptions, ctx?: WorkContext): Promise<TrainResult> {
  const t0 = performance.now();
  const graph = setup.model.graph!;
  for (const i of graph.input) {
    if (setup.params.has(i.name) || graph.initializer.some((t) => t.name === i.name)) continue;
    if (!data.inputs[i.name]) throw new StudioError('BAD_DATA', `QAT needs training data for model input ${quote(i.name)} (--data ${i.name}=FILE.npy).`);
  }
  const total = Math.min(sampleCount(data.inputs), o.trainSamples ?? Infinity);
  // A model with a fixed batch trains on runs of exactly that size.
  const B = fixedRunSize(data.inputs) ?? o.batchSize;
  if (total < B) throw new StudioError('BAD_DATA', `QAT needs at least one batch of ${B} training samples; the data holds ${total}.`);
  const distill = !data.labels;
  const seed = o.seed ?? 1;
  const perEpoch = Math.floor(total / B);
  let permEpoch = -1;
  let perm: number[] = [];
  const batchRows = (step: number): number[] => {
    const epoch = Math.floor(step / perEpoch);
    if (epoch !== permEpoch) {
      const r = rng(seed * 7919 + epoch);
      perm = Array.from({ length: total }, (_, i) => i);
      for (let i = total - 1; i > 0; i--) { const j = Math.floor(r() * (i + 1)); [perm[i], perm[j]] = [perm[j]!, perm[i]!]; }
      permEpoch = epoch;
    }
    const k = (step % perEpoch) * B;
    return perm.slice(k, k + B);
  };
  const batchInputs = (rows: number[]) => {
    const out: Record<string, NpyArray> = {};
    for (const i of graph.input) if (data.inputs[i.name]) out[i.name] = gatherRows(data.inputs[i.name]!, rows);
    return out;
  };

  const paramNames = [...setup.params.keys()];
  const output = graph.output[0]!.name;
  const shapes = await probeShapes(setup.model, inputFeeds(batchInputs(batchRows(0))), paramNames, o.device ?? 'cpu');
  const tg = buildTrainingGraph(setup.model, { params: paramNames, activations: setup.fqPoints, learnScales: o.learnScales, shapes, output });
  const session = await createSession(serializeModel(tg.model), { device: o.device ?? 'cpu', threads: o.threads, source: 'QAT training graph' });
  const teacher = distill ? await createSession(serializeModel(setup.model), { device: o.device ?? 'cpu', threads: o.threads, source: 'QAT teacher (FP32 model)' }) : undefined;
  const evaluator = o.evalSet && o.evalEvery ? await FakeQuantEvaluator.open(setup, o.device, o.threads) : undefined;

  const outShape = shapes.get(output)!;
  const classes = outShape[outShape.length - 1]!;
  const targetLen = outShape.reduce((a, b) => a * b, 1);
  const rowsPerSample = targetLen / classes / B;
  if (data.labels) {
    const per = data.labels.shape.slice(1).reduce((a, b) => a * b, 1);
    if (per !== rowsPerSample || data.labels.shape[0]! < total) {
      throw new StudioError('BAD_DATA', `QAT labels of shape [${data.labels.shape.join(',')}] do not fit output ${quote(output)} of shape [${outShape.join(',')}] (${rowsPerSample} label(s) per sample, ${total} samples).`);
    }
  }

  const adam = new AdamW();
  const schedule = { lr: o.lr, steps: o.steps, warmupSteps: o.warmupSteps ?? Math.round(o.steps * 0.05), minFraction: 0 };
  const fp = fingerprint(setup, o, total, distill);
  const history: TrainResult['history'] = [];
  // Log-domain scales: Adam's relative steps suit a positive parameter of any magnitude.
  const logScales = new Map<string, Float32Array>();
  if (o.learnScales) {
    for (const [n, wq] of setup.weightQuant) logScales.set(`w:${n}`, Float32Array.from(wq.params.scale, Math.log));
    for (const [src, a] of setup.activations) logScales.set(`a:${src}`, Float32Array.of(Math.log(a.scale)));
  }
  const applyScales = () => {
    for (const [k, v] of logScales) {
      if (k.startsWith('w:')) { const s = setup.weightQuant.get(k.slice(2))!.params.scale; for (let i = 0; i < v.length; i++) s[i] = Math.fround(Math.exp(v[i]!)); }
      else setup.activations.get(k.slice(2))!.scale = Math.fround(Math.exp(v[0]!));
    }
  };

  const snapshot = (step: number): CheckpointState => {
    const arrays = new Map<string, Float32Array>();
    for (const [n, v] of setup.params) arrays.set(`p:${n}`, v);
    for (const [n, wq] of setup.weightQuant) arrays.set(`ws:${n}`, wq.params.scale);
    for (const [n, a] of setup.activations) arrays.set(`as:${n}`, Float32Array.of(a.scale));
    for (const [k, v] of logScales) arrays.set(`ls:${k}`, v);
    for (const [k, v] of adam.m) arrays.set(`m:${k}`, v);
    for (const [k, v] of adam.v) arrays.set(`v:${k}`, v);
    return { step, fingerprint: fp, history, arrays, counts: Object.fromEntries(adam.t) };
  };
  let start = 0;
  if (o.checkpointPath) {
    const ck = await loadCheckpoint(o.checkpointPath);
    if (ck) {
      if (ck.fingerprint !== fp) throw new StudioError('BAD_DATA', `QAT checkpoint ${quote(o.checkpointPath)} belongs to another model, recipe or data set; delete it or choose another checkpoint path.`);
      for (const [k, v] of ck.arrays) {
        const [kind, ...rest] = k.split(':');
        const name = rest.join(':');
        if (kind === 'p') setup.params.get(name)?.set(v);
        else if (kind === 'ws') setup.weightQuant.get(name)?.params.scale.set(v);
        else if (kind === 'as') { const a = setup.activations.get(name); if (a) a.scale = v[0]!; }
        else if (kind === 'ls') logScales.get(name)?.set(v);
        else if (kind === 'm') adam.m.set(name, v);
        else if (kind === 'v') adam.v.set(name, v);
      }
      for (const [k, c] of Object.entries(ck.counts)) adam.t.set(k, c);
      history.push(...ck.history);
      start = ck.step;
    }
  }
  const checkpoint = async (step: number) => { if (o.checkpointPath) await saveCheckpoint(o.checkpointPath, snapshot(step)); };

  const buffers = new Map<string, Float32Array>();
  const target = new Float32Array(targetLen);
  const decays = new Set(paramNames.filter((n) => setup.paramDims.get(n)!.length >= 2));
  const fetch = [tg.lossOutput, ...tg.gradOutputs.values(), ...tg.scaleGradOutputs.values()];
  try {
    for (let step = start; step < o.steps; step++) {
      if (ctx?.signal?.aborted) { await checkpoint(step); throwIfCancelled(ctx); }
      const rows = batchRows(step);
      const bi = batchInputs(rows);
      const feeds = { ...inputFeeds(bi), ...paramFeeds(setup, buffers) };
      let entropy = 0;
      if (teacher) {
        const out = await teacher.run(inputFeeds(bi), [output]);
        entropy = softmaxRows(out[output]!.data as Float32Array, classes, target);
      } else {
        target.fill(0);
        const lab = data.labels!;
        const per = rowsPerSample;
        rows.forEach((r, k) => {
          for (let j = 0; j < per; j++) {
            const c = Number(lab.data[r * per + j]!);
            if (!Number.isInteger(c) || c < 0 || c >= classes) throw new StudioError('BAD_DATA', `QAT label ${quote(c)} of sample ${r} is not a class id in [0, ${classes}).`);
            target[(k * per + j) * classes + c] = 1;
          }
        });
      }
      feeds[tg.targetInput] = new ort.Tensor('float32', target, outShape);
      const res = await session.run(feeds, fetch);
      const loss = (res[tg.lossOutput]!.data as Float32Array)[0]! - entropy;
      if (!Number.isFinite(loss)) throw new StudioError('RUNTIME_ERROR', `QAT diverged at step ${step + 1}: the loss is ${quote(String(loss))}. Lower the learning rate (now ${o.lr}).`);
      const lr = learningRate(schedule, step);
      for (const [name, w] of setup.params) {
        const grad = res[tg.gradOutputs.get(name)!]!.data as Float32Array;
        const wq = setup.weightQuant.get(name);
        if (wq) {
          const ls = logScales.get(`w:${name}`);
          const sg = ls ? new Float64Array(ls.length) : undefined;
          steWeightGrad(w, wq, grad, sg);
          if (ls && sg) adam.step(`ls:w:${name}`, ls, Float32Array.from(sg, (g, i) => g * wq.params.scale[i]!), lr);
        }
        adam.step(name, w, grad, lr, decays.has(name) ? o.weightDecay ?? 0 : 0);
      }
      for (const [src, out] of tg.scaleGradOutputs) {
        const ls = logScales.get(`a:${src}`)!;
        const g = (res[out]!.data as Float32Array)[0]! * setup.activations.get(src)!.scale;
        adam.step(`ls:a:${src}`, ls, [g], lr);
      }
      applyScales();
      for (const v of Object.values(res)) v.dispose?.();
      const entry: TrainResult['history'][number] = { step: step + 1, loss };
      const last = step + 1 === o.steps;
      if (evaluator && o.evalSet && ((step + 1) % o.evalEvery! === 0 || last)) {
        const ev = await evaluator.evaluate(o.evalSet.inputs, o.evalSet.labels);
        if (ev.top1 !== undefined) entry.metric = ev.top1;
      }
      history.push(entry);
      ctx?.onProgress?.({
        stage: 'qat', fraction: (step + 1) / o.steps,
        message: `QAT step ${step + 1}/${o.steps}: ${distill ? 'KL' : 'loss'} ${loss.toFixed(4)}${entry.metric !== undefined ? `, top-1 ${(entry.metric * 100).toFixed(2)} %` : ''}`,
        metrics: { step: step + 1, loss, lr, ...(entry.metric !== undefined ? { metric: entry.metric } : {}) },
      });
      if (o.checkpointEvery && (step + 1) % o.checkpointEvery === 0 && !last) await checkpoint(step + 1);
    }
  } finally {
    await session.release();
    await teacher?.release();
    await evaluator?.release();
  }
  return { steps: o.steps, resumedFrom: start, history, loss: distill ? 'distillation-kl' : 'cross-entropy', provider: session.provider, timeMs: performance.now() - t0 };
}

/** Runs the fake-quantized forward graph (what training sees) on any batch size. */
export class FakeQuantEvaluator {
  private readonly buffers = new Map<string, Float32Array>();
  private constructor(private readonly setup: QatSetup, private readonly s: StudioSession) {}

  static async open(setup: QatSetup, device?: Device, threads?: number): Promise<FakeQuantEvaluator> {
    const tg = buildTrainingGraph(setup.model, { params: [...setup.params.keys()], activations: setup.fqPoints, backward: false });
    return new FakeQuantEvaluator(setup, await createSession(serializeModel(tg.model), { device: device ?? 'cpu', threads, source: 'QAT fake-quant model' }));
  }

  /** Logits of every sample, and top-1 accuracy when labels (one class per sample) are given. */
  async evaluate(inputs: Record<string, NpyArray>, labels?: NpyArray, batch = 256): Promise<{ top1?: number; logits: Float32Array[] }> {
    const n = wholeRuns(inputs, sampleCount(inputs));
    batch = runSize(inputs, batch);
    const output = this.setup.model.graph!.output[0]!.name;
    const pf = paramFeeds(this.setup, this.buffers);
    const logits: Float32Array[] = [];
    let correct = 0;
    for (let s = 0; s < n; s += batch) {
      const e = Math.min(n, s + batch);
      const f: Record<string, ort.Tensor> = { ...pf };
      for (const [k, v] of Object.entries(inputs)) f[k] = toOrtTensor(sliceSamples(v, s, e), k);
      const out = await this.s.run(f, [output]);
      const y = out[output]!.data as Float32Array;
      logits.push(y.slice());
      if (labels) correct += countCorrect(y, labels, s, e);
    }
    return { ...(labels ? { top1: correct / n } : {}), logits };
  }

  release(): Promise<void> { return this.s.release(); }
}

/** Correct top-1 predictions of logits [e - s, C] against labels[s..e). */
export function countCorrect(y: Float32Array, labels: NpyArray, s: number, e: number): number {
  const classes = y.length / (e - s);
  let correct = 0;
  for (let i = 0; i < e - s; i++) {
    let best = 0;
    for (let c = 1; c < classes; c++) if (y[i * classes + c]! > y[i * classes + best]!) best = c;
    if (best === Number(labels.data[s + i]!)) correct++;
  }
  return correct;
}

function replaceInitializer(g: NonNullable<ModelProto['graph']>, t: TensorProto): void {
  const i = g.initializer.findIndex((x) => x.name === t.name);
  if (i < 0) throw new StudioError('INTERNAL', `QAT export: the QDQ writer made no initializer ${quote(t.name)}.`);
  g.initializer[i] = t;
}

/**
 * The real QDQ model of the current state: the QDQ writer lays out the graph; then every quantized
 * weight's integers and scales, every bias, and every activation scale/zero-point are replaced by the
 * ones training used, so ORT computes what the fake-quant graph computed.
 */
export function exportQat(setup: QatSetup): ModelProto {
  return exportQatDetailed(setup).model;
}

/** exportQat plus what the QDQ writer reports (quantized nodes, dequantized tensor names). */
export function exportQatDetailed(setup: QatSetup): { model: ModelProto } & RewriteResult {
  const m = clone(ModelProtoSchema, setup.model);
  const g = m.graph!;
  g.initializer = g.initializer.map((t) => (setup.params.has(t.name) ? makeTensor(t.name, DataType.FLOAT, tensorDims(t), setup.params.get(t.name)!) : t));
  const recipe = setup.recipe;
  const plan = qatPlan(m, recipe);
  const before = plan.targets.map((t) => ({ weight: t.weightInput !== undefined ? t.node.input[t.weightInput] : undefined, bias: t.biasInput !== undefined ? t.node.input[t.biasInput] : undefined, act: t.node.input[t.activationInputs[0] ?? -1] }));
  const ranges = new Map<string, { min: number; max: number }>();
  for (const [src, a] of setup.activations) ranges.set(src, { min: (a.qmin - a.zeroPoint) * a.scale, max: (a.qmax - a.zeroPoint) * a.scale });
  const written = rewriteQdq(m, plan, ranges, recipe, setup.baseDir);
  const producer = new Map<string, NodeProto>();
  for (const n of g.node) for (const o of n.output) producer.set(o, n);
  const initOf = (name: string) => g.initializer.find((t) => t.name === name);
  plan.targets.forEach((t, k) => {
    const { weight, bias, act } = before[k]!;
    if (weight === undefined || t.weightInput === undefined) return;
    const wq = setup.weightQuant.get(weight);
    const dq = producer.get(t.node.input[t.weightInput]!);
    if (!wq || !dq || dq.opType !== 'DequantizeLinear') return;
    const [qn, sn, zn] = dq.input as [string, string, string];
    const ints = quantizeWeightInts(setup.params.get(weight)!, wq);
    const dt = onnxDataTypeOf(recipe.weights.dtype);
    const sDims = tensorDims(initOf(sn)!);
    if (sDims.reduce((a, b) => a * b, 1) !== wq.params.scale.length) throw new StudioError('INTERNAL', `QAT export: weight ${quote(weight)} has ${wq.params.scale.length} scales, the QDQ writer ${quote(sDims)}.`);
    replaceInitializer(g, makeTensor(qn, dt, wq.dims, toStorageArray(ints, recipe.weights.dtype)));
    replaceInitializer(g, makeTensor(sn, DataType.FLOAT, sDims, wq.params.scale.slice()));
    replaceInitializer(g, makeTensor(zn, dt, sDims, toStorageArray(wq.params.zeroPoint, recipe.weights.dtype)));
    if (bias === undefined || t.biasInput === undefined) return;
    const bdq = producer.get(t.node.input[t.biasInput]!);
    const src = act ? plan.activations.get(act) : undefined;
    const aq = src ? setup.activations.get(src) : undefined;
    if (!bdq || bdq.opType !== 'DequantizeLinear' || !aq) return;
    const b = setup.params.get(bias) ?? tensorToFloat32(setup.model.graph!.initializer.find((x) => x.name === bias)!, setup.baseDir);
    const { scales, q } = biasInts(b, aq.scale, wq.params.scale);
    replaceInitializer(g, makeTensor(bdq.input[0]!, DataType.INT32, [b.length], q));
    replaceInitializer(g, makeTensor(bdq.input[1]!, DataType.FLOAT, [b.length], scales));
  });
  const a = recipe.activations;
  if (a) {
    for (const n of g.node) {
      if (n.opType !== 'QuantizeLinear') continue;
      if (!plan.activations.has(n.input[0]!)) continue;
      const src = planSource(plan, n.input[0]!);
      const aq = src ? setup.activations.get(src) : undefined;
      if (!aq) continue;
      replaceInitializer(g, makeTensor(n.input[1]!, DataType.FLOAT, [], Float32Array.of(aq.scale)));
      // Keep the writer's zero-point type: 4-bit activations may travel in an 8-bit container.
      const zt = initOf(n.input[2]!)?.dataType ?? onnxDataTypeOf(a.dtype);
      const signed = zt === DataType.INT8 || zt === DataType.INT4;
      replaceInitializer(g, makeTensor(n.input[2]!, zt, [], signed ? Int8Array.of(aq.zeroPoint) : Uint8Array.of(aq.zeroPoint)));
    }
  }
  loadable4BitActivations(m, recipe);
  return { model: m, ...written };
}

/** See containerize4BitActivations: makes a 4-bit-activation QDQ model loadable by ORT 1.30 with its default optimizations. */
export function loadable4BitActivations(model: ModelProto, recipe: Recipe): void {
  const a = recipe.activations;
  if (a && (a.dtype === 'uint4' || a.dtype === 'int4') && containerize4BitActivations(model, a.dtype) > 0) pruneUnused(model.graph!);
}

/** The QDQ writer's int32 bias: scale s_in * s_w per channel, rounded half to even. */
export function biasInts(b: Float32Array, actScale: number, weightScales: Float32Array): { scales: Float32Array; q: Int32Array } {
  const perChannel = weightScales.length === b.length;
  const scales = new Float32Array(b.length), q = new Int32Array(b.length);
  for (let c = 0; c < b.length; c++) {
    const s = Math.fround(actScale * weightScales[perChannel ? c : 0]!);
    scales[c] = s > 0 ? s : 1;
    const x = Math.fround(b[c]! / scales[c]!);
    const f = Math.floor(x), d = x - f;
    const r = d > 0.5 ? f + 1 : d < 0.5 ? f : f % 2 === 0 ? f : f + 1;
    q[c] = Math.max(-(2 ** 31), Math.min(2 ** 31 - 1, r));
  }
  return { scales, q };
}

/** What DequantizeLinear gives back for the int32 bias (the gradient passes straight through). */
export function fakeQuantBias(b: Float32Array, actScale: number, weightScales: Float32Array, out: Float32Array): Float32Array {
  const { scales, q } = biasInts(b, actScale, weightScales);
  for (let c = 0; c < b.length; c++) out[c] = Math.fround(q[c]! * scales[c]!);
  return out;
}

function planSource(plan: QdqPlan, tensor: string): string | undefined {
  return plan.activations.get(tensor);
}
