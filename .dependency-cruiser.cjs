// Who may import whom, checked by dependency-cruiser (`npm run lint`; test/lint/ plants violations).
// The layers (house style, after VS Code's "layers"):
//   engine/             pure Node: never electron, react, the renderer or the electron folder
//   contract/           shared by every side: imports nothing but itself and zod (no node, no DOM libs)
//   renderer/           the web side: no node built-ins, no electron, no engine; only contract/ and its packages
//   electron/           main + preload: may use engine/ and contract/, never react or the renderer
//   native-kernels/lib  the addon's TypeScript face: nothing of the app
// Inside engine/ and renderer/ no module may reach itself again through its imports (no cycles): a
// cycle means two modules are one module in two files, and it hides which one is the floor.

/**
 * A path pattern for the packages named: resolved into node_modules, or left as the bare name when it
 * does not resolve (a package not installed is still a package the layer may not use).
 */
function pkg(...names) {
  const alt = names.join('|');
  return `(^|/)node_modules/(${alt})/|^(${alt})(/|$)`;
}

/**
 * Where the product starts: the Electron main process and preload, the job worker (and the shim that
 * loads it under tsx), the CLI, the browser host, the renderer, the bin/ launchers and the benchmarks.
 */
const ENTRY_POINTS =
  '^(electron/main/index\\.ts|electron/preload/index\\.ts|engine/jobs/worker\\.ts|engine/jobs/worker-shim\\.mjs|' +
  'engine/cli/main\\.ts|host/browser-host\\.ts|renderer/src/main\\.tsx|bin/[^/]+\\.mjs|bench/.+)$';

/** @type {import('dependency-cruiser').IConfiguration} */
module.exports = {
  forbidden: [
    {
      name: 'no-cycle',
      severity: 'error',
      comment: 'An import cycle inside engine/ or renderer/: move the shared piece down into a leaf module.',
      from: { path: '^(engine|renderer)/' },
      // A worker entry (new URL('./w.ts', import.meta.url)) is not a load-time import: not a cycle edge.
      to: { circular: true, viaOnly: { dependencyTypesNot: ['exotic-require'] } },
    },
    {
      name: 'engine-not-ui',
      severity: 'error',
      comment: 'engine/ is pure Node: it never imports electron, react, the renderer or the electron folder.',
      from: { path: '^engine/' },
      to: { path: ['^(renderer|electron)/', pkg('electron', 'react', 'react-dom', '@xyflow/[^/]+', 'plotly[^/]*')] },
    },
    {
      name: 'contract-self-contained',
      severity: 'error',
      comment: 'contract/ is shared by every side: it imports nothing but itself and zod.',
      from: { path: '^contract/' },
      to: { pathNot: '^contract/|(^|/)node_modules/zod/', couldNotResolve: false },
    },
    {
      name: 'renderer-web-only',
      severity: 'error',
      comment: 'renderer/ is the web side: no Node built-ins, no electron, no engine; only contract/ and its packages.',
      from: { path: '^renderer/' },
      to: { pathNot: '^(renderer|contract)/|(^|/)node_modules/', couldNotResolve: false },
    },
    {
      name: 'renderer-no-node-packages',
      severity: 'error',
      comment: 'renderer/ runs in a browser: no electron, onnxruntime or better-sqlite3.',
      from: { path: '^renderer/' },
      to: { path: pkg('electron', 'onnxruntime[^/]*', 'better-sqlite3') },
    },
    {
      name: 'electron-not-react',
      severity: 'error',
      comment: 'electron/ (main + preload) and host/ (the browser host) never import react or the renderer.',
      from: { path: '^(electron|host)/' },
      to: { path: ['^renderer/', pkg('react', 'react-dom')] },
    },
    {
      name: 'native-lib-self-contained',
      severity: 'error',
      comment: "native-kernels/lib is the addon's TypeScript face: it imports nothing of the app.",
      from: { path: '^native-kernels/lib/' },
      to: { path: ['^(engine|renderer|electron|contract)/', pkg('electron', 'react[^/]*')] },
    },
    {
      name: 'ort-through-runtime',
      severity: 'error',
      comment:
        'onnxruntime sessions are made in one place, engine/runtime/session.ts (provider, threads, the external-data ' +
        'folder of a model given as bytes, load errors naming the model): import `ort` and `createSession` from there; ' +
        'tests open sessions through test/helpers/ort.ts.',
      from: { path: '^(engine|bench|test|bin|host|electron)/', pathNot: '^engine/runtime/|^test/helpers/ort\\.ts$' },
      to: { path: pkg('onnxruntime-node', 'onnxruntime-common') },
    },
    {
      name: 'only-tests-use',
      severity: 'warn',
      comment:
        'A module of the product that no entry point reaches (only tests, or nothing, import it): ' +
        'move it under test/ or delete it. A warning, not an error: the list is the backlog.',
      from: { path: ENTRY_POINTS },
      to: { path: '^(engine|renderer/src|contract|native-kernels/lib)/', pathNot: ENTRY_POINTS, reachable: false },
    },
    {
      name: 'unresolvable',
      severity: 'error',
      comment: 'An import that resolves to nothing: a typo or a deleted module.',
      from: { path: '^(engine|renderer|contract|electron|native-kernels/lib)/' },
      to: { couldNotResolve: true, dependencyTypesNot: ['type-only'] },
    },
  ],
  options: {
    // Built-ins count as dependencies so the renderer and contract rules can see them.
    doNotFollow: { path: '(^|/)node_modules/' },
    exclude: { path: '^(out|dist)/|^native-kernels/build/|\\.d\\.ts$' },
    // TypeScript 7 has no JS API for dependency-cruiser to parse with; Babel reads the TypeScript and
    // scripts/lint/typescript-imports.cjs keeps only the imports (type-only and string-path ones included).
    babelConfig: { fileName: 'scripts/lint/babel.config.cjs' },
    enhancedResolveOptions: {
      exportsFields: ['exports'],
      conditionNames: ['import', 'require', 'node', 'default', 'types'],
      extensions: ['.ts', '.tsx', '.mts', '.js', '.mjs', '.cjs', '.json', '.node'],
    },
    // Dynamic imports count: the job kinds and the native addon are loaded that way.
    moduleSystems: ['es6', 'cjs'],
    // How scripts/lint/typescript-imports.cjs writes a worker entry it found.
    exoticRequireStrings: ['workerEntry'],
    detectProcessBuiltinModuleCalls: true,
    reporterOptions: { text: { highlightFocused: true } },
  },
};
