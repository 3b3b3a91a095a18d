// The pipeline open in each project, remembered per browser profile: the editor reopens it after a
// tab switch or a reload, and the Ranges view marks what that pipeline (not some other one) does.
const key = (projectId: string) => `qstudio.pipeline.${projectId}`;

export function rememberedPipeline(projectId: string): string | null {
  try { return window.localStorage.getItem(key(projectId)); } catch { return null; }
}

export function rememberPipeline(projectId: string, id: string | null): void {
  try { if (id) window.localStorage.setItem(key(projectId), id); else window.localStorage.removeItem(key(projectId)); } catch { /* storage disabled: only this visit remembers */ }
}
