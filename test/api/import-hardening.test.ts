// Imports under concurrency and of broken models. N concurrent imports of different bytes under one
// file name give N rows, N files, and each recorded hash matches its file's bytes (a check-then-rename
// let them overwrite each other). A model with a cycle, a value produced twice or a node reading an
// undefined value is refused on import with BAD_MODEL naming the node, and nothing is stored.
import { describe, it, expect } from 'vitest';
import { mkdirSync, readFileSync, writeFileSync, readdirSync, existsSync } from 'node:fs';
import { createHash } from 'node:crypto';
import { join } from 'node:path';
import { parseModel, serializeModel } from '../../engine/onnx/model-io';
import { encodeNpy } from '../../engine/data/npy';
import { models } from '../helpers/shared';
import { useTempStudio } from '../fixtures/temp-studio';

const studio = useTempStudio('qs-import-');
const sha = (b: Uint8Array) => createHash('sha256').update(b).digest('hex');

/** The real CNN with its doc string changed: same model, different bytes. */
function variant(i: number): string {
  const m = parseModel(readFileSync(models.cnn), models.cnn);
  m.docString = `variant ${i} `.repeat(1 + i);
  const folder = join(studio.dir, `src-${i}`);
  const file = join(folder, 'model.onnx');
  mkdirSync(folder, { recursive: true });
  writeFileSync(file, serializeModel(m));
  return file;
}

describe('imports: concurrency', () => {
  it('N concurrent model imports with one file name: N rows, N files, each hash matches its bytes', async () => {
    const p = studio.engine.store.createProject({ name: 'concurrent models' });
    const N = 8;
    const srcs = Array.from({ length: N }, (_, i) => variant(i));
    const results = await Promise.all(srcs.map((path) => studio.engine.service.dispatch('models.import', { projectId: p.id, file: { kind: 'path', path }, name: 'model.onnx' })));
    expect(results.every((r) => r.ok), JSON.stringify(results.filter((r) => !r.ok))).toBe(true);
    const rows = studio.engine.store.listModels(p.id);
    expect(rows).toHaveLength(N);
    expect(new Set(rows.map((r) => r.file)).size).toBe(N);
    const modelsDir = join(p.dir, 'models');
    expect(readdirSync(modelsDir).filter((f) => !f.startsWith('.'))).toHaveLength(N);
    expect(readdirSync(modelsDir).filter((f) => f.startsWith('.'))).toEqual([]); // no temp files left
    for (const r of rows) expect(sha(readFileSync(join(p.dir, r.file)))).toBe(r.sha256);
    expect(new Set(rows.map((r) => r.sha256))).toEqual(new Set(srcs.map((s) => sha(readFileSync(s)))));
  });

  it('N concurrent dataset adds with one file name: N rows pointing at N files with their own bytes', async () => {
    const p = studio.engine.store.createProject({ name: 'concurrent datasets' });
    const N = 8;
    const srcs = Array.from({ length: N }, (_, i) => {
      const f = join(studio.dir, `ds-${i}`, 'data.npy');
      mkdirSync(join(studio.dir, `ds-${i}`), { recursive: true });
      writeFileSync(f, encodeNpy({ dtype: 'float32', shape: [i + 1, 1, 28, 28], data: new Float32Array((i + 1) * 784).fill(i / N) }));
      return f;
    });
    const results = await Promise.all(srcs.map((path, i) => studio.engine.service.dispatch('datasets.add', { projectId: p.id, name: `d${i}`, kind: 'npy', file: { kind: 'path', path } })));
    expect(results.every((r) => r.ok), JSON.stringify(results.filter((r) => !r.ok))).toBe(true);
    const rows = studio.engine.store.listDatasets(p.id);
    expect(rows).toHaveLength(N);
    expect(new Set(rows.map((r) => r.file)).size).toBe(rows.length);
    for (const r of rows) {
      const i = Number(r.name.slice(1));
      expect(sha(readFileSync(join(p.dir, r.file)))).toBe(sha(readFileSync(srcs[i]!)));
    }
  });
});

describe('imports: broken graphs are refused before anything is stored', () => {
  const broken: [string, (m: ReturnType<typeof parseModel>) => void, RegExp][] = [
    ['a cycle', (m) => { const g = m.graph!; g.node[0]!.input[0] = g.node[g.node.length - 1]!.output[0]!; }, /cycle: node '.*'/],
    ['a value produced twice', (m) => { const g = m.graph!; g.node[2]!.output[0] = g.node[1]!.output[0]!; }, /value '.*' is an output of node '.*' .* but is already an output of node/],
    ['a node reading an undefined value', (m) => { m.graph!.node[3]!.input[0] = 'no_such_value'; }, /node '.*' \(.*\) reads '.*no_such_value.*', which no node/],
    ['a graph output nothing produces', (m) => { m.graph!.output[0]!.name = 'ghost_output'; }, /graph output '.*ghost_output.*' is produced by no node/],
  ];
  for (const [what, breakIt, message] of broken) {
    it(`refuses ${what} (BAD_MODEL naming the node); no row, no file`, async () => {
      const p = studio.engine.store.createProject({ name: `broken: ${what}` });
      const m = parseModel(readFileSync(models.cnn), models.cnn);
      breakIt(m);
      const file = join(studio.dir, `broken-${what.replace(/\W+/g, '-')}.onnx`);
      writeFileSync(file, serializeModel(m));
      const r = await studio.engine.service.dispatch('models.import', { projectId: p.id, file: { kind: 'path', path: file } });
      expect(r.ok).toBe(false);
      if (r.ok) return;
      expect(r.error.code).toBe('BAD_MODEL');
      expect(r.error.message).toMatch(message);
      expect(studio.engine.store.listModels(p.id)).toEqual([]);
      const modelsDir = join(p.dir, 'models');
      expect(existsSync(modelsDir) ? readdirSync(modelsDir) : []).toEqual([]);
    });
  }

  it('accepts the real models unchanged', async () => {
    const p = studio.engine.store.createProject({ name: 'real' });
    for (const path of [models.cnn, models.gpt]) {
      const r = await studio.engine.service.dispatch('models.import', { projectId: p.id, file: { kind: 'path', path } });
      expect(r.ok, JSON.stringify(r)).toBe(true);
    }
  });
});
