// ttl durations and when a PortForward expires.
import assert from 'node:assert/strict';
import { describe, it } from 'node:test';
import { parseDuration } from '../../src/api/duration.js';
import { expiresAtMs } from '../../src/controller/expiry.js';

describe('a ttl', () => {
  it('is read in whole units of seconds, minutes, hours and days', () => {
    assert.equal(parseDuration('90s'), 90);
    assert.equal(parseDuration('15m'), 900);
    assert.equal(parseDuration('2h'), 7200);
    assert.equal(parseDuration('1h30m'), 5400);
    assert.equal(parseDuration('7d'), 604800);
  });

  it('is nothing else', () => {
    for (const text of ['', '1', '1.5h', '1w', 'h', '-1h', '1h 30m', '1H']) assert.equal(parseDuration(text), null, text);
  });
});

describe('expiry', () => {
  const created = Date.parse('2030-01-01T00:00:00Z');

  it('is creation plus ttl', () => {
    assert.equal(expiresAtMs(created, '2h', undefined), created + 7200_000);
  });

  it('is capped by the operator\'s maximum', () => {
    assert.equal(expiresAtMs(created, '7d', 3600), created + 3600_000);
    assert.equal(expiresAtMs(created, '10m', 3600), created + 600_000);
  });

  it('applies the maximum to PortForwards without a ttl', () => {
    assert.equal(expiresAtMs(created, undefined, 60), created + 60_000);
  });

  it('never comes without a ttl or a maximum', () => {
    assert.equal(expiresAtMs(created, undefined, undefined), undefined);
  });
});
