// The "algorithms" part of `qstudio --help`, read from the algorithm registry (contract/algorithms.ts),
// so an algorithm registered anywhere shows up here with its parameters and defaults.
import { algorithmDecls, paramShapes } from '../../contract/algorithms';
import '../pipeline/stages/builtin';

export function algorithmsHelp(): string {
  const lines = ['Recipe algorithms ("algorithms": [{ "name": ..., params }], run phase by phase):'];
  for (const d of algorithmDecls()) {
    const params = paramShapes(d).map((p) => `${p.key}${p.default !== undefined ? `=${JSON.stringify(p.default)}` : p.optional ? '?' : ''}`);
    lines.push(`  ${d.name.padEnd(16)} ${d.label} (${d.phase})${params.length ? `: ${params.join(', ')}` : ''}`);
  }
  return `${lines.join('\n')}\n`;
}
