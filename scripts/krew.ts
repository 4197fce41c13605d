// npm run krew [-- --release-url URL]: the release archive for krew (dist/krew/kubectl-pf-vX.tar.gz:
// the bundle, kubectl_complete-pf, a package.json saying type: module, LICENSE and README.md) and
// its manifest (dist/krew/pf.yaml) with the archive's sha256 and package.json's version. URL is
// where the archive will be downloaded from; without it the manifest names the local file, for
// `kubectl krew install --manifest=dist/krew/pf.yaml --archive=dist/krew/kubectl-pf-vX.tar.gz`.
import { createHash } from 'node:crypto';
import { mkdirSync, readFileSync, writeFileSync } from 'node:fs';
import { join } from 'node:path';
import { pathToFileURL } from 'node:url';
import { parseArgs } from 'node:util';
import { bundlePlugin, ROOT } from './bundle.js';
import { archiveName, KREW_NAME, renderKrewManifest } from './lib/krew-manifest.js';
import { tarGz, type TarEntry } from './lib/tar.js';

export interface KrewRelease {
  archive: string;
  manifest: string;
  sha256: string;
}

export async function buildKrewRelease(outDir: string, releaseUrl?: string): Promise<KrewRelease> {
  const { version } = JSON.parse(readFileSync(join(ROOT, 'package.json'), 'utf8')) as { version: string };
  mkdirSync(outDir, { recursive: true });
  const bundle = join(outDir, 'kubectl-pf');
  await bundlePlugin(bundle);
  const file = (name: string, path: string, mode = 0o644): TarEntry => ({ name, mode, data: readFileSync(path) });
  const archiveBytes = tarGz([
    file('kubectl-pf', bundle, 0o755),
    file('kubectl_complete-pf', join(ROOT, 'bin/kubectl_complete-pf'), 0o755),
    // outside any package Node could load the extensionless ES module as CommonJS
    { name: 'package.json', mode: 0o644, data: Buffer.from('{ "type": "module" }\n') },
    file('LICENSE', join(ROOT, 'LICENSE')),
    file('README.md', join(ROOT, 'README.md')),
  ]);
  const archive = join(outDir, archiveName(version));
  writeFileSync(archive, archiveBytes);
  const sha256 = createHash('sha256').update(archiveBytes).digest('hex');
  const uri = releaseUrl ? `${releaseUrl.replace(/\/+$/, '')}/${archiveName(version)}` : pathToFileURL(archive).href;
  const manifest = join(outDir, `${KREW_NAME}.yaml`);
  writeFileSync(manifest, renderKrewManifest({ version, uri, sha256 }));
  return { archive, manifest, sha256 };
}

if (process.argv[1] && import.meta.url === pathToFileURL(process.argv[1]).href) {
  const { values } = parseArgs({ options: { 'release-url': { type: 'string' } } });
  buildKrewRelease(join(ROOT, 'dist/krew'), values['release-url']).then(
    (r) => process.stdout.write(`wrote ${r.archive} (sha256 ${r.sha256})\nwrote ${r.manifest}\n`),
    (err: unknown) => {
      process.stderr.write(`krew release failed: ${err instanceof Error ? err.message : String(err)}\n`);
      process.exit(1);
    },
  );
}
