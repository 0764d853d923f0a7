// The JSON config file (--config): read it and map its keys onto config fields.
//
// A key is a flag's name in camelCase (`data` for --data, `clusterSecretFile`,
// `tlsCert`), which is what the README's table shows, or the field's own name where
// that differs (`dataDir`, accepted since the file was first read, and kept so that
// existing files keep working). Giving one setting under both names is an error,
// as is a key that is neither: a misspelled limit that silently falls back to its
// default is worse than a refusal to start. `tx` holds the transaction-layer
// settings, as for --tx. Relative paths in the file are relative to the working
// directory, like those of the flags. cluster/ratify.example.json is an example.
import { readFileSync } from 'node:fs';
import { RatifyError } from '../errors.js';

export interface FileField {
  /** The config field's name (`dataDir`). */
  readonly name: string;
  /** Its flag without dashes (`data`, `cluster-secret-file`). */
  readonly flag: string;
}

export interface ConfigFile {
  /** Values keyed by field name, plus `tx`. */
  readonly values: Record<string, unknown>;
  /** Unknown keys and settings given twice. */
  readonly errors: string[];
}

export const TX_FILE_KEY = 'tx';

export function flagKey(flag: string): string {
  return flag.replace(/-([a-z0-9])/g, (_, c: string) => c.toUpperCase());
}

/** Throws CONFIG_INVALID when the file cannot be read or is not a JSON object; other problems come back in `errors`. */
export function readConfigFile(path: string, fields: readonly FileField[]): ConfigFile {
  return mapFileKeys(readJsonObject(path), fields);
}

export function mapFileKeys(raw: Readonly<Record<string, unknown>>, fields: readonly FileField[]): ConfigFile {
  const fieldOfKey = new Map<string, string>();
  for (const f of fields) {
    fieldOfKey.set(f.name, f.name);
    fieldOfKey.set(flagKey(f.flag), f.name);
  }
  const values: Record<string, unknown> = {};
  const keyOfField = new Map<string, string>();
  const errors: string[] = [];
  for (const [key, value] of Object.entries(raw)) {
    if (key === TX_FILE_KEY) {
      values[TX_FILE_KEY] = value;
      continue;
    }
    const name = fieldOfKey.get(key);
    if (name === undefined) {
      errors.push(`config file: unknown setting "${key}" (valid: ${[...fields.map((f) => flagKey(f.flag)), TX_FILE_KEY].join(', ')})`);
      continue;
    }
    const earlier = keyOfField.get(name);
    if (earlier !== undefined) {
      errors.push(`config file: "${earlier}" and "${key}" are the same setting (--${fields.find((f) => f.name === name)?.flag}); give one`);
      continue;
    }
    keyOfField.set(name, key);
    values[name] = value;
  }
  return { values, errors };
}

function readJsonObject(path: string): Record<string, unknown> {
  let text: string;
  try {
    text = readFileSync(path, 'utf8');
  } catch (e) {
    throw new RatifyError('CONFIG_INVALID', `config file ${path} cannot be read: ${(e as Error).message}`, { cause: e });
  }
  let value: unknown;
  try {
    value = JSON.parse(text);
  } catch (e) {
    throw new RatifyError('CONFIG_INVALID', `config file ${path} is not valid JSON: ${(e as Error).message}`, { cause: e });
  }
  if (typeof value !== 'object' || value === null || Array.isArray(value)) {
    throw new RatifyError('CONFIG_INVALID', `config file ${path} must hold a JSON object`);
  }
  return value as Record<string, unknown>;
}
