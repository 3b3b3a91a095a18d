// The QAT loss curve: points arrive live with each `run.progress` event (stage 'qat', metrics
// { step, loss, metric? }) and, for a finished run, from its stored per-step metrics ('qat.loss',
// 'qat.metric'). Both paths end in the same sorted, one-point-per-step series.

export interface LossPoint { step: number; loss: number; metric?: number }

/** A point from a progress event's metrics, or null when the event carries none. */
export function pointFromProgress(stage: string, metrics: Record<string, number> | undefined): LossPoint | null {
  if (stage !== 'qat' || !metrics) return null;
  const { step, loss, metric } = metrics;
  if (typeof step !== 'number' || typeof loss !== 'number' || !Number.isFinite(step) || !Number.isFinite(loss)) return null;
  return Number.isFinite(metric) ? { step, loss, metric } : { step, loss };
}

/** Insert (or replace, for a repeated step: a resumed run) keeping the series sorted by step. */
export function addPoint(points: readonly LossPoint[], p: LossPoint): LossPoint[] {
  const last = points[points.length - 1];
  if (!last || last.step < p.step) return [...points, p];
  const out = points.filter((x) => x.step !== p.step);
  out.push(p);
  return out.sort((a, b) => a.step - b.step);
}

/** The series from a run's stored metrics (metrics.list). */
export function curveFromMetrics(metrics: readonly { name: string; value: number; step: number | null }[]): LossPoint[] {
  const byStep = new Map<number, LossPoint>();
  for (const m of metrics) {
    if (m.step === null || !Number.isFinite(m.value)) continue;
    if (m.name === 'qat.loss') byStep.set(m.step, { ...byStep.get(m.step), step: m.step, loss: m.value });
    else if (m.name === 'qat.metric') {
      const p = byStep.get(m.step);
      byStep.set(m.step, { step: m.step, loss: p?.loss ?? NaN, metric: m.value });
    }
  }
  return [...byStep.values()].filter((p) => Number.isFinite(p.loss)).sort((a, b) => a.step - b.step);
}

/** Moving average over `window` points (the raw per-batch loss is noisy). */
export function smooth(points: readonly LossPoint[], window = 10): number[] {
  const out: number[] = [];
  let sum = 0;
  for (let i = 0; i < points.length; i++) {
    sum += points[i]!.loss;
    if (i >= window) sum -= points[i - window]!.loss;
    out.push(sum / Math.min(i + 1, window));
  }
  return out;
}
