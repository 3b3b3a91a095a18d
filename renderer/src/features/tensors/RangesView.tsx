// Range and histogram view: for any weight or activation, the value histogram, the range each
// calibration method picks, and the symmetric vs asymmetric integer grid drawn over it, with the
// clipped mass, wasted codes and error of every choice side by side (computed by the engine).
import { useMemo, useState } from 'react';
import type { ProjectViewProps } from '../../routing';
import { useQuery } from '../../api/use-studio';
import { SUPPORTED_OP_TYPES } from '../../../../contract/recipe';
import { EmptyState, ErrorNote, fmtNum } from '../../components/ui';
import { Plot } from '../../components/Plot';
import { calibrationDatasets } from '../projects/project-data';
import { useTensorSelection } from './selection';
import { histogramTraces, METHOD_COLOURS, SCHEME_COLOURS } from './range-plot';
import { compilePipeline } from '../pipeline/compile';
import { asPipelineDoc } from '../pipeline/pipeline-doc';
import { rememberedPipeline } from '../pipeline/pipeline-memory';
import { INTEGER_DTYPE, pipelineTreatment, treatmentText } from './pipeline-treatment';

export function RangesView({ project }: ProjectViewProps) {
  const models = useQuery('models.list', { projectId: project.id });
  const datasets = useQuery('datasets.list', { projectId: project.id });
  const selection = useTensorSelection();
  const model = models.data?.find((m) => m.id === selection.modelId) ?? models.data?.[0];
  const graph = useQuery('graph.view', model ? { modelId: model.id } : null);
  const [tensorChoice, setTensor] = useState<string | null>(null);
  const [datasetId, setDatasetId] = useState<string>('');
  const [bitsChoice, setBits] = useState<8 | 4 | null>(null);
  const [method, setMethod] = useState('minmax');
  const [log, setLog] = useState(false);
  const [showLayers, setShowLayers] = useState(false);

  const pipelines = useQuery('pipelines.list', { projectId: project.id });
  const cal = calibrationDatasets(datasets.data ?? []);
  const ds = cal.find((d) => d.id === datasetId) ?? cal[0];
  const { weights, activations } = useMemo(() => {
    const g = graph.data;
    if (!g) return { weights: [] as string[], activations: [] as string[] };
    const quantOps = new Set<string>(SUPPORTED_OP_TYPES);
    const weights = g.nodes.filter((n) => quantOps.has(n.opType)).flatMap((n) => n.weights.filter((w) => (g.tensors.find((t) => t.name === w)?.shape.length ?? 0) >= 2));
    // Only float activations: int64 shape/index tensors (Gather's indices, Reshape shapes) are never quantized.
    const isFloat = (name: string) => !INTEGER_DTYPE.test(g.tensors.find((t) => t.name === name)?.dtype ?? '');
    const activations = g.nodes.filter((n) => quantOps.has(n.opType)).flatMap((n) => n.inputs.filter((i) => i && !n.weights.includes(i) && isFloat(i)));
    return { weights: [...new Set(weights)], activations: [...new Set(activations)] };
  }, [graph.data]);
  const fromGraph = selection.modelId === model?.id ? selection.tensor : null;
  const tensor = tensorChoice ?? fromGraph ?? weights[0] ?? null;
  const isActivation = !!tensor && !weights.includes(tensor) && !graph.data?.tensors.some((t) => t.name === tensor && t.kind === 'weight');
  // The pipeline open in the editor (else the latest saved): what it does to this tensor, exactly.
  const remembered = rememberedPipeline(project.id);
  const latest = pipelines.data?.find((p) => p.id === remembered) ?? pipelines.data?.slice().sort((a, b) => b.updatedAt.localeCompare(a.updatedAt))[0];
  const compiled = latest ? compilePipeline(asPipelineDoc(latest.graph) ?? { version: 1, name: '', nodes: [], edges: [] }) : null;
  const treatment = compiled?.ok && graph.data && tensor ? pipelineTreatment(tensor, graph.data, compiled.recipe) : null;
  // Bits follow the pipeline (int3 drawn on the 4-bit grid) until the user picks others.
  const bits: 8 | 4 = bitsChoice ?? (treatment && (treatment.kind === 'weight' || treatment.kind === 'activation') && treatment.bits <= 4 ? 4 : 8);
  const stats = useQuery('tensors.stats', model && tensor && (!isActivation || ds) ? { modelId: model.id, tensor, bits, ...(isActivation && ds ? { datasetId: ds.id, samples: 64 } : {}) } : null);
  const ranges = useQuery('tensors.activationRanges', showLayers && model && ds ? { modelId: model.id, datasetId: ds.id, samples: 32 } : null);

  if (models.data?.length === 0) return <EmptyState title="No model in this project">Import an ONNX model on the Overview tab; its weights and activations can then be inspected here.</EmptyState>;
  const s = stats.data;
  const plot = s ? histogramTraces(s, method, log) : null;
  const best = s ? s.choices.reduce((a, b) => (b.sqnrDb > a.sqnrDb ? b : a), s.choices[0]!) : null;
  // The table's rows are per-tensor ranges: a row is marked only when that is what the pipeline does
  // (a per-tensor weight: MinMax; an activation: its calibration method), at the pipeline's bits.
  const mine = s && treatment && bits === (treatment.kind === 'weight' || treatment.kind === 'activation' ? (treatment.bits <= 4 ? 4 : 8) : 0)
    ? treatment.kind === 'weight' && treatment.granularity === 'tensor' ? { method: 'minmax', scheme: treatment.scheme }
      : treatment.kind === 'activation' ? { method: treatment.method, scheme: treatment.scheme } : null
    : null;

  return (
    <div>
      <div className="qs-toolbar">
        <div className="qs-field qs-grow" style={{ maxWidth: 420 }}>
          <span className="qs-label">Tensor</span>
          <select className="qs-input" data-testid="tensor-select" value={tensor ?? ''} onChange={(e) => setTensor(e.target.value)}>
            <optgroup label="Weights">{weights.map((w) => <option key={w} value={w}>{w}</option>)}</optgroup>
            <optgroup label="Activations (inputs of quantizable ops)">{activations.map((a) => <option key={a} value={a}>{a}</option>)}</optgroup>
            {tensor && !weights.includes(tensor) && !activations.includes(tensor) && <option value={tensor}>{tensor}</option>}
          </select>
        </div>
        <div className="qs-field"><span className="qs-label">Calibration data (activations)</span>
          <select className="qs-input" value={ds?.id ?? ''} onChange={(e) => setDatasetId(e.target.value)} disabled={!cal.length}>
            {cal.length ? cal.map((d) => <option key={d.id} value={d.id}>{d.name}</option>) : <option>none attached</option>}
          </select>
        </div>
        <div className="qs-field" style={{ minWidth: 80 }}><span className="qs-label">Bits</span>
          <select className="qs-input" data-testid="bits-select" value={bits} onChange={(e) => setBits(Number(e.target.value) as 8 | 4)}><option value={8}>8</option><option value={4}>4</option></select>
        </div>
        <div className="qs-field"><span className="qs-label">Grid drawn for</span>
          <select className="qs-input" data-testid="method-select" value={method} onChange={(e) => setMethod(e.target.value)}>{['minmax', 'percentile', 'entropy', 'mse'].map((m) => <option key={m}>{m}</option>)}</select>
        </div>
        <label className="qs-row" style={{ gap: 4, fontSize: 13, alignSelf: 'flex-end' }}><input type="checkbox" data-testid="log-toggle" checked={log} onChange={(e) => setLog(e.target.checked)} />log scale</label>
      </div>
      <ErrorNote error={graph.error} />
      {isActivation && !ds && <EmptyState title="Activations need data">Attach a .npy calibration array on the Overview tab: the engine runs the model on it to observe this activation.</EmptyState>}
      <ErrorNote error={stats.error} testId="stats-error" />
      {stats.loading && tensor && (!isActivation || ds) && <p className="qs-muted">Measuring {tensor}…</p>}
      {s && plot && (
        <>
          <div className="qs-card" data-testid="histogram-card">
            <Plot testId="histogram-plot" data={plot.data} layout={plot.layout} style={{ height: 380 }} />
            <p className="qs-muted" style={{ fontSize: 12.5, margin: '4px 0 0' }}>
              {s.source} · min {fmtNum(s.min)} · max {fmtNum(s.max)} · mean {fmtNum(s.mean)} · std {fmtNum(s.std)} · {s.exact ? 'exact errors on every value' : 'errors estimated on the calibration histogram (16384 bins)'}
            </p>
          </div>
          <div className="qs-card">
            <h3>Each choice side by side ({bits}-bit)</h3>
            {treatment && latest && (
              <p style={{ fontSize: 13, margin: '0 0 8px' }} data-testid="pipeline-treatment" data-kind={treatment.kind}>
                <span className="qs-badge running">pipeline</span> “{latest.name}”: {treatmentText(treatment)}
                {treatment.kind === 'weight' && treatment.granularity !== 'tensor' ? ' — the per-tensor rows below are not what it does; the per-channel plot shows the ranges it uses.' : ''}
              </p>
            )}
            <table className="qs-table2" data-testid="choices-table">
              <thead><tr><th>Range method</th><th>Scheme</th><th className="num">Range</th><th className="num">Scale</th><th className="num">Zero-point</th><th className="num">Clipped</th><th className="num">Wasted codes</th><th className="num">MSE</th><th className="num">SQNR dB</th></tr></thead>
              <tbody>
                {s.choices.map((c) => (
                  <tr key={c.method + c.scheme} className={c === best ? 'selected' : ''}>
                    <td><span className="qs-swatch" style={{ background: METHOD_COLOURS[c.method] }} />{c.method}{mine && mine.method === c.method && mine.scheme === c.scheme && <span className="qs-badge running" style={{ marginLeft: 6 }} data-testid="pipeline-choice" title={`What pipeline “${latest!.name}” uses`}>pipeline</span>}</td>
                    <td style={{ color: SCHEME_COLOURS[c.scheme] }}>{c.scheme} ({c.dtype})</td>
                    <td className="num">[{fmtNum(c.rangeMin)}, {fmtNum(c.rangeMax)}]</td>
                    <td className="num">{fmtNum(c.scale)}</td><td className="num">{c.zeroPoint}</td>
                    <td className="num">{(c.clippedFraction * 100).toFixed(c.clippedFraction > 0 && c.clippedFraction < 0.001 ? 4 : 2)} %</td>
                    <td className="num">{c.wastedCodes} / {c.qmax - c.qmin + 1}</td>
                    <td className="num">{fmtNum(c.mse)}</td><td className="num"><strong>{fmtNum(c.sqnrDb, 2)}</strong></td>
                  </tr>
                ))}
              </tbody>
            </table>
            <p className="qs-muted" style={{ fontSize: 12.5 }}>Highlighted: best SQNR{mine ? `; “pipeline” marks what “${latest!.name}” uses` : ''}. Clipped = values outside the grid (saturated); wasted codes = integer levels no value maps to.</p>
          </div>
          <div className="qs-grid2">
            <div className="qs-card">
              <Plot testId="sqnr-bars" data={(['symmetric', 'asymmetric'] as const).map((sc) => ({ type: 'bar', name: sc, marker: { color: SCHEME_COLOURS[sc] }, x: ['minmax', 'percentile', 'entropy', 'mse'], y: ['minmax', 'percentile', 'entropy', 'mse'].map((m) => s.choices.find((c) => c.method === m && c.scheme === sc)?.sqnrDb ?? null) }))}
                layout={{ title: { text: 'SQNR by range method' }, barmode: 'group', yaxis: { title: { text: 'dB' } } }} style={{ height: 280 }} />
            </div>
            <div className="qs-card">
              {s.perChannel ? (
                <Plot testId="per-channel" data={[
                  { type: 'bar', name: 'range', x: s.perChannel.min.map((_, i) => i), base: s.perChannel.min, y: s.perChannel.max.map((mx, i) => mx - s.perChannel!.min[i]!), marker: { color: '#60a5fa' }, hovertemplate: 'ch %{x}: [%{base:.3g}, %{y:.3g}+base]<extra></extra>' },
                ]} layout={{ title: { text: `Per-channel weight range (axis ${s.perChannel.axis}, ${s.perChannel.min.length} channels)` }, xaxis: { title: { text: 'output channel' } }, yaxis: { title: { text: 'value' } }, showlegend: false, bargap: 0.15 }} style={{ height: 280 }} />
              ) : <p className="qs-muted">Per-channel ranges are shown for weights; this is an activation (one range per tensor).</p>}
            </div>
          </div>
        </>
      )}
      <div className="qs-card">
        <div className="qs-row" style={{ justifyContent: 'space-between' }}>
          <h3 style={{ margin: 0 }}>Activation ranges across layers</h3>
          <button className="qs-btn-secondary qs-btn-small" data-testid="load-layer-ranges" disabled={!ds || showLayers} onClick={() => setShowLayers(true)}>{ds ? 'Observe all layers' : 'Attach calibration data first'}</button>
        </div>
        <ErrorNote error={ranges.error} />
        {showLayers && ranges.loading && <p className="qs-muted">Running the model on {ds?.name}…</p>}
        {ranges.data && (
          <Plot testId="layer-ranges" data={[
            { type: 'bar', name: 'min..max', x: ranges.data.map((r) => r.node || r.tensor), base: ranges.data.map((r) => r.min), y: ranges.data.map((r) => r.max - r.min), marker: { color: '#cbd5e1' } },
            { type: 'bar', name: '99.9 % range', x: ranges.data.map((r) => r.node || r.tensor), base: ranges.data.map((r) => r.p999Min), y: ranges.data.map((r) => r.p999Max - r.p999Min), marker: { color: '#3b82f6' } },
          ]} layout={{ barmode: 'overlay', title: { text: 'Input range of every quantizable op' }, xaxis: { tickangle: -35, automargin: true, showticklabels: ranges.data.length <= 40 }, yaxis: { title: { text: 'value' } } }} style={{ height: 300 }} />
        )}
      </div>
    </div>
  );
}
