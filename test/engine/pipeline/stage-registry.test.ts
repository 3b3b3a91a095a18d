// A new algorithm needs no edit outside its own file: this test file alone declares a toy stage
// (name, zod parameters, phase, check, run) and runs it through the CLI's quantize command in-process.
// The recipe parser checks its parameters, the orchestrator runs it in its phase, --help lists it.
import { describe, it, expect, afterAll, beforeAll } from 'vitest';
import { mkdtempSync, rmSync, writeFileSync, readFileSync, existsSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { z } from 'zod';
import { create, StringStringEntryProtoSchema } from '../../../engine/onnx/proto';
import { loadModel } from '../../../engine/onnx/model-io';
import { registerStage, type StageInput } from '../../../engine/pipeline/stages/stage';
import { parseRecipe } from '../../../engine/pipeline/recipe';
import { quantizeCommand } from '../../../engine/cli/quantize-command';
import { main } from '../../../engine/cli/main';
import { models } from '../../helpers/shared';

const calls: { phase: string; factor: number; label: string; hadPlan: boolean }[] = [];
const toyParams = z.strictObject({ factor: z.number().min(0).max(10).default(1), label: z.string().max(40).default('toy') });

describe('stage registry: a toy stage registered from a test file', () => {
  const dir = mkdtempSync(join(tmpdir(), 'qstage-'));
  let unregister: () => void = () => undefined;
  beforeAll(() => {
    unregister = registerStage<{ name: string } & z.output<typeof toyParams>>({
      decl: {
        name: 'toy-mark', label: 'Toy mark', description: 'Writes its parameters into the model metadata.', phase: 'before-calibration',
        params: toyParams,
        check: (r) => (r.format !== 'qdq' ? 'writes QDQ models only.' : undefined),
      },
      run(i: StageInput, spec) {
        calls.push({ phase: 'before-calibration', factor: spec.factor, label: spec.label, hadPlan: !!i.plan });
        i.model.metadataProps.push(create(StringStringEntryProtoSchema, { key: 'toy-mark', value: `${spec.label}:${spec.factor}` }));
        return { notices: [`Toy mark ${spec.label} x${spec.factor}.`], metrics: { toyFactor: spec.factor } };
      },
    });
  });
  afterAll(() => { unregister(); rmSync(dir, { recursive: true, force: true }); });

  it('runs through qstudio quantize: parameters parsed with defaults, run before calibration, result in the model and the report', async () => {
    const recipePath = join(dir, 'recipe.json');
    writeFileSync(recipePath, JSON.stringify({ activations: null, algorithms: [{ name: 'toy-mark', factor: 2.5 }, 'rtn'] }));
    const out = join(dir, 'out.onnx');
    const reportPath = join(dir, 'report.json');
    const code = await quantizeCommand([models.cnn, '-o', out, '--recipe', recipePath, '--report', reportPath, '-q']);
    expect(code).toBe(0);
    expect(calls).toEqual([{ phase: 'before-calibration', factor: 2.5, label: 'toy', hadPlan: false }]);
    const written = (await loadModel(out)).model;
    expect(written.metadataProps.find((p) => p.key === 'toy-mark')?.value).toBe('toy:2.5');
    const report = JSON.parse(readFileSync(reportPath, 'utf8'));
    expect(report.notices).toContain('Toy mark toy x2.5.');
    expect(report.metrics.toyFactor).toBe(2.5);
    expect(report.timingsMs['toy-mark']).toBeGreaterThanOrEqual(0);
  });

  it('its parameters and check are the recipe parser\'s: bad values are BAD_RECIPE naming the key, before any work', async () => {
    expect(() => parseRecipe({ activations: null, algorithms: [{ name: 'toy-mark', factor: 11 }] })).toThrow(/^Recipe algorithms\[0\]\.factor: value '11' is above 10\.$/);
    expect(() => parseRecipe({ activations: null, algorithms: [{ name: 'toy-mark', factr: 1 }] })).toThrow(/algorithms\[0\]: unknown key '"factr"' \(allowed: name, factor, label\)/);
    expect(() => parseRecipe({ weights: { dtype: 'int4' }, activations: null, format: 'matmulnbits', algorithms: ['toy-mark'] })).toThrow(/Recipe algorithm '"toy-mark"' writes QDQ models only\./);
    const bad = join(dir, 'bad.json');
    writeFileSync(bad, JSON.stringify({ activations: null, algorithms: [{ name: 'toy-mark', factor: 'x' }] }));
    const before = calls.length;
    const out = join(dir, 'bad.onnx');
    await expect(quantizeCommand([models.cnn, '-o', out, '--recipe', bad, '-q'])).rejects.toMatchObject({ code: 'BAD_RECIPE', message: expect.stringMatching(/bad\.json.*algorithms\[0\]\.factor: value '"x"' is not a number/) });
    expect(calls.length).toBe(before);
    expect(existsSync(out)).toBe(false);
  });

  it('--help lists it from the registry beside the built-ins', async () => {
    const chunks: string[] = [];
    const write = process.stdout.write.bind(process.stdout);
    process.stdout.write = ((s: string) => { chunks.push(String(s)); return true; }) as typeof process.stdout.write;
    try { expect(await main(['--help'])).toBe(0); } finally { process.stdout.write = write; }
    const help = chunks.join('');
    expect(help).toMatch(/toy-mark\s+Toy mark \(before-calibration\): factor=1, label="toy"/);
    expect(help).toMatch(/gptq\s+GPTQ \(weights\): damp=0\.01, actOrder=false, blockSize=128/);
  });

  it('once removed, the name is an unknown algorithm again', () => {
    unregister();
    try {
      expect(() => parseRecipe({ algorithms: ['toy-mark'] })).toThrow(/Recipe algorithms\[0\]\.name: value '"toy-mark"' is not one of rtn, smoothquant, gptq, awq, bias-correction, qat\./);
    } finally {
      unregister = registerStage({ decl: { name: 'toy-mark', label: 'Toy mark', description: '', phase: 'before-calibration', params: toyParams }, run: () => ({}) });
    }
  });
});
