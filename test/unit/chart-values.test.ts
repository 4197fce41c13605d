// The chart offers every setting the README's tables document, as a value or a commented example.
import assert from 'node:assert/strict';
import { readFileSync } from 'node:fs';
import { describe, it } from 'node:test';

const readme = readFileSync('README.md', 'utf8');
const values = readFileSync('charts/portforward-operator/values.yaml', 'utf8');

/** The variable names in the table that follows `heading` in the README. */
function tableAfter(heading: string): string[] {
  const start = readme.indexOf(heading);
  assert.ok(start >= 0, `the README has "${heading}"`);
  const table = readme.slice(start).split('\n').slice(1).join('\n').trimStart().split('\n\n')[0]!;
  return [...table.matchAll(/^\| `([A-Z_]+)` \|/gm)].map((m) => m[1]!);
}

/** The settings block of one top-level key in values.yaml (its text: keys and commented keys). */
function settingsOf(section: string): string {
  const start = values.indexOf(`\n${section}:\n`);
  assert.ok(start >= 0, `values.yaml has ${section}`);
  const end = values.slice(start + 1).search(/\n[a-z]/);
  return values.slice(start, end < 0 ? undefined : start + 1 + end);
}

// Set by the chart from namespaces and images, or fixed by the admission policy's Secret name.
const DERIVED = new Set(['OPERATOR_NAMESPACE', 'HELPER_NAMESPACE', 'HELPER_IMAGE', 'GATEWAY_CERT_SECRET']);

describe('the chart\'s values', () => {
  for (const [section, heading] of [
    ['operator', 'Operator settings are environment variables on its Deployment:'],
    ['gateway', "The gateway's settings, on its Deployment:"],
  ] as const) {
    it(`offer every ${section} setting of the README's table in ${section}.settings`, () => {
      const names = tableAfter(heading).filter((n) => !DERIVED.has(n));
      assert.ok(names.length >= 3, `found the table: ${names.join(', ')}`);
      const block = settingsOf(section);
      const missing = names.filter((n) => !new RegExp(`^\\s+(# )?${n}:`, 'm').test(block));
      assert.deepEqual(missing, [], `values.yaml ${section}.settings lacks them (add them, commented out, with their default)`);
    });
  }
});
