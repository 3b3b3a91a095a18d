// Excluding a node picked on the graph: the pipeline's "Exclude nodes" list as data (add/remove one
// name), so the Graph view edits the same field the editor's inspector shows, without typing.
import type { PipelineDoc } from './pipeline-doc';

export function excludedNames(doc: PipelineDoc): string[] {
  const p = doc.nodes.find((n) => n.type === 'quant-params');
  return String(p?.params.exclude ?? '').split(',').map((s) => s.trim()).filter(Boolean);
}

/** The doc with `name` added to (or, when present, removed from) the exclude list; undefined without a Quantization params node. */
export function toggleExcluded(doc: PipelineDoc, name: string): PipelineDoc | undefined {
  const p = doc.nodes.find((n) => n.type === 'quant-params');
  if (!p) return undefined;
  const cur = excludedNames(doc);
  const next = cur.includes(name) ? cur.filter((x) => x !== name) : [...cur, name];
  return { ...doc, nodes: doc.nodes.map((n) => (n === p ? { ...n, params: { ...n.params, exclude: next.join(', ') } } : n)) };
}
