// Load -> save -> load gives the same graph and the same bytes, on every real model we have.
import { describe, it, expect, afterAll } from 'vitest';
import { mkdtempSync, readFileSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { loadModel, saveModel, serializeModel } from '../../../engine/onnx/model-io';
import { walkGraphs } from '../../../engine/onnx/graph';
import { roundTripModels } from './fixtures';

describe('round trip on real models', () => {
  it('has the third-party models installed', () => {
    expect(roundTripModels.length).toBe(8);
  });
  const dir = mkdtempSync(join(tmpdir(), 'qs-rt-'));
  afterAll(() => rmSync(dir, { recursive: true, force: true }));
  for (const m of roundTripModels) {
    it(`${m.name}: same bytes and graph after load -> save -> load`, async () => {
      const a = await loadModel(m.path);
      const out = join(dir, 'copy.onnx');
      await saveModel(a.model, out, { baseDir: a.baseDir });
      expect(readFileSync(out).equals(readFileSync(m.path))).toBe(true);
      const b = await loadModel(out);
      const sig = (x: typeof a.model) => [...walkGraphs(x.graph!)].flatMap(({ graph, path }) => graph.node.map((node) => ({ node, path }))).map(({ node, path }) => `${path.map((p) => p.node).join('/')}|${node.opType}|${node.input.join(',')}|${node.output.join(',')}`);
      expect(sig(b.model)).toEqual(sig(a.model));
      expect(Buffer.from(serializeModel(b.model)).equals(Buffer.from(serializeModel(a.model)))).toBe(true);
      rmSync(out);
    });
  }
});
