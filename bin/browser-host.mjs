#!/usr/bin/env node
// `npm run serve`: the browser host (host/browser-host.ts) on 127.0.0.1 with a random token.
// Options: --data-dir DIR (or QSTUDIO_HOME), --port N (default random), --renderer DIR (default out/renderer),
// --allow-paths (let the UI name server-side file paths; trusted local use only).
// QSTUDIO_TEST_JOB_KINDS=1 lets runs.start accept the test-only 'selftest' kind (tests only).
import { register } from 'tsx/esm/api';

register();
const argv = process.argv.slice(2);
if (argv.includes('--help') || argv.includes('-h')) {
  console.log('usage: node bin/browser-host.mjs [--data-dir DIR] [--port N] [--renderer DIR] [--allow-paths]');
  process.exit(0);
}
const arg = (name) => {
  const i = argv.indexOf(name);
  if (i >= 0) return argv[i + 1];
  const eq = argv.find((a) => a.startsWith(name + '='));
  return eq ? eq.slice(name.length + 1) : undefined;
};
// Last line of defence for running jobs: a promise rejected on a path nobody handled is logged, not
// turned into a process exit (Node's default) that would kill every job in flight. The robustness
// suite (test/host/robustness.test.ts) fails on any such line, so these paths are still found.
process.on('unhandledRejection', (e) => console.error(`error: unhandled rejection: ${e?.stack ?? e}`));
const { startBrowserHost } = await import('../host/browser-host.ts');
const { dataDirFromArgs } = await import('../engine/store/data-dir.ts');
try {
  const host = await startBrowserHost({
    dataDir: dataDirFromArgs(argv),
    port: arg('--port') ? Number(arg('--port')) : 0,
    rendererDir: arg('--renderer'),
    allowPaths: argv.includes('--allow-paths'),
    log: (line) => console.log(line),
  });
  // Stop once (a second Ctrl-C while jobs wind down must not start a second close); a failing close still exits.
  let stopping = false;
  const stop = async () => {
    if (stopping) return;
    stopping = true;
    try {
      await host.close();
      process.exit(0);
    } catch (e) {
      console.error(`browser host: stopping failed: ${e.message}`);
      process.exit(1);
    }
  };
  process.on('SIGINT', stop);
  process.on('SIGTERM', stop);
} catch (e) {
  console.error(`browser host: ${e.code ? `[${e.code}] ` : ''}${e.message}`);
  process.exit(1);
}
