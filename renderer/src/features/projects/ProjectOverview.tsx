// A project's home: rename/delete, its models (import), its data (attach .npy, image folders, text)
// and every run with its status.
import { useEffect, useState } from 'react';
import type { DatasetFacts, DatasetInfo, FileRef, Json, ModelInfo } from '../../../../contract/ipc';
import type { ProjectViewProps } from '../../routing';
import { navigate } from '../../routing';
import { useQuery, useStudio } from '../../api/use-studio';
import { pickFile, uploadFile } from '../../api/files';
import { ConfirmButton, EmptyState, ErrorNote, errMessage, fmtBytes } from '../../components/ui';
import { modelInputNames } from './project-data';

export function ProjectOverview({ project, onProjectChanged }: ProjectViewProps) {
  const studio = useStudio();
  const models = useQuery('models.list', { projectId: project.id });
  const datasets = useQuery('datasets.list', { projectId: project.id });
  const runs = useQuery('runs.list', { projectId: project.id });
  const facts = useQuery('datasets.inspect', { projectId: project.id });
  // Re-checked whenever the model list changes (a model imported after the data).
  const reloadFacts = facts.reload;
  useEffect(() => { reloadFacts(); }, [models.data, reloadFacts]);
  const [name, setName] = useState(project.name);
  const [errors, setErrors] = useState<Record<string, string | null>>({});
  const setErr = (k: string, v: string | null) => setErrors((e) => ({ ...e, [k]: v }));

  const rename = async () => {
    setErr('rename', null);
    try { await studio.invoke('projects.rename', { id: project.id, name: name.trim() }); onProjectChanged(); } catch (e) { setErr('rename', errMessage(e)); }
  };
  const remove = async () => {
    setErr('rename', null);
    try { await studio.invoke('projects.delete', { id: project.id }); navigate({ kind: 'home' }); onProjectChanged(); } catch (e) { setErr('rename', errMessage(e)); }
  };
  const importModel = async () => {
    setErr('model', null);
    try {
      const file = await pickFile(studio, { title: 'Import an ONNX model', filters: [{ name: 'ONNX model', extensions: ['onnx'] }] });
      if (file) { await studio.invoke('models.import', { projectId: project.id, file }); models.reload(); }
    } catch (e) { setErr('model', errMessage(e)); }
  };
  const deleteModel = async (id: string) => {
    try { await studio.invoke('models.delete', { id }); models.reload(); } catch (e) { setErr('model', errMessage(e)); }
  };

  return (
    <div>
      <div className="qs-card">
        <div className="qs-row">
          <div className="qs-field qs-grow">
            <label className="qs-label" htmlFor="proj-name">Project name</label>
            <input id="proj-name" data-testid="rename-input" className="qs-input" value={name} onChange={(e) => setName(e.target.value)} />
          </div>
          <button data-testid="rename-project" disabled={!name.trim() || name.trim() === project.name} onClick={rename}>Rename</button>
          <ConfirmButton testId="delete-project" label="Delete project" confirmLabel="Click again to delete everything" onConfirm={remove} />
        </div>
        <ErrorNote error={errors.rename} />
        <p className="qs-muted qs-mono" style={{ margin: '8px 0 0' }}>{project.dir}</p>
      </div>

      <div className="qs-grid2 qs-grid-data">
        <div className="qs-card">
          <div className="qs-row" style={{ justifyContent: 'space-between' }}>
            <h2>Models</h2>
            <button onClick={importModel} data-testid="import-model">Import ONNX model…</button>
          </div>
          <ErrorNote error={errors.model ?? models.error} />
          {models.data?.length === 0 && <EmptyState title="No model yet">Import an .onnx file, or open a ready-made sample from the Samples page.</EmptyState>}
          {!!models.data?.length && (
            <table className="qs-table2" data-testid="model-list">
              <thead><tr><th>Name</th><th>Opset</th><th className="num">Nodes</th><th className="num">Size</th><th>Inputs</th><th /></tr></thead>
              <tbody>
                {models.data.map((m) => (
                  <tr key={m.id}>
                    <td>{m.name}</td><td>{m.opset}</td><td className="num">{m.nodeCount}</td><td className="num">{fmtBytes(m.sizeBytes)}</td>
                    <td className="qs-mono">{m.inputs.map((i) => `${i.name} ${i.elemType}[${i.shape.map((d) => d ?? '?').join(',')}]`).join('; ')}</td>
                    <td><ConfirmButton className="qs-btn-secondary qs-btn-small" label="Remove" confirmLabel="Confirm" onConfirm={() => deleteModel(m.id)} /></td>
                  </tr>
                ))}
              </tbody>
            </table>
          )}
        </div>
        <DataCard projectId={project.id} datasets={datasets.data} error={datasets.error} reload={() => { datasets.reload(); facts.reload(); }} inputs={modelInputNames(models.data?.[0])} facts={facts.data} model={models.data?.[0]} />
      </div>

      <div className="qs-card">
        <div className="qs-row" style={{ justifyContent: 'space-between' }}>
          <h2>Runs</h2>
          <a href={`#/p/${project.id}/runs`}>Open runs →</a>
        </div>
        <ErrorNote error={runs.error} />
        {runs.data?.length === 0 && <EmptyState title="No runs yet">Build a pipeline in the Pipeline tab (start from a template) and press Run.</EmptyState>}
        {!!runs.data?.length && (
          <table className="qs-table2" data-testid="overview-runs">
            <thead><tr><th>Started</th><th>Kind</th><th>Status</th><th>Stage</th><th>Error</th></tr></thead>
            <tbody>
              {runs.data.map((r) => (
                <tr key={r.id}>
                  <td>{new Date(r.createdAt).toLocaleString()}</td><td>{r.kind}</td>
                  <td><span className={`qs-badge ${r.status}`}>{r.status}</span></td><td>{r.stage}</td><td>{r.error?.message}</td>
                </tr>
              ))}
            </tbody>
          </table>
        )}
      </div>
    </div>
  );
}

