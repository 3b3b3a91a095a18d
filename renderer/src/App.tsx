// The studio's shell: a sidebar (projects, navigation) and a main area that shows the selected
// project's tab. Routing is a hash (`#/p/<projectId>/<tab>`) so a reload keeps the place and the
// browser host's `?token=` stays in the URL.
//
// HOW TO MOUNT A VIEW: write the view in renderer/src/features/<area>/, export a component
// taking `ProjectViewProps` from ./routing (or no props for a global view), then add ONE line to `PROJECT_TABS`
// (tabs inside a project) or `GLOBAL_VIEWS` (sidebar entries outside projects) below, e.g.
//     { id: 'pipeline', title: 'Pipeline', view: PipelineEditor },
// A tab's id is its URL segment. Inside a view use `useStudio()` / `useQuery()` / `useStudioEvents()`
// from ./api/use-studio and `pickFile()` from ./api/files; `navigate()` from ./routing changes the route.
// Also: `saveArtifact()` in ./api/files (Electron save dialog + export; browser download).
// Stable test ids the shell's e2e test uses: new-project-name, create-project, project-list,
// project-item, project-title, tab-<id>.
import { useEffect, useState, type ComponentType, type FormEvent } from 'react';
import type { Project, StudioClient } from '../../contract/ipc';
import { StudioContext, useQuery, useStudio } from './api/use-studio';
import { ProjectOverview } from './features/projects/ProjectOverview';
import { SamplesView } from './features/projects/SamplesView';
import { PipelineEditor } from './features/pipeline/PipelineEditor';
import { GraphView } from './features/graph/GraphView';
import { RangesView } from './features/tensors/RangesView';
import { SensitivityView } from './features/sensitivity/SensitivityView';
import { RunsView as StudioRunsView } from './features/runs/RunsView';
import { HardwarePanel } from './features/hardware/HardwarePanel';
import { navigate, type ProjectViewProps, type Route } from './routing';
import { RunningIndicator } from './features/shell/RunningIndicator';
import { ShortcutsOverlay } from './features/shell/ShortcutsOverlay';
import { PROJECTS_CHANGED } from './features/shell/app-events';

export interface TabDef { id: string; title: string; view: ComponentType<ProjectViewProps> }
export interface GlobalViewDef { id: string; title: string; view: ComponentType }

export const PROJECT_TABS: TabDef[] = [
  { id: 'overview', title: 'Overview', view: ProjectOverview },
  { id: 'pipeline', title: 'Pipeline', view: PipelineEditor },
  { id: 'graph', title: 'Graph', view: GraphView },
  { id: 'ranges', title: 'Ranges', view: RangesView },
  { id: 'runs', title: 'Runs', view: StudioRunsView },
  { id: 'sensitivity', title: 'Sensitivity', view: SensitivityView },
  // add project tabs here
];
export const GLOBAL_VIEWS: GlobalViewDef[] = [
  { id: 'samples', title: 'Sample projects', view: SamplesView },
  { id: 'hardware', title: 'Hardware', view: HardwarePanel },
  // add global views here
];

