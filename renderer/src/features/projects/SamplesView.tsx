// Ready-made projects: the engine copies a sample (model + real data) into a new project, and the
// sample's recipe becomes the project's first pipeline.
import { useState } from 'react';
import { navigate } from '../../routing';
import { announceProjectsChanged } from '../shell/app-events';
import { useQuery, useStudio } from '../../api/use-studio';
import { EmptyState, ErrorNote, errMessage, fmtBytes } from '../../components/ui';
import { recipeToDoc } from '../pipeline/recipe-to-doc';
import type { RecipeJson } from '../pipeline/compile';

export function SamplesView() {
  const studio = useStudio();
  const samples = useQuery('samples.list', {});
  const [busy, setBusy] = useState<string | null>(null);
  const [errors, setErrors] = useState<Record<string, string>>({});
  const open = async (id: string) => {
    setBusy(id);
    setErrors((e) => ({ ...e, [id]: '' }));
    try {
      // A sample opened again becomes "Name (2)", not a second project with the same name.
      const title = samples.data?.find((x) => x.id === id)?.title ?? id;
      const taken = new Set((await studio.invoke('projects.list', {})).map((p) => p.name));
      let name = title;
      for (let k = 2; taken.has(name); k++) name = `${title} (${k})`;
      const { project, recipe } = await studio.invoke('samples.open', { sampleId: id, name });
      const doc = recipeToDoc('Sample recipe', recipe as unknown as Partial<RecipeJson>);
      await studio.invoke('pipelines.save', { projectId: project.id, name: doc.name, graph: doc as never });
      // The sidebar's project list belongs to the shell: tell it (no full-page reload).
      announceProjectsChanged();
      navigate({ kind: 'project', projectId: project.id, tab: 'overview' });
    } catch (e) {
      setErrors((x) => ({ ...x, [id]: errMessage(e) }));
    } finally {
      setBusy(null);
    }
  };
  return (
    <div className="qs-view">
      <h1 style={{ fontSize: 20, margin: '0 0 4px' }}>Sample projects</h1>
      <p className="qs-muted" style={{ marginTop: 0 }}>Each opens as a new project with its model, real calibration data and a recipe that runs offline.</p>
      <ErrorNote error={samples.error} />
      {samples.data?.length === 0 && <EmptyState title="No samples installed">projects-sample/ is missing from this installation.</EmptyState>}
      <div className="qs-tiles" data-testid="sample-list">
        {samples.data?.map((s) => (
          <div className="qs-tile" key={s.id} data-testid={`sample-${s.id}`}>
            <h3>{s.title}</h3>
            <p>{s.description}</p>
            <div className="qs-row" style={{ justifyContent: 'space-between' }}>
              <span className="qs-muted">{fmtBytes(s.sizeBytes)}</span>
              <button data-testid={`open-sample-${s.id}`} disabled={busy !== null} onClick={() => open(s.id)}>{busy === s.id ? 'Copying…' : 'Open as project'}</button>
            </div>
            <ErrorNote error={errors[s.id] || null} />
          </div>
        ))}
      </div>
    </div>
  );
}
