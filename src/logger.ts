// Structured JSON-lines logging (pino) for a node process.
//
// Every line carries the node id (a base binding) and the current Raft term. The
// term is read through a mixin at write time, because the logger is created before
// the Raft node exists and the term keeps changing afterwards.
import { destination, pino, stdTimeFunctions, type DestinationStream, type LevelWithSilent, type Logger } from 'pino';
import { formatLogLine, type PrettyOptions } from './log-format.js';

export type { Logger } from 'pino';

export const LOG_LEVELS = ['fatal', 'error', 'warn', 'info', 'debug', 'trace', 'silent'] as const satisfies readonly LevelWithSilent[];
export type LogLevel = (typeof LOG_LEVELS)[number];

export interface LoggerOptions {
  readonly level: LogLevel;
  readonly nodeId: string;
  /** Read on every log line; undefined until the Raft node is running. */
  readonly term?: () => number | undefined;
  /** Defaults to stdout. Tests pass a stream to capture lines. */
  readonly destination?: DestinationStream;
  /** Readable lines instead of JSON (a terminal, see log-format.ts); absent: JSON. */
  readonly pretty?: PrettyOptions;
}

export function createLogger(opts: LoggerOptions): Logger {
  const termOf = opts.term;
  return pino(
    {
      level: opts.level,
      base: { nodeId: opts.nodeId },
      timestamp: stdTimeFunctions.isoTime,
      mixin: () => {
        const term = termOf?.();
        return term === undefined ? {} : { term };
      },
    },
    opts.destination ?? stdoutDestination(opts.pretty),
  );
}

// pino's default destination is a sync stdout sonic-boom; keep that so a fatal
// line is on the terminal before the process exits. Pretty lines go through it too.
function stdoutDestination(pretty: PrettyOptions | undefined): DestinationStream {
  const stdout = destination({ dest: 1, sync: true });
  if (pretty === undefined) return stdout;
  return { write: (line: string) => void stdout.write(formatLogLine(line, pretty)) };
}

/** A logger that drops everything (unit tests). */
export function silentLogger(): Logger {
  return pino({ level: 'silent' });
}
