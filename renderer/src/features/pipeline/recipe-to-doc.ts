// A recipe (../shared/cli-contract.md) drawn as a pipeline: the inverse of compilePipeline, used when
// a sample project or a CLI recipe is opened in the editor. compile(recipeToDoc(r)) gives r back.
import { chainDoc, type PipelineDoc } from './pipeline-doc';
import type { RecipeJson } from './compile';
import type { Params } from './node-types';

export function recipeToDoc(name: string, r: Partial<RecipeJson>): PipelineDoc {
  const w = r.weights ?? { dtype: 'int8', scheme: 'symmetric', granularity: 'channel' };
  const a = r.activations === undefined ? { dtype: 'uint8', scheme: 'asymmetric', calibration: { method: 'minmax' } } : r.activations;
  const algs = r.algorithms ?? [{ name: 'rtn' }];
  const g = w.granularity ?? 'channel';
  const params: Params = {
    weightDtype: w.dtype ?? 'int8', weightScheme: w.scheme ?? 'symmetric',
    granularity: typeof g === 'object' ? 'group' : g, groupSize: typeof g === 'object' ? g.group : 32,
    activationDtype: a ? a.dtype ?? 'uint8' : 'none', activationScheme: a?.scheme ?? 'asymmetric',
    opTypes: (r.opTypes ?? ['MatMul', 'Gemm', 'Conv']).join(', '), exclude: (r.exclude ?? []).join(', '),
  };
  const chain: { id: string; type: string; params?: Params }[] = [
    { id: 'model', type: 'model' },
    { id: 'data', type: 'data', params: { samples: r.calibration?.samples ?? 512, batchSize: r.calibration?.batchSize ?? 32 } },
  ];
  if (a) {
    const cal = a.calibration ?? { method: 'minmax' };
    chain.push({ id: 'calibrate', type: 'calibrate', params: { method: cal.method ?? 'minmax', ...(cal.percentile !== undefined ? { percentile: cal.percentile } : {}) } });
  }
  chain.push({ id: 'params', type: 'quant-params', params });
  const extra: [string, string][] = [];
  for (const al of algs) {
    const { name: algName, ...rest } = al as { name: string } & Params;
    if (algName === 'rtn') continue;
    if (algName === 'qat') {
      chain.push({ id: 'forward', type: 'qat-forward', params: { steps: rest.steps ?? 300, batchSize: rest.batchSize ?? 64 } });
      chain.push({ id: 'backward', type: 'qat-backward', params: { learnScales: rest.learnScales ?? false } });
      chain.push({ id: 'update', type: 'qat-update', params: { lr: rest.lr ?? 1e-4 } });
      extra.push(['update', 'forward']);
      continue;
    }
    chain.push({ id: algName, type: algName, params: rest });
  }
  chain.push({ id: 'qmodel', type: 'quantized-model', params: { format: r.format ?? 'qdq' } });
  chain.push({ id: 'evaluate', type: 'evaluate' });
  chain.push({ id: 'export', type: 'export' });
  return chainDoc(name, chain, extra);
}
