// Events between views and the shell that neither should import the other for (the shell mounts
// the views): a view that created or renamed a project tells the sidebar to refresh its list.
export const PROJECTS_CHANGED = 'qstudio:projects-changed';

export function announceProjectsChanged(): void {
  window.dispatchEvent(new Event(PROJECTS_CHANGED));
}
