// Reading the sources of the settings and layering them, highest precedence first:
// CLI flags > environment (RATIFY_*) > JSON config file (--config) > defaults. Every
// name a source uses comes from the field tables (fields.ts, src/tx/config.ts), so
// the flags, the environment and the file agree on what exists.
import { type TxConfig, txFields } from '../../tx/config.js';
import { readConfigFile, TX_FILE_KEY } from '../config-file.js';
import { defaultsOf, type Field, fileKey } from './field.js';
import { configFields, fieldNames, nodeConfigDefaults, nodeFields } from './fields.js';
import { show } from './parse.js';

/** Raw values by field name (plus `tx`), before parsing. */
export type RawConfig = Readonly<Record<string, unknown>>;

export type Env = Readonly<Record<string, string | undefined>>;

export interface ConfigSources {
  /** Values from CLI flags, keyed by field name. */
  readonly flags?: RawConfig;
  readonly env?: Env;
  /** Path of a JSON config file. */
  readonly file?: string;
  /** Tx settings from flags, "key=value". */
  readonly txFlags?: readonly string[];
}

export interface Layered {
  /** Defaults overlaid with the parsed winner of each node field. */
  readonly values: Record<string, unknown>;
  /** The config file's "tx" object as it was read, for layerTxSources. */
  readonly fileTx: unknown;
  /** Every value refused, every unknown name; empty when all was well. */
  readonly errors: string[];
}

/** Reads every source and layers the node fields over the defaults. Parses; does not validate bounds (validate.ts). */
export function layerSources(sources: ConfigSources): Layered {
  const file = sources.file === undefined ? { values: {}, errors: [] } : readConfigFile(sources.file, configFields());
  const errors: string[] = [...file.errors];
  const fileRaw: Record<string, unknown> = file.values;
  const layered: Record<string, unknown> = { ...fileRaw, ...envValues(sources.env ?? {}), ...(sources.flags ?? {}) };
  const values: Record<string, unknown> = { ...nodeConfigDefaults };
  for (const name of fieldNames()) {
    const value = layered[name];
    if (value === undefined) continue;
    try {
      values[name] = nodeFields[name].parse(value, name);
    } catch (e) {
      errors.push((e as Error).message);
    }
  }
  return { values, fileTx: fileRaw[TX_FILE_KEY], errors };
}

/** The node settings set in the environment, by field name. Other RATIFY_* variables are not ours to judge. */
function envValues(env: Env): Record<string, string> {
  const out: Record<string, string> = {};
  for (const name of fieldNames()) {
    const v = env[nodeFields[name].env];
    if (v !== undefined) out[name] = v;
  }
  return out;
}

const TX_ENV_PREFIX = 'RATIFY_TX_';

type TxEntry = readonly [key: keyof TxConfig, field: Field<unknown>];
/** Parses `value` for the setting and keeps it, or records why not. */
type SetTx = (entry: TxEntry, value: unknown) => void;

/**
 * Tx settings: defaults < file "tx" object < env RATIFY_TX_* < flags "--tx key=value".
 * Every value given is parsed, even one a higher source overrides. An unknown key is
 * an error wherever it comes from, RATIFY_TX_* variables included: a misspelled limit
 * that silently falls back to its default is worse than a refusal to start.
 * (Other RATIFY_* variables are left alone: test and deploy tooling uses that prefix too.)
 */
export function layerTxSources(fileTx: unknown, env: Env, txFlags: readonly string[], errors: string[]): TxConfig {
  const out: Record<string, unknown> = defaultsOf(txFields);
  const set: SetTx = ([key, field], value) => {
    try {
      out[key] = field.parse(value, `tx.${key}`);
    } catch (e) {
      errors.push((e as Error).message);
    }
  };
  readTxFile(fileTx, set, errors);
  readTxEnv(env, set, errors);
  readTxFlags(txFlags, set, errors);
  return out as unknown as TxConfig;
}

/** The tx settings by the name one source gives them (file key, env var or flag). */
function txIndex(nameOf: (field: Field<unknown>) => string): Map<string, TxEntry> {
  const entries = Object.entries(txFields) as unknown as readonly TxEntry[];
  return new Map(entries.map((entry) => [nameOf(entry[1]), entry]));
}

function readTxFile(fileTx: unknown, set: SetTx, errors: string[]): void {
  if (fileTx === undefined) return;
  if (typeof fileTx !== 'object' || fileTx === null || Array.isArray(fileTx)) {
    errors.push('config file: tx must be an object');
    return;
  }
  const index = txIndex(fileKey);
  for (const [k, v] of Object.entries(fileTx)) {
    const entry = index.get(k);
    if (entry === undefined) errors.push(`config file: unknown tx setting "${k}" (valid: ${[...index.keys()].join(', ')})`);
    else set(entry, v);
  }
}

function readTxEnv(env: Env, set: SetTx, errors: string[]): void {
  const index = txIndex((f) => f.env);
  for (const [name, v] of Object.entries(env)) {
    if (v === undefined || !name.startsWith(TX_ENV_PREFIX)) continue;
    const entry = index.get(name);
    if (entry === undefined) errors.push(`environment: unknown tx setting ${name} (valid: ${[...index.keys()].join(', ')})`);
    else set(entry, v);
  }
}

function readTxFlags(txFlags: readonly string[], set: SetTx, errors: string[]): void {
  const index = txIndex((f) => f.flag);
  for (const kv of txFlags) {
    const eq = kv.indexOf('=');
    if (eq <= 0) {
      errors.push(`--tx (${show(kv)}) must look like key=value`);
      continue;
    }
    const entry = index.get(kv.slice(0, eq));
    if (entry === undefined) errors.push(`--tx: unknown tx setting "${kv.slice(0, eq)}" (valid: ${[...index.keys()].join(', ')})`);
    else set(entry, kv.slice(eq + 1));
  }
}
