// A recipe (../shared/cli-contract.md) drawn as a pipeline: the inverse of compilePipeline, used when
// a sample project or a CLI recipe is opened in the editor. compile(recipeToDoc(r)) gives r back.
// Absent keys take the engine's defaults (contract/recipe.ts, contract/algorithms.ts).
import { chainDoc, type PipelineDoc } from './pipeline-doc';
import type { RecipeJson } from './compile';
import type { Params } from './node-types';
import { algorithmDecl, paramShapes } from '../../../../contract/algorithms';
import { DEFAULT_RECIPE } from '../../../../contract/recipe';

const qatDefault = (key: string) => paramShapes(algorithmDecl('qat')!).find((p) => p.key === key)!.default!;

export function recipeToDoc(name: string, r: Partial<RecipeJson>): PipelineDoc {
  const d = DEFAULT_RECIPE;
  const w = { ...d.weights, ...r.weights };
  const a = r.activations === undefined ? d.activations : r.activations === null ? null : { ...d.activations!, ...r.activations, calibration: Object.assign({ method: 'minmax' }, r.activations.calibration) };
  const algs = r.algorithms ?? d.algorithms;
  const g = w.granularity ?? 'channel';
  const params: Params = {
    weightDtype: w.dtype ?? 'int8', weightScheme: w.scheme ?? 'symmetric',
    granularity: typeof g === 'object' ? 'group' : g, groupSize: typeof g === 'object' ? g.group : 32,
    activationDtype: a ? a.dtype ?? 'uint8' : 'none', activationScheme: a?.scheme ?? 'asymmetric',
    opTypes: (r.opTypes ?? d.opTypes).join(', '), exclude: (r.exclude ?? []).join(', '), int8Layers: (r.int8Layers ?? []).join(', '),
  };
  const chain: { id: string; type: string; params?: Params }[] = [
    { id: 'model', type: 'model' },
    { id: 'data', type: 'data', params: { samples: r.calibration?.samples ?? d.calibration.samples, batchSize: r.calibration?.batchSize ?? d.calibration.batchSize } },
  ];
  if (a) {
    const cal = a.calibration as { method?: string; percentile?: number };
    chain.push({ id: 'calibrate', type: 'calibrate', params: { method: cal.method ?? 'minmax', ...(cal.percentile !== undefined ? { percentile: cal.percentile } : {}) } });
  }
  chain.push({ id: 'params', type: 'quant-params', params });
  const extra: [string, string][] = [];
  for (const al of algs) {
    const { name: algName, ...rest } = (typeof al === 'string' ? { name: al } : al) as { name: string } & Params;
    if (algName === 'rtn') continue;
    if (algName === 'qat') {
      chain.push({ id: 'forward', type: 'qat-forward', params: { steps: rest.steps ?? qatDefault('steps'), batchSize: rest.batchSize ?? qatDefault('batchSize') } });
      chain.push({ id: 'backward', type: 'qat-backward', params: { learnScales: rest.learnScales ?? qatDefault('learnScales') } });
      chain.push({ id: 'update', type: 'qat-update', params: { lr: rest.lr ?? qatDefault('lr') } });
      extra.push(['update', 'forward']);
      continue;
    }
    chain.push({ id: algName, type: algName, params: rest });
  }
  if (r.target) chain.push({ id: 'target', type: 'target', params: { ...r.target } as Params });
  // The multi-token mode travels with the format (it applies to MatMulNBits only).
  chain.push({ id: 'qmodel', type: 'quantized-model', params: { format: r.format ?? d.format, ...(r.prefill ? { prefill: r.prefill } : {}) } });
  chain.push({ id: 'evaluate', type: 'evaluate' });
  chain.push({ id: 'export', type: 'export' });
  return chainDoc(name, chain, extra);
}
