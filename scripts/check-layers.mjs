#!/usr/bin/env node
// Layering rule (house style, after VS Code's "layers"): who may import whom.
//   engine/          pure Node: never electron, react, the renderer or the electron folder
//   contract/        shared by every side: imports nothing but itself (no node, no DOM libs)
//   renderer/        the web side: no node built-ins, no electron, no engine; only contract/
//   electron/        main + preload: may use engine/ and contract/
//   native-kernels/lib  the addon's TypeScript face: nothing of the app
// Run as `npm run lint`; test/lint/layers.test.ts runs the same check.
import { readFileSync, readdirSync, statSync } from 'node:fs';
import { join, relative, resolve, dirname, sep } from 'node:path';
import { builtinModules } from 'node:module';
import { fileURLToPath } from 'node:url';

const root = resolve(dirname(fileURLToPath(import.meta.url)), '..');
const builtins = new Set(builtinModules.flatMap((m) => [m, `node:${m}`]));
const importRe = /(?:^|[^\w.])(?:import|export)\s[^'"]*?from\s*['"]([^'"]+)['"]|(?:^|[^\w.])import\s*\(\s*['"]([^'"]+)['"]\s*\)|(?:^|[^\w.])require\s*\(\s*['"]([^'"]+)['"]\s*\)|^\s*import\s+['"]([^'"]+)['"]/gm;

const rules = {
  engine: { forbidPackages: [/^electron($|\/)/, /^react($|-dom|\/)/, /^@xyflow\//, /^plotly/], forbidDirs: ['renderer', 'electron'] },
  contract: { forbidPackages: [/.*/], forbidDirs: ['engine', 'renderer', 'electron', 'native-kernels'], forbidBuiltins: true },
  renderer: { forbidPackages: [/^electron($|\/)/, /^onnxruntime/, /^better-sqlite3/], forbidDirs: ['engine', 'electron', 'native-kernels'], forbidBuiltins: true },
  electron: { forbidPackages: [/^react($|-dom|\/)/], forbidDirs: ['renderer'] },
  'native-kernels/lib': { forbidPackages: [/^electron($|\/)/, /^react/], forbidDirs: ['engine', 'renderer', 'electron', 'contract'] },
};

function* walk(dir) {
  let entries;
  try { entries = readdirSync(dir); } catch { return; }
  for (const name of entries) {
    if (name === 'node_modules' || name === 'build' || name === 'out') continue;
    const p = join(dir, name);
    if (statSync(p).isDirectory()) yield* walk(p);
    else if (/\.(ts|tsx|mts|js|mjs)$/.test(name) && !name.endsWith('.d.ts')) yield p;
  }
}

export function checkLayers(base = root) {
  const problems = [];
  for (const [layer, rule] of Object.entries(rules)) {
    const layerDir = join(base, layer);
    for (const file of walk(layerDir)) {
      const rel = relative(base, file).split(sep).join('/');
      if (layer === 'electron' && rel.startsWith('native-kernels')) continue;
      const src = readFileSync(file, 'utf8');
      for (const m of src.matchAll(importRe)) {
        const spec = m[1] ?? m[2] ?? m[3] ?? m[4];
        if (!spec) continue;
        if (spec.startsWith('.')) {
          const target = relative(base, resolve(dirname(file), spec)).split(sep).join('/');
          const top = target.split('/')[0];
          const bad = rule.forbidDirs.find((d) => target === d || target.startsWith(d + '/') || top === d);
          if (bad) problems.push(`${rel}: imports '${spec}' from ${bad}/, which the ${layer} layer may not use`);
          if (layer === 'renderer' && top === 'contract') continue;
        } else if (rule.forbidBuiltins && builtins.has(spec)) {
          problems.push(`${rel}: imports the Node built-in '${spec}', which the ${layer} layer may not use`);
        } else if (!builtins.has(spec) && rule.forbidPackages.some((re) => re.test(spec))) {
          problems.push(`${rel}: imports the package '${spec}', which the ${layer} layer may not use`);
        }
      }
    }
  }
  return problems;
}

if (process.argv[1] && resolve(process.argv[1]) === fileURLToPath(import.meta.url)) {
  const problems = checkLayers();
  if (problems.length) {
    console.error(`Layering check failed (${problems.length}):\n  ` + problems.join('\n  '));
    process.exit(1);
  }
  console.log('Layering check passed: engine, contract, renderer, electron and native-kernels/lib keep to their imports.');
}
