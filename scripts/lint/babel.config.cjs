// Babel options dependency-cruiser reads TypeScript with (see typescript-imports.cjs); nothing else uses Babel.
module.exports = {
  babelrc: false,
  configFile: false,
  sourceType: 'module',
  plugins: [require.resolve('./typescript-imports.cjs')],
};
