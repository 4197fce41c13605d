#!/usr/bin/env node
// `kubectl pf` from tsc's output (npm run build), for the tests, benchmarks and the demo in this
// repository. Installs (npm pack, npm link, krew) use the bundle, dist/kubectl-pf (npm run bundle);
// during development use `npm run plugin -- ARGS`.
import { existsSync } from 'node:fs';

const compiled = new URL('../dist/src/cli/main.js', import.meta.url);
if (!existsSync(compiled)) {
  process.stderr.write('error: kubectl-pf is not built yet: run `npm run build` in the repository (or use `npm run plugin -- ARGS`)\n');
  process.exit(1);
}
const { runCli } = await import(compiled.href);
runCli();
