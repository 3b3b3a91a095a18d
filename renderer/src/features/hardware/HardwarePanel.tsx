// What this machine offers for quantized inference: CPU and its int8 instructions, GPUs, and the
// execution providers onnxruntime has here.
import { useQuery } from '../../api/use-studio';
import { ErrorNote, fmtBytes } from '../../components/ui';
import type { NativeHardware } from '../../../../contract/ipc';

const FLAG_LABELS: Record<string, string> = {
  avx2: 'AVX2', fma: 'FMA', avx512f: 'AVX-512F', avx512bw: 'AVX-512BW', avx512vl: 'AVX-512VL', avx512dq: 'AVX-512DQ',
  avx512vnni: 'AVX-512 VNNI', avxvnni: 'AVX-VNNI', avxVnni: 'AVX-VNNI', amxInt8: 'AMX-INT8', amxTile: 'AMX tiles', amxPermitted: 'AMX enabled by OS',
};
/** The int8 instructions first: they decide whether int8 is faster than FP32 here. */
const NATIVE_FLAG_ORDER = ['avx512vnni', 'amxInt8', 'amxTile', 'amxPermitted', 'avxVnni', 'avx512f', 'avx512bw', 'avx512vl', 'avx512dq', 'avx2', 'fma'];

export function HardwarePanel() {
  const hw = useQuery('hardware.info', {});
  const native = useQuery('hardware.native', {});
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
      <ErrorNote error={native.error} />
      {native.data && <NativeCard n={native.data} />}
    </div>
  );
}

/** The native kernel addon's own detection (cpuid, CUDA runtime), and whether it loaded at all. */
function NativeCard({ n }: { n: NativeHardware }) {
  const flags = [...NATIVE_FLAG_ORDER.filter((k) => k in n.cpu.flags), ...Object.keys(n.cpu.flags).filter((k) => !NATIVE_FLAG_ORDER.includes(k))];
  const g = n.gpu;
  return (
    <div className="qs-card" data-testid="native-hardware" style={{ marginTop: 14 }}>
      <h2>Native kernel addon</h2>
      <dl className="qs-kv">
        <dt>Addon</dt>
        <dd data-testid="native-addon">{n.addon.loaded ? <><span className="qs-badge succeeded">loaded</span> <span className="qs-mono qs-muted">{n.addon.path}</span></> : <><span className="qs-badge failed">not loaded</span> <span className="qs-muted">{n.addon.error ?? 'no reason given'} — TypeScript reference kernels are used.</span></>}</dd>
        <dt>CPU (cpuid)</dt><dd>{n.cpu.brand || 'unknown'}{n.cpu.vendor ? ` · ${n.cpu.vendor}` : ''} · {n.cpu.threads} threads</dd>
        <dt>Kernels</dt><dd>quantizers: <strong>{n.cpuKernels}</strong> · int8 GEMM: <strong>{n.gemmKernel}</strong></dd>
        {n.cpu.amxNote && <><dt>AMX</dt><dd className="qs-muted">{n.cpu.amxNote}</dd></>}
        <dt>GPU (CUDA)</dt>
        <dd data-testid="native-gpu">{g.available
          ? <>{g.name} (sm {g.computeCapability}, {g.multiprocessors} SMs) — {fmtBytes(g.totalMemory)}{g.freeMemory ? `, ${fmtBytes(g.freeMemory)} free` : ''}{g.deviceCount > 1 ? ` · ${g.deviceCount} devices` : ''}</>
          : <span className="qs-muted">None usable{g.compiled ? ` (CUDA kernels built for ${g.archs || '?'})` : ' (addon built without CUDA)'}: {g.reason || 'no CUDA device'}</span>}</dd>
      </dl>
      <div className="qs-row" style={{ marginTop: 10 }} data-testid="native-flags">
        {flags.map((k) => <span key={k} className={`qs-badge ${n.cpu.flags[k] ? 'succeeded' : ''}`} data-flag={k} data-present={n.cpu.flags[k] ? 'true' : 'false'} title={n.cpu.flags[k] ? 'detected by the addon' : 'absent'}>{n.cpu.flags[k] ? '✓' : '✗'} {FLAG_LABELS[k] ?? k}</span>)}
        {flags.length === 0 && <span className="qs-muted">No flags: the addon did not load, so cpuid was not read.</span>}
      </div>
    </div>
  );
}
