import { describe, expect, it } from 'vitest';
import { compilePipeline, validatePipeline, problemsByNode } from '../../../../renderer/src/features/pipeline/compile';
import { TEMPLATES, templateById } from '../../../../renderer/src/features/pipeline/templates';
import { parseRecipe } from '../../../../engine/pipeline/recipe';
import type { PipelineDoc } from '../../../../renderer/src/features/pipeline/pipeline-doc';

const ptq = () => templateById('ptq')!.build();
const setParam = (d: PipelineDoc, type: string, key: string, value: string | number | boolean): PipelineDoc => ({
  ...d, nodes: d.nodes.map((n) => (n.type === type ? { ...n, params: { ...n.params, [key]: value } } : n)),
});

describe('pipeline → recipe compiler', () => {
  it('compiles the PTQ template to the contract defaults the engine accepts', () => {
    const r = compilePipeline(ptq());
    expect(r.ok).toBe(true);
    if (!r.ok) return;
    expect(r.recipe).toEqual({
      weights: { dtype: 'int8', scheme: 'symmetric', granularity: 'channel' },
      activations: { dtype: 'uint8', scheme: 'asymmetric', calibration: { method: 'minmax' } },
      algorithms: [{ name: 'rtn' }],
      opTypes: ['MatMul', 'Gemm', 'Conv'],
      exclude: [],
      format: 'qdq',
      calibration: { samples: 256, batchSize: 32 },
    });
    expect(r.options).toEqual({ evaluate: true, latency: true, exportFileName: 'model.int8.onnx' });
    // The engine's parser is the one judge of the format: it must take the compiled recipe as is.
    const parsed = parseRecipe(r.recipe);
    expect(parsed.weights.granularity).toBe('channel');
    expect(parsed.activations?.calibration.method).toBe('minmax');
  });

  it('compiles every template to a recipe the engine parses without complaint', () => {
    for (const t of TEMPLATES) {
      const r = compilePipeline(t.build());
      expect(r.ok, `${t.id}: ${JSON.stringify(r.problems)}`).toBe(true);
      if (r.ok) expect(() => parseRecipe(r.recipe, t.id)).not.toThrow();
    }
  });

  it('maps the W4A16 GPTQ template to weight-only int4 groups in MatMulNBits', () => {
    const r = compilePipeline(templateById('w4a16-gptq')!.build());
    if (!r.ok) throw new Error(JSON.stringify(r.problems));
    expect(r.recipe.weights).toEqual({ dtype: 'int4', scheme: 'symmetric', granularity: { group: 32 } });
    expect(r.recipe.activations).toBeNull();
    expect(r.recipe.format).toBe('matmulnbits');
    expect(r.recipe.prefill).toBe('int8'); // the int8 branch for multi-token steps, the export's default
    expect(r.recipe.algorithms).toEqual([{ name: 'gptq', damp: 0.01, actOrder: false, blockSize: 128 }]);
    const nb = compilePipeline(setParam(templateById('w4a16-gptq')!.build(), 'quantized-model', 'prefill', 'matmulnbits'));
    if (!nb.ok) throw new Error(JSON.stringify(nb.problems));
    expect(nb.recipe.prefill).toBe('matmulnbits');
  });

  it('puts SmoothQuant first and QAT last, reading the loop nodes', () => {
    const sq = compilePipeline(templateById('w8a8-smoothquant')!.build());
    if (!sq.ok) throw new Error(JSON.stringify(sq.problems));
    expect(sq.recipe.algorithms.map((a) => a.name)).toEqual(['smoothquant', 'rtn']);
    expect(sq.recipe.activations?.calibration).toEqual({ method: 'percentile', percentile: 99.99 });
    const qat = compilePipeline(setParam(templateById('qat')!.build(), 'qat-update', 'lr', 0.001));
    if (!qat.ok) throw new Error(JSON.stringify(qat.problems));
    expect(qat.recipe.algorithms).toEqual([{ name: 'qat', steps: 300, batchSize: 64, lr: 0.001, learnScales: false }]);
  });
});

