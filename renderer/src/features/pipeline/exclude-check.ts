// The "Exclude nodes" list checked against the model it will be applied to: a typo would otherwise
// leave the node quantized without a word. The compiler does not know the model; the editor does.
import type { PipelineProblem } from './compile';
import type { PipelineDoc } from './pipeline-doc';

/** Closest known name by edit distance (for "did you mean"), when it is close enough to be a typo. */
export function closestName(name: string, known: Iterable<string>): string | undefined {
  let best: string | undefined, bestD = Infinity;
  for (const k of known) {
    if (Math.abs(k.length - name.length) >= bestD) continue;
    const d = editDistance(name, k, bestD);
    if (d < bestD) { bestD = d; best = k; }
  }
  return best !== undefined && bestD <= Math.max(2, Math.floor(name.length / 4)) ? best : undefined;
}

function editDistance(a: string, b: string, cap: number): number {
  let prev = Array.from({ length: b.length + 1 }, (_, j) => j);
  for (let i = 1; i <= a.length; i++) {
    const cur = [i];
    let rowMin = i;
    for (let j = 1; j <= b.length; j++) {
      cur[j] = Math.min(prev[j]! + 1, cur[j - 1]! + 1, prev[j - 1]! + (a[i - 1] === b[j - 1] ? 0 : 1));
      rowMin = Math.min(rowMin, cur[j]!);
    }
    if (rowMin >= cap) return cap;
    prev = cur;
  }
  return prev[b.length]!;
}

/** One problem per Quantization params node whose exclude list names nodes the model does not have. */
export function excludeProblems(doc: PipelineDoc, modelNodes: Set<string> | null): PipelineProblem[] {
  if (!modelNodes) return [];
  const out: PipelineProblem[] = [];
  for (const n of doc.nodes) {
    if (n.type !== 'quant-params') continue;
    const names = String(n.params.exclude ?? '').split(',').map((s) => s.trim()).filter(Boolean);
    const unknown = names.filter((x) => !modelNodes.has(x));
    if (!unknown.length) continue;
    const hints = unknown.map((u) => { const c = closestName(u, modelNodes); return c ? `'${u}' (did you mean '${c}'?)` : `'${u}'`; });
    out.push({ nodeId: n.id, message: `Exclude nodes: the model has no node ${hints.join(', ')}.` });
  }
  return out;
}
