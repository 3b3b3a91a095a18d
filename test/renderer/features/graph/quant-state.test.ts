import { describe, expect, it } from 'vitest';
import { statesFromRecipe, statesFromReport, errorsFromReport, errorColour } from '../../../../renderer/src/features/graph/quant-state';
import { parseRunReport } from '../../../../renderer/src/features/runs/run-report';
import { layoutGraph } from '../../../../renderer/src/features/graph/graph-layout';

const nodes = [
  { id: 'conv1', name: 'conv1', opType: 'Conv', outputs: ['c1'] },
  { id: 'relu1', name: 'relu1', opType: 'Relu', outputs: ['r1'] },
  { id: 'fc', name: 'fc', opType: 'Gemm', outputs: ['logits'] },
];

describe('graph quantization state', () => {
  it('predicts states from a recipe: op types, exclusions, 4-bit', () => {
    const s = statesFromRecipe(nodes, { opTypes: ['Conv', 'Gemm'], exclude: ['fc'], weights: { dtype: 'int4', scheme: 'symmetric', granularity: 'channel' } });
    expect([...s.values()]).toEqual(['int4', 'float', 'excluded']);
  });

  it('reads real states and errors from a report, ignoring malformed fields', () => {
    const report = parseRunReport({
      quantized: [{ node: 'conv1', opType: 'Conv', weightDtype: 'int8' }, 'junk'],
      skipped: [{ node: 'fc', opType: 'Gemm', reason: 'excluded by recipe' }],
      layers: [{ tensor: 'c1', sqnrDb: 31.5, cosine: 0.999, mse: 1e-4 }, { tensor: 'logits', node: 'fc', sqnrDb: 'bad', cosine: 1, mse: 0 }],
      sizeBytes: { original: 1000, quantized: 300 },
      metrics: { top1: 0.92, bogus: 'x' },
    })!;
    expect(report.metrics).toEqual({ top1: 0.92 });
    expect([...statesFromReport(nodes, report).values()]).toEqual(['int8', 'float', 'excluded']);
    const errs = errorsFromReport(nodes, report);
    expect(errs.get('conv1')).toBe(31.5);
    expect(errs.has('fc')).toBe(false);
    expect(parseRunReport(null)).toBeNull();
    expect(parseRunReport([1, 2] as never)).toBeNull();
  });

  it('colours low SQNR red and high SQNR green', () => {
    expect(errorColour(5)).toBe('hsl(0, 70%, 42%)');
    expect(errorColour(40)).toBe('hsl(130, 70%, 42%)');
  });

  it('lays out a chain top to bottom', () => {
    const l = layoutGraph({ nodes: nodes.map((n) => ({ id: n.id })), edges: [{ source: 'conv1', target: 'relu1' }, { source: 'relu1', target: 'fc' }] });
    const ys = nodes.map((n) => l.positions.get(n.id)!.y);
    expect(ys[0]).toBeLessThan(ys[1]!);
    expect(ys[1]).toBeLessThan(ys[2]!);
  });
});
