// Plot specs for the range view, kept apart from the component: histogram bars, each calibration
// method's range as a vertical band, and the integer grid of the symmetric and asymmetric choice.
import type { QuantChoice, TensorStats } from '../../../../contract/ipc';

// (MinMax is rose, not near-black: the lines must read on the dark theme's plot paper too.)
export const METHOD_COLOURS: Record<string, string> = { minmax: '#be123c', percentile: '#0891b2', entropy: '#c026d3', mse: '#ea580c' };
export const SCHEME_COLOURS = { symmetric: '#2563eb', asymmetric: '#16a34a' } as const;

/** Grid code positions (float values) of a choice, thinned to at most `max` marks. */
export function gridPoints(c: QuantChoice, max = 256): number[] {
  const n = c.qmax - c.qmin + 1;
  const step = Math.max(1, Math.ceil(n / max));
  const out: number[] = [];
  for (let q = c.qmin; q <= c.qmax; q += step) out.push((q - c.zeroPoint) * c.scale);
  return out;
}

export function histogramTraces(s: TensorStats, method: string, log: boolean): { data: object[]; layout: Record<string, unknown> } {
  const { lo, hi, counts } = s.histogram;
  const w = (hi - lo) / counts.length;
  const xs = counts.map((_, i) => lo + (i + 0.5) * w);
  const data: object[] = [{ type: 'bar', x: xs, y: counts, width: w, marker: { color: '#94a3b8' }, name: 'values', hovertemplate: '%{x:.4g}: %{y}<extra></extra>' }];
  const shapes: object[] = [];
  for (const m of ['minmax', 'percentile', 'entropy', 'mse']) {
    const c = s.choices.find((x) => x.method === m && x.scheme === 'asymmetric');
    if (!c) continue;
    for (const v of [c.rangeMin, c.rangeMax]) shapes.push({ type: 'line', xref: 'x', yref: 'paper', x0: v, x1: v, y0: 0, y1: 0.78, line: { color: METHOD_COLOURS[m], width: m === method ? 2.5 : 1.2, dash: m === method ? 'solid' : 'dot' } });
    data.push({ type: 'scatter', mode: 'lines', x: [null], y: [null], line: { color: METHOD_COLOURS[m], dash: m === method ? 'solid' : 'dot' }, name: `${m} range` });
  }
  const rows: [keyof typeof SCHEME_COLOURS, number][] = [['symmetric', 0.93], ['asymmetric', 0.85]];
  for (const [scheme, y] of rows) {
    const c = s.choices.find((x) => x.method === method && x.scheme === scheme);
    if (!c) continue;
    const pts = gridPoints(c);
    shapes.push({ type: 'rect', xref: 'x', yref: 'paper', x0: c.gridMin, x1: c.gridMax, y0: y - 0.035, y1: y + 0.035, fillcolor: SCHEME_COLOURS[scheme], opacity: 0.12, line: { width: 0 } });
    data.push({
      type: 'scatter', mode: 'markers', x: pts, y: pts.map(() => y), yaxis: 'y2', name: `${scheme} ${c.dtype} grid (${c.qmax - c.qmin + 1} codes)`,
      marker: { symbol: 'line-ns-open', size: 10, color: SCHEME_COLOURS[scheme], line: { width: 1, color: SCHEME_COLOURS[scheme] } },
      hovertemplate: `${scheme}: %{x:.4g}<extra></extra>`,
    });
  }
  const pad = (hi - lo) * 0.04;
  const allX = s.choices.filter((c) => c.method === method).flatMap((c) => [c.gridMin, c.gridMax]);
  const layout = {
    title: { text: `${s.tensor} — ${s.kind}, ${s.count.toLocaleString()} values` },
    barmode: 'overlay', bargap: 0, shapes,
    xaxis: { title: { text: 'value' }, range: [Math.min(lo, ...allX) - pad, Math.max(hi, ...allX) + pad], zeroline: true },
    yaxis: { title: { text: log ? 'count (log)' : 'count' }, type: log ? 'log' : 'linear', domain: [0, 0.78] },
    yaxis2: { domain: [0.8, 1], range: [0.8, 1], showticklabels: false, showgrid: false, zeroline: false, fixedrange: true },
  };
  return { data, layout };
}
