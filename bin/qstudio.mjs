#!/usr/bin/env node
// The qstudio CLI: loads the TypeScript engine through tsx, so a fresh clone needs no build step.
import { register } from 'tsx/esm/api';

register();
const { main } = await import('../engine/cli/main.ts');
const code = await main(process.argv.slice(2));
process.exitCode = code;
