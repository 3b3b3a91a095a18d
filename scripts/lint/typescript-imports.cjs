// A Babel plugin that lets dependency-cruiser read TypeScript without a TypeScript compiler.
// dependency-cruiser parses .ts/.tsx through the `typescript` package's JS API, which TypeScript 7
// (the Go compiler this repo builds with) no longer ships; Babel's parser still reads TypeScript.
// So Babel parses each file and this plugin replaces the module body with only its imports, written
// as plain JavaScript that dependency-cruiser's own parser understands:
//   import … from 'x' / import type … from 'x' / export … from 'x'  → import 'x';
//   import('x'), require('x')                                       → import('x') / require('x')
//   import(name) where `const name = 'x'` in scope                  → import('x')
//   new URL('./x.ts', import.meta.url)  (a worker entry)            → workerEntry('./x.ts')
// The last is a dependency for reachability (the worker runs this module's code) but not for cycles:
// a module that starts a worker running its own helpers is not a load-time cycle. dependency-cruiser
// sees it as an 'exotic-require' (.dependency-cruiser.cjs: exoticRequireStrings), which no-cycle skips.
// Type-only imports are kept as imports on purpose: a cycle through a type is still two modules
// that cannot be understood one without the other. The last form is how the engine loads the native
// addon (a string path keeps bundlers from inlining it); reading it lets the layer rules see it.
'use strict';

module.exports = function typescriptImports({ types: t }) {
  /** The string a specifier node stands for, or null: a literal, a plain template or a const bound to one. */
  function specifierOf(path) {
    const node = path.node;
    if (t.isStringLiteral(node)) return node.value;
    if (t.isTemplateLiteral(node) && node.expressions.length === 0) return node.quasis[0].value.cooked;
    if (t.isIdentifier(node)) {
      const binding = path.scope.getBinding(node.name);
      if (binding && binding.constant && t.isVariableDeclarator(binding.path.node)) {
        const init = binding.path.get('init');
        if (init.node && (t.isStringLiteral(init.node) || t.isTemplateLiteral(init.node))) return specifierOf(init);
      }
    }
    return null;
  }

  return {
    name: 'typescript-imports',
    manipulateOptions(opts, parserOpts) {
      const tsx = /\.tsx$/.test(opts.filename ?? '');
      parserOpts.plugins.push(tsx ? ['typescript', { isTSX: true }] : 'typescript');
      if (tsx) parserOpts.plugins.push('jsx');
    },
    visitor: {
      Program: {
        exit(program) {
          const statics = [];
          const dynamics = [];
          const requires = [];
          const workers = [];
          for (const stmt of program.get('body')) {
            const n = stmt.node;
            if ((t.isImportDeclaration(n) || t.isExportAllDeclaration(n) || t.isExportNamedDeclaration(n)) && n.source) {
              statics.push(n.source.value);
            } else if (t.isTSImportEqualsDeclaration(n) && t.isTSExternalModuleReference(n.moduleReference)) {
              requires.push(n.moduleReference.expression.value);
            }
          }
          program.traverse({
            CallExpression(call) {
              const callee = call.node.callee;
              const arg = call.get('arguments')[0];
              if (!arg) return;
              if (t.isImport(callee)) {
                const spec = specifierOf(arg);
                if (spec !== null) dynamics.push(spec);
              } else if (t.isIdentifier(callee, { name: 'require' }) && !call.scope.getBinding('require')) {
                const spec = specifierOf(arg);
                if (spec !== null) requires.push(spec);
              }
            },
            NewExpression(nw) {
              // A worker thread's entry, found beside this module: the module depends on it running.
              const [first, second] = nw.get('arguments');
              if (!t.isIdentifier(nw.node.callee, { name: 'URL' }) || !first || !second) return;
              const meta = t.isMemberExpression(second.node) ? second.node.object : null; // import.meta.url
              if (!meta || !t.isMetaProperty(meta) || meta.meta.name !== 'import' || meta.property.name !== 'meta') return;
              const spec = specifierOf(first);
              if (spec !== null && spec.startsWith('.')) workers.push(spec);
            },
            ImportExpression(call) {
              const spec = specifierOf(call.get('source'));
              if (spec !== null) dynamics.push(spec);
            },
          });
          const lit = (s) => t.stringLiteral(s);
          program.node.body = [
            ...statics.map((s) => t.importDeclaration([], lit(s))),
            ...dynamics.map((s) => t.expressionStatement(t.callExpression(t.import(), [lit(s)]))),
            ...requires.map((s) => t.expressionStatement(t.callExpression(t.identifier('require'), [lit(s)]))),
            ...workers.map((s) => t.expressionStatement(t.callExpression(t.identifier('workerEntry'), [lit(s)]))),
          ];
          program.node.directives = [];
        },
      },
    },
  };
};
