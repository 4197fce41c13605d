#!/usr/bin/env node
// `kubectl pf`: kubectl runs this when it is on PATH as kubectl-pf (npm link / npm install -g).
// It runs the compiled plugin (npm run build); during development use `npm run plugin -- ARGS`.
import { existsSync } from 'node:fs';

const compiled = new URL('../dist/src/cli/main.js', import.meta.url);
if (!existsSync(compiled)) {
  process.stderr.write('error: kubectl-pf is not built yet: run `npm run build` in the repository (or use `npm run plugin -- ARGS`)\n');
  process.exit(1);
}
const { runCli } = await import(compiled.href);
runCli();
