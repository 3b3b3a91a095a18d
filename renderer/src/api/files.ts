// Choosing files the same way in both hosts: Electron opens a native dialog (a path); the browser
// host uploads the chosen file over HTTP POST /upload (an upload id). Both give a contract FileRef.
import type { FileRef, StudioClient } from '../../../contract/ipc';
import { hostToken } from './ws-client';

export interface PickOptions { title?: string; filters?: { name: string; extensions: string[] }[] }

/** Upload a browser File to the browser host; resolves with a FileRef for models.import / datasets.add. */
export async function uploadFile(file: File): Promise<FileRef> {
  const res = await fetch(`/upload?token=${encodeURIComponent(hostToken())}&name=${encodeURIComponent(file.name)}`, {
    method: 'POST',
    headers: { 'content-type': 'application/octet-stream' },
    body: file,
  });
  const body = (await res.json().catch(() => null)) as { ok?: boolean; value?: { uploadId: string }; error?: { message: string } } | null;
  if (!res.ok || !body?.ok || !body.value) throw new Error(body?.error?.message ?? `Upload of '${file.name}' failed (HTTP ${res.status}).`);
  return { kind: 'upload', uploadId: body.value.uploadId, name: file.name };
}

/** Let the user choose a file: native dialog in Electron, a file input + upload in the browser. */
export async function pickFile(studio: StudioClient, opts: PickOptions = {}): Promise<FileRef | null> {
  if (studio.host === 'electron') {
    const { path } = await studio.invoke('dialog.openFile', { title: opts.title, filters: opts.filters });
    return path ? { kind: 'path', path } : null;
  }
  const input = document.createElement('input');
  input.type = 'file';
  if (opts.filters?.length) input.accept = opts.filters.flatMap((f) => f.extensions.map((e) => `.${e}`)).join(',');
  const file = await new Promise<File | null>((resolve) => {
    input.addEventListener('change', () => resolve(input.files?.[0] ?? null), { once: true });
    input.addEventListener('cancel', () => resolve(null), { once: true });
    input.click();
  });
  return file ? uploadFile(file) : null;
}

/** URL that downloads an artifact from the browser host (carries the token). Browser host only. */
export function artifactDownloadUrl(artifactId: string): string {
  return `/download/artifact/${encodeURIComponent(artifactId)}?token=${encodeURIComponent(hostToken())}`;
}

/**
 * Save a run's artifact where the user wants it: Electron asks with a save dialog and exports
 * (atomically) there; the browser downloads it. Resolves with the written path, or null when the user
 * cancelled or the browser took over the download.
 */
export async function saveArtifact(studio: StudioClient, artifact: { id: string; file: string }): Promise<string | null> {
  const name = artifact.file.split('/').pop() ?? 'artifact';
  if (studio.host === 'electron') {
    const { path } = await studio.invoke('dialog.saveFile', { title: 'Export', defaultName: name, filters: [{ name: 'ONNX model', extensions: ['onnx'] }] });
    if (!path) return null;
    return (await studio.invoke('artifacts.export', { id: artifact.id, destPath: path })).path;
  }
  const a = document.createElement('a');
  a.href = artifactDownloadUrl(artifact.id);
  a.download = name;
  a.click();
  return null;
}
