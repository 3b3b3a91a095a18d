// Where the read-only ../shared folder is (models, data, reference figures). Tests may read it;
// the shipped app may not. QSTUDIO_SHARED overrides the location.
import { existsSync } from 'node:fs';
import { resolve, dirname, join } from 'node:path';
import { fileURLToPath } from 'node:url';

export const repoRoot = resolve(dirname(fileURLToPath(import.meta.url)), '..', '..');
export const sharedDir = process.env.QSTUDIO_SHARED ?? resolve(repoRoot, '..', 'shared');
export const sharedPath = (...parts: string[]) => join(sharedDir, ...parts);
export const hasShared = existsSync(sharedDir);
export const models = {
  cnn: sharedPath('models', 'fmnist-cnn.onnx'),
  gpt: sharedPath('models', 'moby-gpt.onnx'),
  gptOutliers: sharedPath('models', 'moby-gpt-outliers.onnx'),
};
