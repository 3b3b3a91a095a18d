#!/usr/bin/env node
// `npm run lint`: the layer and cycle rules of .dependency-cruiser.cjs, checked by dependency-cruiser
// over every module of engine/, renderer/, contract/, electron/, host/ and native-kernels/lib.
// test/lint/layers.test.ts runs the same check on the repository and on planted violations.
import { existsSync } from 'node:fs';
import { join, resolve, dirname } from 'node:path';
import { fileURLToPath } from 'node:url';
import { createRequire } from 'node:module';
import { cruise } from 'dependency-cruiser';
import extractDepcruiseOptions from 'dependency-cruiser/config-utl/extract-depcruise-options';
import extractBabelConfig from 'dependency-cruiser/config-utl/extract-babel-config';

const root = resolve(dirname(fileURLToPath(import.meta.url)), '..');

/** The folders the rules speak about; each is cruised if it exists under the base directory. */
export const LAYER_DIRS = ['engine', 'renderer/src', 'contract', 'electron', 'host', 'native-kernels/lib'];
/** Cruised only as entry points, so the modules they use count as used. */
const ENTRY_DIRS = ['bin', 'bench'];
/** Cruised for the rules that speak about them (tests open onnxruntime sessions only through their helper);
 *  not entry points: a module only tests import stays unreached. */
const TEST_DIRS = ['test'];

/**
 * Cruise `base` (the repository by default) with the repository's rules.
 * Returns one line per violation, `<rule>: <from> → <to>` (a cycle lists every module on it), split
 * into errors (the lint fails) and warnings (reported only).
 */
export async function checkLayers(base = root) {
  const options = await extractDepcruiseOptions(join(root, '.dependency-cruiser.cjs'));
  // TypeScript is read through Babel (see scripts/lint/typescript-imports.cjs); the config file is
  // resolved here, not relative to the working directory, so the check runs from anywhere.
  const babelConfig = await extractBabelConfig(join(root, 'scripts/lint/babel.config.cjs'));
  // Globs, not folders: dependency-cruiser only scans folders for extensions its own parsers know,
  // and it knows TypeScript only through the `typescript` package's JS API (absent in TypeScript 7).
  const globs = [...LAYER_DIRS, ...ENTRY_DIRS, ...TEST_DIRS].filter((d) => existsSync(join(base, d))).map((d) => `${d}/**/*.{ts,tsx,mts,mjs,js,cjs}`);
  if (globs.length === 0) return { errors: [], warnings: [] };
  const { babelConfig: _ignored, ...cruiseOptions } = options;
  const result = await cruise(globs, { ...cruiseOptions, baseDir: base, validate: true, outputType: 'json' }, undefined, { babelConfig });
  const out = typeof result.output === 'string' ? JSON.parse(result.output) : result.output;
  const line = (v) => {
    const path = v.cycle?.length ? [v.from, ...v.cycle.map((c) => c.name ?? c)].join(' → ') : v.from === v.to ? v.from : `${v.from} → ${v.to}`;
    return `${v.rule.name}: ${path}`;
  };
  const violations = out.summary.violations;
  return {
    errors: violations.filter((v) => v.rule.severity === 'error').map(line),
    warnings: violations.filter((v) => v.rule.severity !== 'error').map(line),
  };
}

/** The rule's comment, for the command-line report. */
function commentsByRule() {
  const config = createRequire(import.meta.url)(join(root, '.dependency-cruiser.cjs'));
  return new Map(config.forbidden.map((r) => [r.name, r.comment]));
}

if (process.argv[1] && resolve(process.argv[1]) === fileURLToPath(import.meta.url)) {
  const { errors, warnings } = await checkLayers();
  const comments = commentsByRule();
  const explain = (lines) => [...new Set(lines.map((p) => p.slice(0, p.indexOf(':'))))].map((r) => `${r}: ${comments.get(r) ?? ''}`);
  if (warnings.length) {
    console.warn(`Dependency warnings (${warnings.length}):\n  ` + warnings.join('\n  ') + '\n' + explain(warnings).join('\n'));
  }
  if (errors.length) {
    console.error(`Dependency check failed (${errors.length}):\n  ` + errors.join('\n  ') + '\n' + explain(errors).join('\n'));
    process.exit(1);
  }
  console.log(`Dependency check passed: ${LAYER_DIRS.join(', ')} keep to their layers, and engine/ and renderer/ have no import cycles.`);
}