describe('pipeline validation explains problems on the wrong node', () => {
  it('accepts the QAT back-edge but rejects other backward edges on the target node', () => {
    expect(validatePipeline(templateById('qat')!.build())).toEqual([]);
    const d = ptq();
    d.edges.push({ id: 'x', source: 'qmodel', target: 'calibrate' });
    const byNode = problemsByNode(validatePipeline(d));
    expect(byNode.get('calibrate')?.join(' ')).toMatch(/cannot come after 'Quantized model'/);
  });

  it('says on Calibrate that it needs data when the data node is removed', () => {
    const d = ptq();
    d.nodes = d.nodes.filter((n) => n.id !== 'data');
    d.edges = d.edges.filter((e) => e.source !== 'data' && e.target !== 'data');
    d.edges.push({ id: 'm-c', source: 'model', target: 'calibrate' });
    const r = compilePipeline(d);
    expect(r.ok).toBe(false);
    const byNode = problemsByNode(r.problems);
    expect(byNode.get('calibrate')?.[0]).toMatch(/Needs 'Calibration data' upstream/);
  });

  it('flags MatMulNBits with int8 weights on the quantized-model node', () => {
    const d = setParam(setParam(ptq(), 'quantized-model', 'format', 'matmulnbits'), 'quant-params', 'activationDtype', 'none');
    const byNode = problemsByNode(validatePipeline(d));
    expect(byNode.get('qmodel')).toEqual(["MatMulNBits needs 4-bit or 3-bit weights, but the params node says 'int8'."]);
  });

  it('names the parameter and quotes the bad value', () => {
    const d = setParam(ptq(), 'calibrate', 'method', 'percentile');
    const bad = setParam(d, 'calibrate', 'percentile', 120);
    expect(problemsByNode(validatePipeline(bad)).get('calibrate')).toEqual(["Percentile: '120' is above 100."]);
    const frac = setParam(ptq(), 'data', 'samples', 2.5);
    expect(problemsByNode(validatePipeline(frac)).get('data')).toEqual(["Samples: '2.5' must be a whole number."]);
  });

  it('reports unconnected nodes and a missing model on the graph', () => {
    const d = ptq();
    d.nodes.push({ id: 'gptq-1', type: 'gptq', position: { x: 0, y: 0 }, params: {} });
    d.nodes = d.nodes.filter((n) => n.type !== 'model');
    d.edges = d.edges.filter((e) => e.source !== 'model');
    const problems = validatePipeline(d);
    expect(problems.some((p) => p.nodeId === undefined && /FP32 model/.test(p.message))).toBe(true);
    expect(problemsByNode(problems).get('gptq-1')?.[0]).toMatch(/not connected/);
  });

  it('flags an incomplete QAT loop', () => {
    const d = templateById('qat')!.build();
    d.nodes = d.nodes.filter((n) => n.type !== 'qat-backward');
    d.edges = d.edges.filter((e) => e.source !== 'backward' && e.target !== 'backward');
    d.edges.push({ id: 'f-u', source: 'forward', target: 'update' });
    expect(validatePipeline(d).map((p) => p.message).join(' ')).toMatch(/add 'Backward \(STE\)'/);
  });
});

describe('the Target node', () => {
  const withTarget = (params: Record<string, string | number>) => {
    const doc = templateById('mixed-precision')!.build();
    return { ...doc, nodes: doc.nodes.map((n) => (n.type === 'target' ? { ...n, params } : n)) };
  };
  it('compiles to the recipe "target" with the chosen metric and only its threshold', () => {
    const r = (p: Record<string, string | number>) => { const c = compilePipeline(withTarget(p)); if (!c.ok) throw new Error(JSON.stringify(c.problems)); return c.recipe.target; };
    expect(r({ metric: 'sqnr', min: 30, maxDrop: 0.5 })).toEqual({ metric: 'sqnr', min: 30 });
    expect(r({ metric: 'top1', maxDrop: 0.005 })).toEqual({ metric: 'top1', maxDrop: 0.005 });
    expect(r({ metric: 'perplexity', maxIncrease: 0.004, min: 12 })).toEqual({ metric: 'perplexity', maxIncrease: 0.004 });
    // "size" is the engine's default and is not written; "latency" is.
    expect(r({ metric: 'sqnr', min: 30, prefer: 'size' })).toEqual({ metric: 'sqnr', min: 30 });
    expect(r({ metric: 'sqnr', min: 30, prefer: 'latency' })).toEqual({ metric: 'sqnr', min: 30, prefer: 'latency' });
    expect(parseRecipe({ target: r({ metric: 'top1', maxDrop: 0.01, prefer: 'latency' }) }, 'target').target).toEqual({ metric: 'top1', maxDrop: 0.01, prefer: 'latency' });
    expect(parseRecipe(r({ metric: 'top1', maxDrop: 0.01 }) === undefined ? {} : { target: r({ metric: 'top1', maxDrop: 0.01 }) }, 'target').target).toEqual({ metric: 'top1', maxDrop: 0.01 });
  });
  it('puts a threshold out of the contract bounds on the Target node', () => {
    const c = compilePipeline(withTarget({ metric: 'top1', maxDrop: 2 }));
    expect(c.ok).toBe(false);
    if (!c.ok) expect(c.problems).toContainEqual({ nodeId: 'target', message: "Max top-1 drop (fraction): '2' is above 1." });
  });
  it('a pipeline without a Target node has no target', () => {
    const c = compilePipeline(templateById('ptq')!.build());
    expect(c.ok && 'target' in c.recipe).toBe(false);
  });
});