type DataKind = 'npy' | 'images' | 'text';

const quoteName = (n: string) => `‘${n}’`;

/** One line on what a dataset is for and where it came from. */
function describeDataset(d: DatasetInfo): string {
  const o = d.options as Record<string, Json>;
  if (o.role === 'labels') return 'labels (evaluation, QAT)';
  const parts = [typeof o.input === 'string' ? `feeds '${o.input}'` : 'model input'];
  if (o.source === 'images' && Array.isArray(o.resize)) parts.push(`${o.images} images → ${o.channels} ${o.resize.join('×')}, (x/255 − ${o.mean}) / ${o.std}`);
  if (o.source === 'text') parts.push(`${o.windows} windows of ${o.window} bytes`);
  if (d.kind === 'text') parts.push(`text, ${o.window ?? 256}-byte windows`);
  return parts.join(' · ');
}

/** "300 × [1, 28, 28] float32" from the facts the engine read from the file's header. */
function factsText(f: DatasetFacts | undefined): string {
  if (!f?.shape) return '—';
  return f.shape.length === 1 ? `${f.samples} × ${f.dtype}` : `${f.samples} × [${f.shape.slice(1).join(', ')}] ${f.dtype}`;
}

function DataCard({ projectId, datasets, error, reload, inputs, facts, model }: { projectId: string; datasets?: DatasetInfo[]; error?: { message: string }; reload: () => void; inputs: string[]; facts?: DatasetFacts[]; model?: ModelInfo }) {
  const studio = useStudio();
  const [kind, setKind] = useState<DataKind>('npy');
  const [role, setRole] = useState<'calibration' | 'labels'>('calibration');
  const [input, setInput] = useState('');
  const [size, setSize] = useState({ w: 28, h: 28 });
  const [norm, setNorm] = useState({ mean: 0.5, std: 0.5, channels: 'rgb' as 'rgb' | 'gray' });
  const [window, setWindow] = useState(256);
  // Image size and channels default to what the model's input takes ([N, C, H, W] with fixed dims).
  useEffect(() => {
    const shape = model?.inputs[0]?.shape;
    if (!shape || shape.length !== 4) return;
    const [, c, h, w] = shape;
    if (typeof h === 'number' && h > 0 && typeof w === 'number' && w > 0) setSize({ w, h });
    if (c === 1 || c === 3) setNorm((n) => ({ ...n, channels: c === 1 ? 'gray' : 'rgb' }));
  }, [model]);
  const [err, setErr] = useState<string | null>(null);

  const [busy, setBusy] = useState(false);
  const chooseImages = async (): Promise<FileRef[] | null> => {
    if (studio.host === 'electron') {
      const { path } = await studio.invoke('dialog.openFile', { title: 'Choose a folder of JPEG, PNG or WebP images', directory: true });
      return path ? [{ kind: 'path', path }] : null;
    }
    const el = document.createElement('input');
    el.type = 'file';
    el.multiple = true;
    el.accept = '.png,.jpg,.jpeg,.webp,image/png,image/jpeg,image/webp';
    const files = await new Promise<File[] | null>((resolve) => {
      el.addEventListener('change', () => resolve(el.files ? [...el.files] : null), { once: true });
      el.addEventListener('cancel', () => resolve(null), { once: true });
      el.click();
    });
    if (!files?.length) return null;
    const refs: FileRef[] = [];
    for (const f of files) refs.push(await uploadFile(f));
    return refs;
  };

  const attach = async () => {
    setErr(null);
    setBusy(true);
    try {
      const feeds = input || inputs[0];
      if (kind === 'images') {
        const files = await chooseImages();
        if (!files) return;
        const name = files.length === 1 && files[0]!.kind === 'path' ? `Images in ${files[0]!.path.split(/[\\/]/).pop()}` : `${files.length} images`;
        await studio.invoke('datasets.prepare', { projectId, name, kind: 'images', files, width: size.w, height: size.h, channels: norm.channels, mean: norm.mean, std: norm.std, ...(feeds ? { input: feeds } : {}) });
      } else if (kind === 'text') {
        const file = await pickFile(studio, { title: 'Attach a text file', filters: [{ name: 'Text', extensions: ['txt'] }] });
        if (!file) return;
        const name = `${file.kind === 'upload' ? file.name : file.path.split(/[\\/]/).pop()} (${window}-byte windows)`;
        await studio.invoke('datasets.prepare', { projectId, name, kind: 'text', files: [file], window, ...(feeds ? { input: feeds } : {}) });
      } else {
        const file = await pickFile(studio, { title: 'Attach a .npy array', filters: [{ name: 'NumPy array', extensions: ['npy'] }] });
        if (!file) return;
        const options: Record<string, Json> = { role, ...(role === 'calibration' && feeds ? { input: feeds } : {}) };
        const name = file.kind === 'upload' ? file.name : file.path.split(/[\\/]/).pop() ?? 'data';
        // Checked by the engine against the model before it is stored: a wrong file is refused here, not in a run.
        await studio.invoke('datasets.attach', { projectId, name, kind: 'npy', file, options });
      }
      reload();
    } catch (e) { setErr(errMessage(e)); } finally { setBusy(false); }
  };
  const remove = async (id: string) => {
    try { await studio.invoke('datasets.delete', { id }); reload(); } catch (e) { setErr(errMessage(e)); }
  };

  return (
    <div className="qs-card">
      <h2>Data</h2>
      <ErrorNote error={error} />
      {datasets?.length === 0 && <EmptyState title="No data attached">Attach calibration samples: a .npy array (axis 0 = samples), JPEG/PNG/WebP images (resized and normalised here), or a text file for byte-level LMs.</EmptyState>}
      {!!datasets?.length && (
        <table className="qs-table2" data-testid="dataset-list">
          <thead><tr><th>Name</th><th>Samples × shape, dtype</th><th>Use</th><th /></tr></thead>
          <tbody>
            {datasets.map((d) => {
              const f = facts?.find((x) => x.datasetId === d.id);
              return (
              <tr key={d.id} data-testid="dataset-row" data-fits={f ? String(!f.problem) : undefined}>
                <td>{d.name}</td>
                <td className="qs-mono" style={{ wordBreak: 'normal', whiteSpace: 'nowrap' }} data-testid="dataset-facts">{factsText(f)}</td>
                <td style={{ fontSize: 12.5 }}>{describeDataset(d)}
                  {f?.problem ? <ErrorNote error={f.problem} testId="dataset-problem" /> : f?.shape && model ? <div style={{ color: 'var(--qs-ok)', fontSize: 12 }}>fits {quoteName(model.name)}</div> : null}
                </td>
                <td><ConfirmButton className="qs-btn-secondary qs-btn-small" label="Remove" confirmLabel="Confirm" onConfirm={() => remove(d.id)} /></td>
              </tr>
              );
            })}
          </tbody>
        </table>
      )}
      <div className="qs-row" style={{ marginTop: 12, alignItems: 'flex-end' }}>
        <div className="qs-field"><span className="qs-label">Kind</span>
          <select className="qs-input" value={kind} onChange={(e) => setKind(e.target.value as DataKind)} aria-label="Data kind">
            <option value="npy">.npy array</option><option value="images">Images (JPEG, PNG, WebP)</option><option value="text">Text file (byte LM)</option>
          </select>
        </div>
        {kind === 'npy' && (
          <div className="qs-field"><span className="qs-label">Use as</span>
            <select className="qs-input" value={role} onChange={(e) => setRole(e.target.value as 'calibration' | 'labels')}>
              <option value="calibration">Model input</option><option value="labels">Labels (int64)</option>
            </select>
          </div>
        )}
        {(kind === 'images' || (kind === 'npy' && role === 'calibration')) && inputs.length > 0 && (
          <div className="qs-field"><span className="qs-label">Feeds input</span>
            <select className="qs-input" value={input || inputs[0]} onChange={(e) => setInput(e.target.value)}>{inputs.map((i) => <option key={i}>{i}</option>)}</select>
          </div>
        )}
        {kind === 'images' && (
          <>
            <div className="qs-field" style={{ minWidth: 70 }}><span className="qs-label">Width</span><input className="qs-input" type="number" value={size.w} min={1} onChange={(e) => setSize({ ...size, w: +e.target.value })} /></div>
            <div className="qs-field" style={{ minWidth: 70 }}><span className="qs-label">Height</span><input className="qs-input" type="number" value={size.h} min={1} onChange={(e) => setSize({ ...size, h: +e.target.value })} /></div>
            <div className="qs-field" style={{ minWidth: 70 }}><span className="qs-label">Mean</span><input className="qs-input" type="number" step={0.01} value={norm.mean} onChange={(e) => setNorm({ ...norm, mean: +e.target.value })} /></div>
            <div className="qs-field" style={{ minWidth: 70 }}><span className="qs-label">Std</span><input className="qs-input" type="number" step={0.01} value={norm.std} onChange={(e) => setNorm({ ...norm, std: +e.target.value })} /></div>
            <div className="qs-field" style={{ minWidth: 80 }}><span className="qs-label">Channels</span>
              <select className="qs-input" value={norm.channels} onChange={(e) => setNorm({ ...norm, channels: e.target.value as 'rgb' | 'gray' })}><option value="rgb">RGB</option><option value="gray">Gray</option></select>
            </div>
          </>
        )}
        {kind === 'text' && <div className="qs-field" style={{ minWidth: 90 }}><span className="qs-label">Window (bytes)</span><input className="qs-input" type="number" min={8} value={window} onChange={(e) => setWindow(+e.target.value)} /></div>}
        <button onClick={attach} data-testid="attach-data" disabled={busy}>{busy ? 'Preparing…' : 'Attach…'}</button>
      </div>
      <ErrorNote error={err} testId="attach-error" />
    </div>
  );
}
