// One setting's declaration, the same for the node's settings (src/node/config/fields.ts)
// and the transaction layer's (src/tx/config.ts): where each source names it, how its
// value is parsed, its default and its bounds. The sources (sources.ts) and --help
// (node-options.ts) read nothing else, so a setting cannot be known to one source
// and missing from another.
import { flagKey } from '../config-file.js';
import type { Parser } from './parse.js';

/** Inclusive integer bounds, checked at start-up by a message that names the value and both limits. */
export type Range = readonly [min: number, max: number];

export interface Field<T> {
  /**
   * The flag: `--<flag> value` for a node setting, `--tx <flag>=value` for a
   * transaction setting. The config-file key is the flag in camelCase (fileKey()),
   * at the top level or inside "tx" respectively.
   */
  readonly flag: string;
  /** The environment variable (RATIFY_*, or RATIFY_TX_* for a transaction setting). */
  readonly env: string;
  readonly parse: Parser<T>;
  /** Absent for settings without one: required, or derived from others (listen). */
  readonly default?: T;
  readonly range?: Range;
}

/** A node setting also documents itself, for --help. */
export interface NodeField<T> extends Field<T> {
  readonly description: string;
  /** Shown by --help when there is no plain default value (required settings, derived defaults). */
  readonly defaultHelp?: string;
}

/** The config-file key of a field: its flag in camelCase (`data` for --data, `tlsCert` for --tls-cert). */
export function fileKey(field: Pick<Field<unknown>, 'flag'>): string {
  return flagKey(field.flag);
}

/** The defaults of a table, for the fields that have one, in table order. */
export function defaultsOf(table: Readonly<Record<string, Field<unknown>>>): Record<string, unknown> {
  const out: Record<string, unknown> = {};
  for (const [name, field] of Object.entries(table)) if ('default' in field) out[name] = field.default;
  return out;
}

/** A default as --help shows it. */
export function showDefault(value: unknown): string {
  if (Array.isArray(value)) return value.length === 0 ? 'none' : value.join(',');
  return typeof value === 'string' ? value : JSON.stringify(value);
}
