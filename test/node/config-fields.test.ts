// The field tables (src/node/config/fields.ts, txFields in src/tx/config.ts) are the one
// declaration of every setting: these tests catch a setting that one source cannot
// reach, a name that changed or collides, and a declared range that is not checked.
import { mkdtempSync, rmSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { afterAll, describe, expect, it } from 'vitest';
import { configFields, nodeConfigErrors, resolveNodeConfig, snakeUpper, txConfigFields, type NodeConfig } from '../../src/node/config.js';
import { type Field, fileKey } from '../../src/node/config/field.js';
import { nodeFields } from '../../src/node/config/fields.js';
import { type TxConfig, txConfigDefaults, txFields, validateTxConfig } from '../../src/tx/config.js';

const base = { id: 'n1', peers: 'n1=http://127.0.0.1:7001', dataDir: '/tmp/ratify-n1' };
const tmp = mkdtempSync(join(tmpdir(), 'ratify-config-fields-'));
afterAll(() => rmSync(tmp, { recursive: true, force: true }));

const txEntries = Object.entries(txFields) as [keyof TxConfig, Field<unknown>][];
const nodeEntries = Object.entries(nodeFields) as [keyof NodeConfig, Field<unknown>][];

function writeJson(name: string, value: unknown): string {
  const path = join(tmp, name);
  writeFileSync(path, JSON.stringify(value));
  return path;
}

function expectUnique(names: readonly string[]): void {
  expect(names.filter((n, i) => names.indexOf(n) !== i)).toEqual([]);
}

/** The n-th valid value other than the default (n = 1, 2, 3 differ from each other). */
function otherValue(key: keyof TxConfig, field: Field<unknown>, n: number): unknown {
  if (Array.isArray(field.default)) return [`h${n}.example`];
  const d = field.default as number;
  const [min, max] = field.range!;
  const v = d - n >= min ? d - n : d + n;
  expect(v, key).toBeLessThanOrEqual(max);
  return v;
}

/** The values as each source spells them: a string for flags and env, JSON for the file. */
function txValues(n: number): { config: TxConfig; strings: Record<string, string> } {
  const config: Record<string, unknown> = {};
  const strings: Record<string, string> = {};
  for (const [key, field] of txEntries) {
    const v = otherValue(key, field, n);
    config[key] = v;
    strings[key] = Array.isArray(v) ? v.join(',') : String(v);
  }
  return { config: config as unknown as TxConfig, strings };
}

describe('the transaction settings table', () => {
  it('declares every setting under the names users already know: --tx key=, RATIFY_TX_<KEY>, "tx": {"key": ...}', () => {
    // One declaration per TxConfig key is the table's type (TxFieldTable): a key
    // without one, or a number without a range, does not compile.
    expect(Object.keys(txFields)).toEqual(Object.keys(txConfigDefaults));
    for (const [key, field] of txEntries) {
      expect(field.flag, key).toBe(key);
      expect(field.env, key).toBe(`RATIFY_TX_${snakeUpper(key)}`);
      expect(fileKey(field), key).toBe(key);
    }
    expect(txFields.maxParticipants.env).toBe('RATIFY_TX_MAX_PARTICIPANTS');
    expect(txFields.phase2BackoffCapMs.env).toBe('RATIFY_TX_PHASE2_BACKOFF_CAP_MS');
    expectUnique(txEntries.map(([, f]) => f.env));
    expect(txConfigFields().map((f) => [f.key, f.env])).toEqual(txEntries.map(([key, f]) => [key, f.env]));
  });

  it('gives every number a range that holds its default', () => {
    for (const [key, field] of txEntries) {
      if (typeof field.default !== 'number') continue;
      expect(field.range, key).toBeDefined();
      const [min, max] = field.range!;
      expect(field.default, key).toBeGreaterThanOrEqual(min);
      expect(field.default, key).toBeLessThanOrEqual(max);
    }
    expect(() => validateTxConfig(txConfigDefaults)).not.toThrow();
  });

  it('is set, every field of it, by its flag, by its env var and by its file key, in that precedence', () => {
    const [one, two, three] = [txValues(1), txValues(2), txValues(3)];
    const file = writeJson('tx.json', { tx: one.config });
    const env = Object.fromEntries(txEntries.map(([key, f]) => [f.env, two.strings[key]!]));
    const txFlags = txEntries.map(([key, f]) => `${f.flag}=${three.strings[key]}`);
    expect(resolveNodeConfig({ flags: base, file }).tx).toEqual(one.config);
    expect(resolveNodeConfig({ flags: base, env }).tx).toEqual(two.config);
    expect(resolveNodeConfig({ flags: base, txFlags }).tx).toEqual(three.config);
    expect(resolveNodeConfig({ flags: base, file, env }).tx).toEqual(two.config);
    expect(resolveNodeConfig({ flags: base, file, env, txFlags }).tx).toEqual(three.config);
  });

  it('checks the range it declares, naming the value and both limits', () => {
    for (const [key, field] of txEntries) {
      if (field.range === undefined) continue;
      const [min, max] = field.range;
      for (const bad of [min - 1, max + 1]) {
        expect(() => validateTxConfig({ ...txConfigDefaults, [key]: bad }), `${key}=${bad}`).toThrow(
          `${key} (${bad}) must be an integer between ${min} and ${max}`,
        );
      }
    }
  });
});

describe('the node settings table', () => {
  it('gives each setting its own flag, env var and file key, none of them taken by the tx settings', () => {
    const fields = configFields();
    expectUnique(fields.map((f) => f.flag));
    expectUnique(fields.map((f) => f.env));
    expectUnique(fields.flatMap((f) => (f.fileKey === f.name ? [f.fileKey] : [f.fileKey, f.name])));
    for (const f of fields) {
      expect(f.env, f.name).toMatch(/^RATIFY_[A-Z0-9_]+$/);
      // The tx reader owns RATIFY_TX_*: a node setting there would be refused as an unknown tx setting.
      expect(f.env, f.name).not.toMatch(/^RATIFY_TX_/);
      expect(['tx', 'config'], f.name).not.toContain(f.flag);
      expect(f.fileKey, f.name).not.toBe('tx');
    }
  });

  it('gives every number with a default a range that holds it', () => {
    for (const [name, field] of nodeEntries) {
      if (typeof field.default !== 'number') continue;
      expect(field.range, name).toBeDefined();
      const [min, max] = field.range!;
      expect(field.default, name).toBeGreaterThanOrEqual(min);
      expect(field.default, name).toBeLessThanOrEqual(max);
    }
  });

  it('checks the range it declares, naming the value and both limits', () => {
    const valid = resolveNodeConfig({ flags: base });
    for (const [name, field] of nodeEntries) {
      if (field.range === undefined) continue;
      const [min, max] = field.range;
      for (const bad of [min - 1, max + 1]) {
        expect(nodeConfigErrors({ ...valid, [name]: bad }), `${name}=${bad}`).toContain(
          `${name} (${bad}) must be between ${min} and ${max}`,
        );
      }
    }
  });

  it('is set by its flag, its env var and its file key (every number and switch)', () => {
    // Settings that are valid only with others set too.
    const needs: Readonly<Record<string, Record<string, string>>> = {
      tlsMutual: { tlsCert: 'c.pem', tlsKey: 'k.pem', tlsCa: 'ca.pem', peers: 'n1=https://127.0.0.1:7001' },
    };
    let checked = 0;
    for (const [name, field] of nodeEntries) {
      // One above the default (below, at the top of the range) keeps the relations to the other defaults.
      const value =
        typeof field.default === 'boolean'
          ? !field.default
          : typeof field.default === 'number'
            ? field.default + 1 <= field.range![1]
              ? field.default + 1
              : field.default - 1
            : undefined;
      if (value === undefined) continue;
      const raw = String(value);
      const flags = { ...base, ...needs[name] };
      const file = writeJson(`node-${name}.json`, { [fileKey(field)]: raw });
      expect(resolveNodeConfig({ flags: { ...flags, [name]: raw } })[name], `${name} by --${field.flag}`).toBe(value);
      expect(resolveNodeConfig({ flags, env: { [field.env]: raw } })[name], `${name} by ${field.env}`).toBe(value);
      expect(resolveNodeConfig({ flags, file })[name], `${name} by "${fileKey(field)}"`).toBe(value);
      checked++;
    }
    expect(checked).toBeGreaterThan(25);
  });
});
