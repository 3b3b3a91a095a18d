// What the graph view colours a node by: its quantization state (from a run's report, or predicted
// from a recipe before any run) and, once a run exists, its per-layer error.
import type { RecipeJson } from '../pipeline/compile';
import type { RunReport } from '../runs/run-report';

export type QuantState = 'float' | 'int8' | 'int4' | 'excluded';

export const STATE_COLOURS: Record<QuantState, string> = { float: '#94a3b8', int8: '#2563eb', int4: '#7c3aed', excluded: '#f59e0b' };

const bitsClass = (dtype: string | undefined): QuantState => (dtype && /4|3/.test(dtype) ? 'int4' : 'int8');

export interface NodeLike { id: string; name: string; opType: string }

/** Predicted from a recipe: ops of the listed types are quantized unless excluded by name. */
export function statesFromRecipe(nodes: NodeLike[], recipe: Pick<RecipeJson, 'opTypes' | 'exclude' | 'weights'>): Map<string, QuantState> {
  const m = new Map<string, QuantState>();
  for (const n of nodes) {
    if (!recipe.opTypes.includes(n.opType)) m.set(n.id, 'float');
    else if (recipe.exclude.includes(n.name)) m.set(n.id, 'excluded');
    else m.set(n.id, bitsClass(recipe.weights.dtype));
  }
  return m;
}

/** Read from a finished run: what the engine really quantized and what it skipped. */
export function statesFromReport(nodes: NodeLike[], report: RunReport): Map<string, QuantState> {
  const q = new Map(report.quantized.map((x) => [x.node, x]));
  const skipped = new Set(report.skipped.map((x) => x.node));
  const m = new Map<string, QuantState>();
  for (const n of nodes) {
    const hit = q.get(n.name) ?? q.get(n.id);
    if (hit) m.set(n.id, bitsClass(hit.weightDtype ?? hit.activationDtype));
    else if (skipped.has(n.name) || skipped.has(n.id)) m.set(n.id, 'excluded');
    else m.set(n.id, 'float');
  }
  return m;
}

/** Per-node SQNR (dB) from the report's layer errors, matched by node name or output tensor. */
export function errorsFromReport(nodes: (NodeLike & { outputs: string[] })[], report: RunReport): Map<string, number> {
  const byNode = new Map<string, number>(), byTensor = new Map<string, number>();
  for (const l of report.layers) {
    if (l.node) byNode.set(l.node, l.sqnrDb);
    if (l.tensor) byTensor.set(l.tensor, l.sqnrDb);
  }
  const m = new Map<string, number>();
  for (const n of nodes) {
    const v = byNode.get(n.name) ?? n.outputs.map((o) => byTensor.get(o)).find((x) => x !== undefined);
    if (v !== undefined && Number.isFinite(v)) m.set(n.id, v);
  }
  return m;
}

/** SQNR → colour: red below 10 dB, amber around 20, green from 35 dB up. */
export function errorColour(sqnrDb: number): string {
  const t = Math.max(0, Math.min(1, (sqnrDb - 10) / 25));
  const hue = Math.round(t * 130);
  return `hsl(${hue}, 70%, 42%)`;
}
