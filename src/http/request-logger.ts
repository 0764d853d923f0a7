// Each request's logger (request.log) without a pino child logger per request.
//
// WHY: fastify binds every request's id through logger.child(), and since it
// always passes an options object, pino's child() takes its slow path: it
// rebuilds the formatters and every level method. Under load that was about 1 %
// of the leader's CPU and close to 1 KB of garbage per request, for requests
// that mostly log nothing (scripts/bench/results/README.md, "Fewer cuts per
// transaction"). A RequestLogger writes through the node's logger with the
// request's bindings as fields, and does nothing at all for a level that is off.
//
// A line carries the same fields as the child's would; only their order in the
// JSON differs (the bindings come after the term instead of before it).
import type { FastifyBaseLogger } from 'fastify';
import type { Bindings, ChildLoggerOptions, Level, Logger } from 'pino';

class RequestLogger {
  /** Set only if someone changes this request's level: from then on a real child does the work. */
  private own: Logger | null = null;

  constructor(
    private readonly parent: Logger,
    private readonly bindings: Bindings,
  ) {}

  get level(): string {
    return this.own?.level ?? this.parent.level;
  }

  set level(level: string) {
    this.own ??= this.parent.child(this.bindings);
    this.own.level = level;
  }

  fatal(...args: unknown[]): void {
    this.write('fatal', args);
  }
  error(...args: unknown[]): void {
    this.write('error', args);
  }
  warn(...args: unknown[]): void {
    this.write('warn', args);
  }
  info(...args: unknown[]): void {
    this.write('info', args);
  }
  debug(...args: unknown[]): void {
    this.write('debug', args);
  }
  trace(...args: unknown[]): void {
    this.write('trace', args);
  }
  silent(): void {}

  child(bindings: Bindings, options?: ChildLoggerOptions): FastifyBaseLogger {
    return (this.own ?? this.parent).child({ ...this.bindings, ...bindings }, options);
  }

  private write(level: Level, args: unknown[]): void {
    const target = this.own;
    if (target !== null) {
      (target[level] as (...a: unknown[]) => void)(...args);
      return;
    }
    const parent = this.parent;
    if (!parent.isLevelEnabled(level)) return;
    const log = parent[level] as (...a: unknown[]) => void;
    const [first, ...rest] = args;
    // pino's own forms: (obj, msg?, ...), (error, msg?, ...), (msg, ...format args).
    if (first instanceof Error) log.call(parent, { ...this.bindings, err: first }, ...rest);
    else if (typeof first === 'object' && first !== null) log.call(parent, { ...this.bindings, ...first }, ...rest);
    else log.call(parent, { ...this.bindings }, ...args);
  }
}

/**
 * fastify's childLoggerFactory: a RequestLogger, unless the route asks for its own
 * level or serializers (none of ours does), which only a real child can honour.
 */
export function requestLoggerFactory(logger: FastifyBaseLogger, bindings: Bindings, options: ChildLoggerOptions): FastifyBaseLogger {
  if (options.level !== undefined || options.serializers !== undefined) return logger.child(bindings, options);
  return new RequestLogger(logger as unknown as Logger, bindings) as unknown as FastifyBaseLogger;
}
