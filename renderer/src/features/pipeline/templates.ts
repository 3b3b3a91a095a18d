// Ready-made pipelines: PTQ, QAT, W8A8 SmoothQuant, the two W4A16 weight-only methods and mixed
// precision under an accuracy target.
import { chainDoc, type PipelineDoc } from './pipeline-doc';

export interface PipelineTemplate {
  id: string;
  title: string;
  summary: string;
  build: () => PipelineDoc;
}

export const TEMPLATES: readonly PipelineTemplate[] = [
  {
    id: 'ptq', title: 'PTQ (W8A8)', summary: 'Int8 per-channel weights, uint8 activations calibrated with MinMax.',
    build: () => chainDoc('PTQ W8A8', [
      { id: 'model', type: 'model' },
      { id: 'data', type: 'data', params: { samples: 256 } },
      { id: 'calibrate', type: 'calibrate' },
      { id: 'params', type: 'quant-params' },
      { id: 'qmodel', type: 'quantized-model' },
      { id: 'evaluate', type: 'evaluate' },
      { id: 'export', type: 'export' },
    ]),
  },
  {
    id: 'qat', title: 'QAT', summary: 'Fine-tune with fake quantization: forward → backward (STE) → update, looped.',
    build: () => chainDoc('QAT W8A8', [
      { id: 'model', type: 'model' },
      { id: 'data', type: 'data', params: { samples: 1024 } },
      { id: 'calibrate', type: 'calibrate' },
      { id: 'params', type: 'quant-params' },
      // A short fine-tune for the template (the engine's default is 600 steps).
      { id: 'forward', type: 'qat-forward', params: { steps: 300 } },
      { id: 'backward', type: 'qat-backward' },
      { id: 'update', type: 'qat-update' },
      { id: 'qmodel', type: 'quantized-model' },
      { id: 'evaluate', type: 'evaluate' },
      { id: 'export', type: 'export', params: { fileName: 'model.qat.onnx' } },
    ], [['update', 'forward']]),
  },
  {
    id: 'w8a8-smoothquant', title: 'W8A8 SmoothQuant', summary: 'Migrates activation outliers into weights, then int8 everywhere (LLMs).',
    build: () => chainDoc('W8A8 SmoothQuant', [
      { id: 'model', type: 'model' },
      { id: 'data', type: 'data', params: { samples: 64, batchSize: 8 } },
      { id: 'calibrate', type: 'calibrate', params: { method: 'percentile', percentile: 99.99 } },
      { id: 'params', type: 'quant-params', params: { activationDtype: 'int8', activationScheme: 'symmetric', opTypes: 'MatMul' } },
      { id: 'smoothquant', type: 'smoothquant' },
      { id: 'qmodel', type: 'quantized-model' },
      { id: 'evaluate', type: 'evaluate' },
      { id: 'export', type: 'export', params: { fileName: 'model.w8a8.onnx' } },
    ]),
  },
  {
    id: 'w4a16-gptq', title: 'W4A16 GPTQ', summary: 'Int4 weight-only, group 32, GPTQ rounding, MatMulNBits.',
    build: () => chainDoc('W4A16 GPTQ', [
      { id: 'model', type: 'model' },
      { id: 'data', type: 'data', params: { samples: 64, batchSize: 8 } },
      { id: 'params', type: 'quant-params', params: { weightDtype: 'int4', granularity: 'group', groupSize: 32, activationDtype: 'none', opTypes: 'MatMul' } },
      { id: 'gptq', type: 'gptq' },
      { id: 'qmodel', type: 'quantized-model', params: { format: 'matmulnbits' } },
      { id: 'evaluate', type: 'evaluate' },
      { id: 'export', type: 'export', params: { fileName: 'model.w4.onnx' } },
    ]),
  },
  {
    id: 'w4a16-awq', title: 'W4A16 AWQ', summary: 'Int4 weight-only, group 32, activation-aware scaling, MatMulNBits.',
    build: () => chainDoc('W4A16 AWQ', [
      { id: 'model', type: 'model' },
      { id: 'data', type: 'data', params: { samples: 64, batchSize: 8 } },
      { id: 'params', type: 'quant-params', params: { weightDtype: 'int4', granularity: 'group', groupSize: 32, activationDtype: 'none', opTypes: 'MatMul' } },
      { id: 'awq', type: 'awq' },
      { id: 'qmodel', type: 'quantized-model', params: { format: 'matmulnbits' } },
      { id: 'evaluate', type: 'evaluate' },
      { id: 'export', type: 'export', params: { fileName: 'model.w4.onnx' } },
    ]),
  },
  {
    id: 'mixed-precision', title: 'Mixed precision (target)', summary: 'W8A8 where it keeps the output SQNR ≥ 30 dB; the layers and tensors that would break it stay float.',
    build: () => chainDoc('Mixed precision', [
      { id: 'model', type: 'model' },
      { id: 'data', type: 'data', params: { samples: 256 } },
      { id: 'calibrate', type: 'calibrate' },
      { id: 'params', type: 'quant-params' },
      { id: 'target', type: 'target', params: { metric: 'sqnr', min: 30 } },
      { id: 'qmodel', type: 'quantized-model' },
      { id: 'evaluate', type: 'evaluate' },
      { id: 'export', type: 'export', params: { fileName: 'model.mixed.onnx' } },
    ]),
  },
];

export function templateById(id: string): PipelineTemplate | undefined {
  return TEMPLATES.find((t) => t.id === id);
}
