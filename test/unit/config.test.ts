// Operator settings from the environment: the helper's data path.
import { test } from 'node:test';
import assert from 'node:assert/strict';
import { loadConfig } from '../../src/config.js';

test('HELPER_DATA_PATH: splice by default; splice and exec accepted; anything else rejected', () => {
  assert.equal(loadConfig({}).helperDataPath, 'splice');
  for (const path of ['splice', 'exec'] as const) {
    assert.equal(loadConfig({ HELPER_DATA_PATH: path }).helperDataPath, path);
  }
  assert.throws(() => loadConfig({ HELPER_DATA_PATH: 'socat' }), /HELPER_DATA_PATH/);
  assert.throws(() => loadConfig({ HELPER_DATA_PATH: 'netns' }), /HELPER_DATA_PATH/, 'the experimental socat paths are gone');
});

test('CONNECTIONS_POLL: 30s by default, a duration, 0 or 0s for off; anything else rejected', () => {
  assert.equal(loadConfig({}).connectionsPollMs, 30_000);
  assert.equal(loadConfig({ CONNECTIONS_POLL: '2m' }).connectionsPollMs, 120_000);
  assert.equal(loadConfig({ CONNECTIONS_POLL: '0' }).connectionsPollMs, 0);
  assert.equal(loadConfig({ CONNECTIONS_POLL: '0s' }).connectionsPollMs, 0);
  assert.throws(() => loadConfig({ CONNECTIONS_POLL: '30' }), /CONNECTIONS_POLL/);
});
