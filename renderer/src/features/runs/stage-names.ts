// Run stages and timing keys as a person reads them: "gptqCaptureMs" -> "GPTQ capture",
// "calibrate" -> "Calibrate", "qdqExportMs" -> "QDQ export". Method names keep their capitals.
const ACRONYMS: Record<string, string> = {
  gptq: 'GPTQ', awq: 'AWQ', qat: 'QAT', qdq: 'QDQ', fp32: 'FP32', fp16: 'FP16', int8: 'INT8', int4: 'INT4', ort: 'ORT',
  onnx: 'ONNX', rtn: 'RTN', mse: 'MSE', sqnr: 'SQNR', cuda: 'CUDA', cpu: 'CPU', gpu: 'GPU', ste: 'STE', lsq: 'LSQ', npy: '.npy',
  smoothquant: 'SmoothQuant', matmulnbits: 'MatMulNBits', minmax: 'MinMax',
};

export function stageLabel(key: string): string {
  // Split camelCase at a capital (after a letter or a digit); "fp32" and "top1" stay whole.
  const joined = key
    .replace(/Ms$/, '')
    .replace(/[_.-]+/g, ' ')
    .replace(/([a-z0-9])([A-Z])/g, '$1 $2')
    .trim()
    .split(/\s+/)
    .filter(Boolean);
  const out = joined.map((w, i) => ACRONYMS[w.toLowerCase()] ?? (i === 0 ? w[0]!.toUpperCase() + w.slice(1).toLowerCase() : w.toLowerCase()));
  return out.join(' ') || key;
}

/** "12.3 s" / "2 min 05 s" / "1 h 02 min". */
export function fmtDuration(ms: number): string {
  if (!Number.isFinite(ms) || ms < 0) return '—';
  const s = ms / 1000;
  if (s < 60) return `${s.toFixed(s < 10 ? 1 : 0)} s`;
  const m = Math.floor(s / 60), rs = Math.round(s - m * 60);
  if (m < 60) return `${m} min ${String(rs).padStart(2, '0')} s`;
  return `${Math.floor(m / 60)} h ${String(m % 60).padStart(2, '0')} min`;
}

/** Time left from the elapsed time and the fraction done; undefined while too little is done to tell. */
export function etaMs(elapsedMs: number, fraction: number): number | undefined {
  if (!(fraction >= 0.05 && fraction < 1) || !(elapsedMs > 1000)) return undefined;
  return (elapsedMs * (1 - fraction)) / fraction;
}
