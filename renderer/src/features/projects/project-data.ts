// Shared, non-visual helpers for project views.
import type { DatasetInfo, ModelInfo } from '../../../../contract/ipc';

export function calibrationDatasets(ds: DatasetInfo[]): DatasetInfo[] {
  return ds.filter((d) => d.kind === 'npy' && d.options.role !== 'labels');
}

export function labelDataset(ds: DatasetInfo[]): DatasetInfo | undefined {
  return ds.find((d) => d.kind === 'npy' && d.options.role === 'labels');
}

export function modelInputNames(m: ModelInfo | undefined): string[] {
  return m?.inputs.map((i) => i.name) ?? [];
}

/** `dir` + relative file, with the separator the project folder uses. */
export function projectPath(dir: string, file: string): string {
  const sep = dir.includes('\\') && !dir.includes('/') ? '\\' : '/';
  return `${dir.replace(/[\\/]+$/, '')}${sep}${file.replace(/\//g, sep)}`;
}
