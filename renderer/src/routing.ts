// The route (what the main area shows) and what every project view is given. A leaf module: the
// shell (App.tsx) mounts the views and the views navigate, and neither imports the other for it.
import type { Project } from '../../contract/ipc';

export type Route = { kind: 'home' } | { kind: 'project'; projectId: string; tab: string } | { kind: 'global'; id: string };

/** Props of a view mounted as a project tab (App.tsx's PROJECT_TABS). */
export interface ProjectViewProps {
  project: Project;
  /** Call after changing the project itself (rename, delete) so the sidebar refreshes. */
  onProjectChanged: () => void;
}

/** Change the route: the hash is the route, so a reload keeps the place. */
export function navigate(route: Route): void {
  window.location.hash = route.kind === 'home' ? '#/' : route.kind === 'global' ? `#/g/${route.id}` : `#/p/${encodeURIComponent(route.projectId)}/${route.tab}`;
}
