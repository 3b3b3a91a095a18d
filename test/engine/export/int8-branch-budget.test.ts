// The default int8 prefill branch costs onnxruntime ~48 B per converted weight to open (it folds the
// int8 weights from the int4 data and holds every intermediate): it is left out, with a notice naming
// the figures, where that would pass the run's memory budget (1.5× the FP32 model, at least 512 MiB),
// and kept below it. The quality warning's quick diagnosis (~3× the model) follows the same budget.
import { describe, it, expect } from 'vitest';
import { create, ModelProtoSchema, GraphProtoSchema, NodeProtoSchema, AttributeProtoSchema, AttributeType } from '../../../engine/onnx/proto';
import { int8BranchMemoryReason, INT8_BRANCH_OPEN_BYTES_PER_WEIGHT } from '../../../engine/export/exporters';
import { diagnosisMemoryReason } from '../../../engine/eval/evaluate-run';
import { RUN_MEMORY_FLOOR } from '../../../engine/runtime/memory-budget';

const withMatMulNBits = (shapes: [number, number][]) => create(ModelProtoSchema, {
  graph: create(GraphProtoSchema, {
    node: shapes.map(([N, K], i) => create(NodeProtoSchema, {
      name: `mm${i}`, opType: 'MatMulNBits', domain: 'com.microsoft', input: ['x', `b${i}`, `s${i}`], output: [`y${i}`],
      attribute: [['N', N], ['K', K]].map(([name, v]) => create(AttributeProtoSchema, { name: name as string, type: AttributeType.INT, i: BigInt(v!) })),
    })),
  }),
});

describe('memory budget of the optional passes', () => {
  it('keeps the int8 branch of a small model and drops that of a 1 B-parameter one, saying why', () => {
    // moby-gpt-sized: 7.45 M weights, 30 MB FP32 -> ~0.36 GB to open, under the 512 MiB floor
    expect(int8BranchMemoryReason(withMatMulNBits([[768, 9700]]), 30e6)).toBeUndefined();
    // LLaMA-1B-sized: 16 layers of 4 x 2048x2048 + 3 x 2048x5632, 3.8 GB FP32
    const layers = Array.from({ length: 16 }, () => [[2048, 2048], [2048, 2048], [2048, 2048], [2048, 2048], [5632, 2048], [5632, 2048], [2048, 5632]] as [number, number][]).flat();
    const why = int8BranchMemoryReason(withMatMulNBits(layers), 3.8e9);
    expect(why).toMatch(/no int8 branch.*about 3\d\.\d GiB.*\(822 M weights\), over the memory budget of 5\.3 GiB/);
    // exactly at the budget: kept; one weight more: dropped
    const atFloor = Math.floor(RUN_MEMORY_FLOOR / INT8_BRANCH_OPEN_BYTES_PER_WEIGHT);
    expect(int8BranchMemoryReason(withMatMulNBits([[1, atFloor]]), 1e6)).toBeUndefined();
    expect(int8BranchMemoryReason(withMatMulNBits([[1, atFloor + 1]]), 1e6)).toBeDefined();
  });

  it('runs the quick diagnosis while 3x the model fits the budget, names the reason above it', () => {
    expect(diagnosisMemoryReason(100e6)).toBeUndefined();
    expect(diagnosisMemoryReason(undefined)).toBeUndefined();
    expect(diagnosisMemoryReason(3.8e9)).toMatch(/quick sensitivity pass was not run: on this 3\.5 GiB model it would hold about 10\.6 GiB, over the run's memory budget of 5\.3 GiB; "qstudio analyze"/);
  });
});
