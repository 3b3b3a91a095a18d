// Tensor statistics for the Ranges view: a weight's histogram, per-method ranges and per-channel
// extremes (along the axis the exporter writes scales on), and activations observed on a
// calibration dataset.
import type { ActivationRange, TensorStats } from '../../contract/ipc';
import { StudioError, quote } from '../errors';
import type { LoadedModel } from '../onnx/model-io';
import { tensorToFloat32, tensorDims, dataTypeName } from '../onnx/tensor';
import { ACTIVATION_QUANT_OP_TYPES, isQuantOp, weightAxes } from '../core/ops';
import { runCalibration } from '../quant/calibration/run-calibration';
import { percentileRange } from '../quant/calibration/collectors';
import { constantTensors } from './graph-view';
import { makeCalibrators, moments, plotHistogram, quantChoices, toTensorHistogram, weightStatsOffThread } from './tensor-stats';
import { cachesOf, datasetInputs, loadedModel } from './workspace';
import type { Handlers } from './types';

function consumerOf(lm: LoadedModel, tensor: string) {
  return lm.model.graph!.node.find((n) => n.input.includes(tensor) && isQuantOp(n.opType));
}

export const tensorHandlers: Handlers = {
  'tensors.stats': async (req, d): Promise<TensorStats> => {
    const lm = await loadedModel(d, req.modelId);
    const g = lm.model.graph!;
    const bits = req.bits ?? 8;
    const percentile = req.percentile ?? 99.99;
    const weight = g.initializer.find((t) => t.name === req.tensor) ?? constantTensors(lm.model).get(req.tensor);
    if (weight) {
      const values = tensorToFloat32(weight, lm.baseDir);
      const dims = tensorDims(weight);
      const consumer = consumerOf(lm, req.tensor);
      let channelAxis: number | undefined;
      if (consumer && dims.length >= 2) {
        const attr = (name: string, dflt: number) => Number(consumer.attribute.find((a) => a.name === name)?.i ?? dflt);
        // The axis the exporter writes per-channel scales along (none: the view shows none).
        channelAxis = weightAxes(consumer.opType, dims.length, { transB: attr('transB', 0), group: attr('group', 1) }, consumer.name).channelAxis;
      }
      // Large weights are measured in a worker thread, so the host keeps answering meanwhile.
      const st = await weightStatsOffThread({ values, dims, channelAxis, bits, percentile, name: req.tensor });
      return {
        tensor: req.tensor, kind: 'weight', dtype: dataTypeName[weight.dataType] ?? String(weight.dataType), shape: dims,
        count: st.count, min: st.min, max: st.max, mean: st.mean, std: st.std, histogram: st.histogram, exact: true,
        choices: st.choices, perChannel: st.perChannel,
        source: consumer ? `weight of ${consumer.opType} '${consumer.name}'` : 'weight',
      };
    }
    const produced = g.node.some((n) => n.output.includes(req.tensor)) || g.input.some((i) => i.name === req.tensor);
    if (!produced) throw new StudioError('NOT_FOUND', `Tensor ${quote(req.tensor)} is neither a weight nor an activation of this model.`);
    if (!req.datasetId) throw new StudioError('BAD_ARGUMENT', `Tensor ${quote(req.tensor)} is an activation: choose a calibration dataset to observe it.`);
    const { inputs, name } = datasetInputs(d, req.modelId, req.datasetId, lm);
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

  'tensors.activationRanges': async (req, d) => {
    const samples = req.samples ?? 32;
    const { activationRanges } = cachesOf(d);
    const key = `${req.modelId}:${req.datasetId}:${samples}`;
    const hit = activationRanges.get(key);
    if (hit) return [...hit.values()];
    const lm = await loadedModel(d, req.modelId);
    const g = lm.model.graph!;
    const weights = new Set([...g.initializer.map((t) => t.name), ...constantTensors(lm.model).keys()]);
    const wanted = new Map<string, { node: string; opType: string }>();
    for (const n of g.node) {
      if (!(ACTIVATION_QUANT_OP_TYPES as readonly string[]).includes(n.opType)) continue;
      for (const t of n.input) if (t && !weights.has(t) && !wanted.has(t)) wanted.set(t, { node: n.name, opType: n.opType });
    }
    const { inputs } = datasetInputs(d, req.modelId, req.datasetId, lm);
    const cal = await runCalibration(lm.model, [...wanted.keys()], inputs, { samples, batchSize: 8, device: 'cpu' });
    const out = new Map<string, ActivationRange>();
    for (const [t, w] of wanted) {
      const st = cal.stats.get(t);
      if (!st) continue;
      const p = percentileRange(st.histogram, 99.9, st.min, st.max);
      out.set(t, { tensor: t, node: w.node, opType: w.opType, min: st.min, max: st.max, p999Min: p.min, p999Max: p.max });
    }
    activationRanges.set(key, out);
    return [...out.values()];
  },
};
