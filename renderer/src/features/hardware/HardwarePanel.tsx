// What this machine offers for quantized inference: CPU and its int8 instructions, GPUs, and the
// execution providers onnxruntime has here.
import { useQuery } from '../../api/use-studio';
import { ErrorNote, fmtBytes } from '../../components/ui';

const FLAG_LABELS: Record<string, string> = { avx2: 'AVX2', avx512f: 'AVX-512', avx512vnni: 'AVX-512 VNNI', avxvnni: 'AVX-VNNI', amxInt8: 'AMX-INT8', amxTile: 'AMX tiles', amxPermitted: 'AMX enabled by OS' };

export function HardwarePanel() {
  const hw = useQuery('hardware.info', {});
  const h = hw.data;
  return (
    <div className="qs-view" data-testid="hardware">
      <h1 style={{ fontSize: 20, margin: '0 0 12px' }}>Hardware</h1>
      <ErrorNote error={hw.error} />
      {hw.loading && <p className="qs-muted">Detecting…</p>}
      {h && (
        <div className="qs-grid2">
          <div className="qs-card">
            <h2>CPU</h2>
            <dl className="qs-kv">
              <dt>Model</dt><dd>{h.cpuModel}</dd>
              <dt>Cores</dt><dd>{h.cores} ({h.arch}, {h.platform})</dd>
              <dt>Memory</dt><dd>{fmtBytes(h.memoryBytes)}</dd>
            </dl>
            <div className="qs-row" style={{ marginTop: 10 }}>
              {Object.entries(h.flags).map(([k, v]) => <span key={k} className={`qs-badge ${v ? 'succeeded' : ''}`} title={v ? 'present' : 'absent'}>{v ? '✓' : '✗'} {FLAG_LABELS[k] ?? k}</span>)}
              {Object.keys(h.flags).length === 0 && <span className="qs-muted">CPU flags unknown on this platform.</span>}
            </div>
            <p className="qs-muted" style={{ fontSize: 12.5 }}>{h.flags.avx512vnni || h.flags.avxvnni || h.flags.amxInt8 ? 'This CPU has int8 dot-product instructions: int8 models should run faster than FP32.' : 'No VNNI/AMX: int8 mainly saves memory here; speed-ups are modest.'}</p>
          </div>
          <div className="qs-card">
            <h2>GPU</h2>
            {h.gpus.length === 0 && <p className="qs-muted">No GPU detected: calibration, evaluation and QAT run on the CPU.</p>}
            {h.gpus.map((g) => <p key={g.name}>{g.name}{g.memoryBytes ? ` — ${fmtBytes(g.memoryBytes)}` : ''} <span className="qs-muted">({g.source})</span></p>)}
            <h2 style={{ marginTop: 14 }}>onnxruntime execution providers</h2>
            <table className="qs-table2"><tbody>
              {h.providers.map((p) => <tr key={p.name}><td>{p.name}</td><td><span className={`qs-badge ${p.available ? 'succeeded' : ''}`}>{p.available ? 'available' : 'not installed'}</span></td><td className="qs-muted">{p.bundled ? 'bundled' : 'downloaded at install'}</td></tr>)}
            </tbody></table>
            {h.notes.map((n) => <p key={n} className="qs-muted" style={{ fontSize: 12.5 }}>{n}</p>)}
          </div>
        </div>
      )}
    </div>
  );
}
