// The plugin's own version. The bundle (scripts/bundle.ts) has package.json's version built in;
// run from source (npm run plugin) or from tsc's output (npm run build), it reads package.json, the
// first one above this file.
import { existsSync, readFileSync } from 'node:fs';
import { dirname, join } from 'node:path';
import { fileURLToPath } from 'node:url';

/** Replaced by the bundler with package.json's version; undeclared anywhere else. */
declare const PF_PLUGIN_VERSION: string | undefined;

export function pluginVersion(): string {
  if (typeof PF_PLUGIN_VERSION === 'string') return PF_PLUGIN_VERSION;
  for (let dir = dirname(fileURLToPath(import.meta.url)); ; dir = dirname(dir)) {
    const file = join(dir, 'package.json');
    if (existsSync(file)) return (JSON.parse(readFileSync(file, 'utf8')) as { version: string }).version;
    if (dirname(dir) === dir) return 'unknown';
  }
}
