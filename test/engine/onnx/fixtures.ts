// Real third-party models (npm devDependencies) and real inputs for the ONNX I/O tests.
import { existsSync } from 'node:fs';
import { join } from 'node:path';
import { repoRoot, models } from '../../helpers/shared';

const nm = (...p: string[]) => join(repoRoot, 'node_modules', ...p);
export const thirdParty = {
  ppocrRec: nm('@gutenye', 'ocr-models', 'assets', 'ch_PP-OCRv4_rec_infer.onnx'),
  ppocrDet: nm('@gutenye', 'ocr-models', 'assets', 'ch_PP-OCRv4_det_infer.onnx'),
  ppocrCls: nm('@gutenye', 'ocr-models', 'assets', 'ch_ppocr_mobile_v2.0_cls_infer.onnx'),
  sileroIfless: nm('@jjhbw', 'silero-vad', 'weights', 'silero_vad_op18_ifless.onnx'),
  /** Silero v5 with 25 If nodes (subgraphs) and LSTMs. */
  sileroIf: nm('@jjhbw', 'silero-vad', 'weights', 'silero_vad.onnx'),
  sileroHalf: nm('@jjhbw', 'silero-vad', 'weights', 'silero_vad_half.onnx'),
};
/** 8 real text-line crops [8,3,48,192] shipped with the PP-OCR sample project. */
export const ocrLines = join(repoRoot, 'projects-sample', 'ppocr-rec', 'lines.npy');

export const roundTripModels: { name: string; path: string }[] = [
  { name: 'fmnist-cnn', path: models.cnn },
  { name: 'moby-gpt', path: models.gpt },
  { name: 'PP-OCRv4 rec (Constant weights, opset 9)', path: thirdParty.ppocrRec },
  { name: 'PP-OCRv4 det (Constant weights, Resize, ConvTranspose)', path: thirdParty.ppocrDet },
  { name: 'PP-OCR cls', path: thirdParty.ppocrCls },
  { name: 'Silero VAD op18 ifless (Conv + Gemm)', path: thirdParty.sileroIfless },
  { name: 'Silero VAD v5 (If subgraphs, LSTM)', path: thirdParty.sileroIf },
  { name: 'Silero VAD half', path: thirdParty.sileroHalf },
].filter((m) => existsSync(m.path));
