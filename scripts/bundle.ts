// npm run bundle: the kubectl plugin as one file, dist/kubectl-pf, that needs only Node.js (no
// node_modules). An ES module: Node loads an extensionless file as one inside this package (its
// package.json says type: module, and so does the npm package's), and alone where Node detects
// module syntax (20.19, 22.7 and later); the krew archive carries a package.json that says so too. Any
// error or warning fails the build.
import { chmodSync, mkdirSync, readFileSync, renameSync, writeFileSync } from 'node:fs';
import { dirname, join } from 'node:path';
import { fileURLToPath, pathToFileURL } from 'node:url';
import { build, type Plugin } from 'esbuild';

export const ROOT = fileURLToPath(new URL('..', import.meta.url));
export const BUNDLE = join(ROOT, 'dist/kubectl-pf');

/**
 * node-fetch 2 (client-node's) uses Node's own URL and needs whatwg-url only on Node < 10. Bundled,
 * whatwg-url would load the deprecated punycode module, which Node 22 warns about on every run.
 */
const nodeUrl: Plugin = {
  name: 'whatwg-url-is-node-url',
  setup(b) {
    b.onResolve({ filter: /^whatwg-url$/ }, () => ({ path: 'whatwg-url', namespace: 'node-url' }));
    b.onLoad({ filter: /.*/, namespace: 'node-url' }, () => ({ contents: 'module.exports = { URL };', loader: 'js' }));
  },
};

export async function bundlePlugin(outfile = BUNDLE): Promise<void> {
  const { version } = JSON.parse(readFileSync(join(ROOT, 'package.json'), 'utf8')) as { version: string };
  const result = await build({
    entryPoints: [join(ROOT, 'src/cli/main.ts')],
    outfile,
    bundle: true,
    platform: 'node',
    format: 'esm',
    target: 'node20',
    // The CommonJS modules inside (client-node's dependencies) require Node's own modules.
    banner: { js: '#!/usr/bin/env node\nimport { createRequire } from "node:module";\nconst require = createRequire(import.meta.url);' },
    define: { PF_PLUGIN_VERSION: JSON.stringify(version) },
    plugins: [nodeUrl],
    logLevel: 'warning',
    write: false,
  });
  if (result.warnings.length > 0) throw new Error(`esbuild warned ${result.warnings.length} time(s): see above`);
  const [output] = result.outputFiles;
  if (!output || result.outputFiles.length !== 1) throw new Error(`esbuild made ${result.outputFiles.length} files, not one`);
  // whole or not at all: a failed build leaves no half-written plugin behind
  mkdirSync(dirname(outfile), { recursive: true });
  const partial = `${outfile}.partial`;
  writeFileSync(partial, output.contents);
  chmodSync(partial, 0o755);
  renameSync(partial, outfile);
}

if (process.argv[1] && import.meta.url === pathToFileURL(process.argv[1]).href) {
  bundlePlugin().then(
    () => process.stdout.write(`wrote ${BUNDLE}\n`),
    (err: unknown) => {
      process.stderr.write(`bundle failed: ${err instanceof Error ? err.message : String(err)}\n`);
      process.exit(1);
    },
  );
}
