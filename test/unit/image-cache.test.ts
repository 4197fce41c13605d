// The image builder (scripts/cluster/images.sh) on images of its own making: a build that fails
// leaves nothing cached, and only a complete archive is ever reused.
import { test, describe, after } from 'node:test';
import assert from 'node:assert/strict';
import { spawnSync } from 'node:child_process';
import { mkdtempSync, mkdirSync, writeFileSync, readdirSync, rmSync, truncateSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join, resolve } from 'node:path';

const IMAGES_SH = resolve(import.meta.dirname, '../../scripts/cluster/images.sh');
const tmp = mkdtempSync(join(tmpdir(), 'pf-images-test-'));
after(() => rmSync(tmp, { recursive: true, force: true }));

const imagesDir = join(tmp, 'images');
const cache = join(tmp, 'cache');

/** An image with no distribution whose prepare.sh runs `body`. */
function image(name: string, body: string): void {
  mkdirSync(join(imagesDir, name), { recursive: true });
  writeFileSync(join(imagesDir, name, 'image.env'), `SUITE=none\nENTRYPOINT='["/hello"]'\n`);
  writeFileSync(join(imagesDir, name, 'prepare.sh'), `set -e\n${body}\n`);
}

function build(name: string) {
  const r = spawnSync('bash', [IMAGES_SH, 'build', name], {
    encoding: 'utf8',
    env: { ...process.env, PF_IMAGES_DIR: imagesDir, PF_CACHE: cache },
  });
  return { code: r.status, log: `${r.stdout}${r.stderr}` };
}

const cached = () => readdirSync(join(cache, 'images'));

describe('image builds', () => {
  test('a build whose prepare step fails exits non-zero and leaves nothing cached', () => {
    image('broken', 'echo "hello" > "$1/hello"\necho "tsc: not found" >&2\nexit 3');
    const r = build('broken');
    assert.notEqual(r.code, 0, r.log);
    assert.match(r.log, /prepare\.sh failed \(exit 3\): nothing is cached/);
    assert.deepEqual(cached(), [], 'no archive and no work folder are left');
    // and it fails the same way again: nothing half-built is picked up the second time
    assert.notEqual(build('broken').code, 0);
    assert.deepEqual(cached(), []);
  });

  test('a complete build is cached, reused, and rebuilt when its archive is incomplete', () => {
    image('good', 'echo "hello" > "$1/hello"');
    const first = build('good');
    assert.equal(first.code, 0, first.log);
    const archives = cached().filter((f) => f.startsWith('good-') && f.endsWith('.tar'));
    assert.equal(archives.length, 1, `one archive: ${cached().join(' ')}`);
    const again = build('good');
    assert.equal(again.code, 0, again.log);
    assert.match(again.log, /image good: cached/);

    truncateSync(join(cache, 'images', archives[0]!), 512); // as a build cut off mid-write would leave it
    const rebuilt = build('good');
    assert.equal(rebuilt.code, 0, rebuilt.log);
    assert.doesNotMatch(rebuilt.log, /image good: cached/);
    assert.match(rebuilt.log, /image good: build root filesystem: done/);
  });
});