function parseRoute(hash: string): Route {
  const parts = hash.replace(/^#\/?/, '').split('/').filter(Boolean).map(decodeURIComponent);
  if (parts[0] === 'p' && parts[1]) return { kind: 'project', projectId: parts[1], tab: parts[2] ?? PROJECT_TABS[0]!.id };
  if (parts[0] === 'g' && parts[1]) return { kind: 'global', id: parts[1] };
  return { kind: 'home' };
}

function useRoute(): Route {
  const [route, setRoute] = useState(() => parseRoute(window.location.hash));
  useEffect(() => {
    const on = () => setRoute(parseRoute(window.location.hash));
    window.addEventListener('hashchange', on);
    return () => window.removeEventListener('hashchange', on);
  }, []);
  return route;
}

export function App({ studio }: { studio: StudioClient }) {
  return (
    <StudioContext.Provider value={studio}>
      <style>{SHELL_CSS}</style>
      <Shell />
    </StudioContext.Provider>
  );
}

/** The sidebar folds away (remembered); on a narrow window it starts folded so the views keep their width. */
function useSidebar(): [boolean, () => void] {
  const [collapsed, setCollapsed] = useState(() => {
    try { const v = window.localStorage.getItem('qstudio.sidebar'); if (v) return v === 'collapsed'; } catch { /* no storage */ }
    return window.innerWidth < 1000;
  });
  const toggle = () => setCollapsed((c) => {
    try { window.localStorage.setItem('qstudio.sidebar', c ? 'open' : 'collapsed'); } catch { /* no storage */ }
    return !c;
  });
  return [collapsed, toggle];
}

function Shell() {
  const route = useRoute();
  const projects = useQuery('projects.list', {});
  const [collapsed, toggleSidebar] = useSidebar();
  const reloadProjects = projects.reload;
  useEffect(() => {
    window.addEventListener(PROJECTS_CHANGED, reloadProjects);
    return () => window.removeEventListener(PROJECTS_CHANGED, reloadProjects);
  }, [reloadProjects]);
  const current = route.kind === 'project' ? projects.data?.find((p) => p.id === route.projectId) : undefined;
  const global = route.kind === 'global' ? GLOBAL_VIEWS.find((v) => v.id === route.id) : undefined;
  return (
    <div className={`qs-shell${collapsed ? ' collapsed' : ''}`}>
      <button className="qs-sidebar-toggle" data-testid="toggle-sidebar" aria-label={collapsed ? 'Show the sidebar' : 'Hide the sidebar'} aria-expanded={!collapsed} title={collapsed ? 'Show the sidebar' : 'Hide the sidebar'} onClick={toggleSidebar}>{collapsed ? '☰' : '«'}</button>
      <ShortcutsOverlay />
      <aside className="qs-sidebar" data-testid="sidebar" hidden={collapsed}>
        <div className="qs-brand">Quant Studio</div>
        <RunningIndicator projects={projects.data} />
        <NewProjectForm onCreated={(p) => { projects.reload(); navigate({ kind: 'project', projectId: p.id, tab: PROJECT_TABS[0]!.id }); }} />
        <nav>
          <div className="qs-section">Projects</div>
          {projects.error && <div role="alert" className="qs-error">{projects.error.message}</div>}
          <ul className="qs-list" data-testid="project-list">
            {projects.data?.map((p) => (
              <li key={p.id}>
                <a data-testid="project-item" className={p.id === current?.id ? 'active' : ''} href={`#/p/${p.id}/${PROJECT_TABS[0]!.id}`}>{p.name}</a>
              </li>
            ))}
          </ul>
          {projects.data?.length === 0 && <p className="qs-muted">No projects yet: name one above and press Create.</p>}
          {GLOBAL_VIEWS.length > 0 && <div className="qs-section">Studio</div>}
          <ul className="qs-list">
            {GLOBAL_VIEWS.map((v) => (
              <li key={v.id}><a className={global?.id === v.id ? 'active' : ''} href={`#/g/${v.id}`}>{v.title}</a></li>
            ))}
          </ul>
        </nav>
        <p className="qs-muted qs-hint">Press <kbd>?</kbd> for keyboard shortcuts.</p>
      </aside>
      <main className="qs-main">
        {route.kind === 'home' && <Home count={projects.data?.length ?? 0} />}
        {route.kind === 'global' && (global ? <global.view /> : <p>No such view: {route.id}</p>)}
        {route.kind === 'project' && !current && !projects.loading && <p role="alert">Project {route.projectId} does not exist (deleted?).</p>}
        {route.kind === 'project' && current && <ProjectPage project={current} tab={route.tab} onProjectChanged={projects.reload} />}
      </main>
    </div>
  );
}

function Home({ count }: { count: number }) {
  return (
    <div className="qs-empty">
      <h1>Quant Studio</h1>
      <p>Quantize ONNX models to INT8/INT4 offline: calibrate, choose a scheme, run GPTQ/AWQ/SmoothQuant or QAT, compare and export.</p>
      {count === 0 ? (
        // First launch: the quickest way in is a sample (model, real data and a recipe that runs).
        <div className="qs-first-run" data-testid="first-run">
          <strong>New here? Start from a sample project.</strong>
          <p>Each sample is a real model with real calibration data and a recipe that runs offline in about a minute: a Fashion-MNIST CNN, a byte-level GPT, a PP-OCR text recogniser.</p>
          <a className="qs-button-link" data-testid="home-samples" href="#/g/samples">Open the sample projects</a>
          <p className="qs-muted">Or name a new project in the sidebar and import your own .onnx model.</p>
        </div>
      ) : <p>Choose a project in the sidebar.</p>}
    </div>
  );
}

function NewProjectForm({ onCreated }: { onCreated: (p: Project) => void }) {
  const studio = useStudio();
  const [name, setName] = useState('');
  const [error, setError] = useState<string | null>(null);
  const submit = async (e: FormEvent) => {
    e.preventDefault();
    setError(null);
    try {
      const p = await studio.invoke('projects.create', { name: name.trim() });
      setName('');
      onCreated(p);
    } catch (err) {
      setError((err as Error).message);
    }
  };
  return (
    <form className="qs-new" onSubmit={submit}>
      <input data-testid="new-project-name" placeholder="New project name" value={name} onChange={(e) => setName(e.target.value)} aria-label="New project name" />
      <button data-testid="create-project" type="submit" disabled={!name.trim()}>Create</button>
      {error && <div role="alert" className="qs-error">{error}</div>}
    </form>
  );
}

function ProjectPage({ project, tab, onProjectChanged }: { project: Project; tab: string; onProjectChanged: () => void }) {
  const active = PROJECT_TABS.find((t) => t.id === tab) ?? PROJECT_TABS[0]!;
  const View = active.view;
  return (
    <div className="qs-project">
      <header className="qs-header">
        <h1 data-testid="project-title">{project.name}</h1>
        <nav className="qs-tabs" role="tablist">
          {PROJECT_TABS.map((t) => (
            <a key={t.id} role="tab" aria-selected={t.id === active.id} data-testid={`tab-${t.id}`} className={t.id === active.id ? 'active' : ''} href={`#/p/${project.id}/${t.id}`}>{t.title}</a>
          ))}
        </nav>
      </header>
      <section className="qs-view"><View project={project} onProjectChanged={onProjectChanged} /></section>
    </div>
  );
}

const SHELL_CSS = `
*{box-sizing:border-box} body{margin:0;font:14px/1.45 system-ui,-apple-system,"Segoe UI",Roboto,sans-serif;color:#1d2330;background:#f5f6f8}
.qs-shell{display:grid;grid-template-columns:260px 1fr;height:100vh;position:relative} .qs-shell.collapsed{grid-template-columns:minmax(0,1fr)} .qs-shell.collapsed .qs-header{padding-left:56px}
.qs-sidebar{background:#1f2633;color:#d8dee9;padding:16px;overflow:auto}
.qs-brand{font-weight:700;font-size:18px;margin-bottom:16px;color:#fff}
.qs-section{text-transform:uppercase;font-size:11px;letter-spacing:.08em;color:#8a94a6;margin:18px 0 6px}
.qs-list{list-style:none;padding:0;margin:0}
.qs-list a{display:block;padding:6px 8px;border-radius:6px;color:#d8dee9;text-decoration:none}
.qs-list a:hover{background:#2b3445} .qs-list a.active{background:#3b82f6;color:#fff}
.qs-new{display:flex;gap:6px;flex-wrap:wrap} .qs-new input{flex:1;min-width:0;padding:6px 8px;border-radius:6px;border:1px solid #3a4458;background:#141a24;color:#fff}
button{padding:6px 12px;border-radius:6px;border:1px solid #3b82f6;background:#3b82f6;color:#fff;cursor:pointer} button:disabled{opacity:.5;cursor:default}
.qs-main{overflow:auto;padding:0}
.qs-header{background:#fff;border-bottom:1px solid #e3e6eb;padding:16px 24px 0}
.qs-header h1{margin:0 0 10px;font-size:20px}
.qs-tabs{display:flex;gap:4px} .qs-tabs a{padding:8px 12px;color:#4b5563;text-decoration:none;border-bottom:2px solid transparent}
.qs-tabs a.active{color:#1d4ed8;border-bottom-color:#3b82f6}
.qs-view{padding:20px 24px}
.qs-empty{padding:48px;max-width:640px}
.qs-muted{color:#6b7280} .qs-sidebar .qs-muted{color:#8a94a6}
.qs-error{color:#b91c1c;margin-top:6px} .qs-sidebar .qs-error{color:#fca5a5}
.qs-table{border-collapse:collapse;margin-top:12px} .qs-table td{padding:6px 12px;border-bottom:1px solid #e3e6eb}
`;
