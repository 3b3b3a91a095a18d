// The dtype and op tables (engine/core) are complete — a row for every dtype and op type a recipe may
// name — consistent with themselves and with ONNX, and they are what the QDQ planner writes.
import { describe, it, expect } from 'vitest';
import { DTYPES, dtypeInfo, type QuantDType } from '../../../engine/core/dtypes';
import { QUANT_OPS, QUANT_OP_TYPES, ACTIVATION_QUANT_OP_TYPES, SHARE_SCALE_OPS, weightAxes, isQuantOp } from '../../../engine/core/ops';
import { WEIGHT_DTYPES, ACTIVATION_DTYPES, SUPPORTED_OP_TYPES } from '../../../contract/recipe';
import { DataType } from '../../../engine/onnx/tensor';
import { loadModel } from '../../../engine/onnx/model-io';
import { planQdq } from '../../../engine/export/qdq-plan';
import { parseRecipe } from '../../../engine/pipeline/recipe';
import { StudioError } from '../../../engine/errors';
import { models } from '../../helpers/shared';

describe('dtype table', () => {
  it('has one row for every dtype a recipe can name, and no other', () => {
    const named = new Set<string>([...WEIGHT_DTYPES, ...ACTIVATION_DTYPES]);
    expect(new Set(Object.keys(DTYPES))).toEqual(named);
    for (const [k, row] of Object.entries(DTYPES)) expect(row.name).toBe(k);
  });

  it('each row is self-consistent: range from bits and sign, container wide enough, ONNX type of the container', () => {
    const containerBits = { int8: 8, uint8: 8, int4: 4, uint4: 4 } as const;
    const onnxOf = { int8: DataType.INT8, uint8: DataType.UINT8, int4: DataType.INT4, uint4: DataType.UINT4 } as const;
    for (const row of Object.values(DTYPES)) {
      expect(row.qmax - row.qmin + 1).toBe(2 ** row.bits);
      expect(row.qmin < 0).toBe(row.signed);
      expect(row.signed).toBe(row.container.startsWith('int'));
      expect(containerBits[row.container]).toBeGreaterThanOrEqual(row.bits);
      expect(row.onnxType).toBe(onnxOf[row.container]);
      expect(row.perByte).toBe(8 / containerBits[row.container]);
      expect(dtypeInfo(row.name)).toBe(row);
    }
  });

  it('keeps the ranges the engine has always used', () => {
    const ranges = Object.fromEntries(Object.values(DTYPES).map((r) => [r.name, [r.qmin, r.qmax]]));
    expect(ranges).toEqual({ int8: [-128, 127], uint8: [0, 255], int4: [-8, 7], uint4: [0, 15], int3: [-4, 3] } satisfies Record<QuantDType, number[]>);
  });
});

describe('op table', () => {
  it('has one row for every op type a recipe can name', () => {
    expect(new Set(Object.keys(QUANT_OPS))).toEqual(new Set(SUPPORTED_OP_TYPES));
    expect([...QUANT_OP_TYPES]).toEqual([...SUPPORTED_OP_TYPES]);
    expect(ACTIVATION_QUANT_OP_TYPES).toEqual(['MatMul', 'Gemm', 'Conv', 'ConvTranspose']);
    expect(isQuantOp('Gather')).toBe(true);
    expect(isQuantOp('toString')).toBe(false);
  });

  it('axes fall inside the weight and never coincide; ops that share scales never quantize', () => {
    for (const op of QUANT_OP_TYPES) {
      for (const rank of [2, 3, 4]) {
        for (const attrs of [{}, { transB: 1 }, { group: 2 }]) {
          const { channelAxis, blockAxis } = QUANT_OPS[op].axes(rank, attrs);
          for (const a of [channelAxis, blockAxis]) if (a !== undefined) expect(a >= 0 && a < rank).toBe(true);
          if (channelAxis !== undefined && blockAxis !== undefined) expect(channelAxis).not.toBe(blockAxis);
        }
      }
      expect(SHARE_SCALE_OPS.has(op)).toBe(false);
    }
  });

  it('gives the output-channel and reduction axes per op', () => {
    expect(weightAxes('Conv', 4)).toEqual({ channelAxis: 0, blockAxis: 1 });
    expect(weightAxes('ConvTranspose', 4)).toEqual({ channelAxis: 1, blockAxis: 0 });
    // Grouped ConvTranspose: the exporter writes one scale for the tensor, so no channel axis.
    expect(weightAxes('ConvTranspose', 4, { group: 2 })).toEqual({ channelAxis: undefined, blockAxis: 0 });
    expect(weightAxes('Gemm', 2, { transB: 1 })).toEqual({ channelAxis: 0, blockAxis: 1 });
    expect(weightAxes('Gemm', 2, { transB: 0 })).toEqual({ channelAxis: 1, blockAxis: 0 });
    expect(weightAxes('MatMul', 2)).toEqual({ channelAxis: 1, blockAxis: 0 });
    expect(weightAxes('MatMul', 3)).toEqual({ channelAxis: 2, blockAxis: 1 });
    expect(weightAxes('MatMul', 1)).toEqual({});
    expect(weightAxes('Gather', 2)).toEqual({ channelAxis: 0 });
    expect(() => weightAxes('LSTM', 3, {}, 'rnn/lstm')).toThrow(StudioError);
    expect(() => weightAxes('LSTM', 3, {}, 'rnn/lstm')).toThrow(/LSTM.*rnn\/lstm/);
  });

  // What the Ranges view shows (weightAxes) is what the QDQ export writes, on real models.
  for (const [name, path] of [['fmnist-cnn', models.cnn], ['moby-gpt', models.gpt]] as const) {
    it(`the QDQ planner writes per-channel and per-group scales along the table's axes (${name})`, async () => {
      const { model } = await loadModel(path);
      const inits = new Map(model.graph!.initializer.map((t) => [t.name, t]));
      const attr = (n: { attribute: { name: string; i: bigint }[] }, a: string, d: number) => Number(n.attribute.find((x) => x.name === a)?.i ?? d);
      let checked = 0;
      for (const granularity of ['channel', { group: 16 }] as const) {
        const plan = planQdq(model, parseRecipe({ opTypes: [...SUPPORTED_OP_TYPES], weights: { dtype: 'int8', granularity } }), name);
        for (const t of plan.targets) {
          if (t.weightInput === undefined || !isQuantOp(t.node.opType)) continue;
          const w = inits.get(t.node.input[t.weightInput]!);
          if (!w) continue;
          expect(t.weightInput).toBe(QUANT_OPS[t.node.opType].weightInput);
          const axes = weightAxes(t.node.opType, w.dims.length, { transB: attr(t.node, 'transB', 0), group: attr(t.node, 'group', 1) });
          if (granularity === 'channel') expect(t.weightAxis).toBe(axes.channelAxis);
          else expect(t.groupAxis).toBe(axes.blockAxis);
          checked++;
        }
      }
      expect(checked).toBeGreaterThan(2);
    }, 60_000);
  }
});
