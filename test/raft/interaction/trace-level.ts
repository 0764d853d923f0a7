// How much of the interaction trace a command prints.
import { ScriptError } from './args.js';

/**
 * `debug`: every Ready and every message delivered or lost; `info`: role changes,
 * applied entries, restored snapshots and reads; `none`: nothing but what a print
 * or check command is asked for.
 */
export type TraceLevel = 'debug' | 'info' | 'none';
const TRACE_LEVELS: readonly TraceLevel[] = ['debug', 'info', 'none'];

export function parseTraceLevel(s: string): TraceLevel {
  const level = TRACE_LEVELS.find((l) => l === s);
  if (level === undefined) throw new ScriptError(`log-level ${s}: expected one of ${TRACE_LEVELS.join(', ')}`);
  return level;
}
