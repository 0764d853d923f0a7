// Each request's logger (request.log), with a pino child made only for a request that logs.
//
// WHY: fastify binds every request's id through logger.child(), and since it
// always passes an options object, pino's child() takes its slow path: it
// rebuilds the formatters and every level method. Under load that was about 1 %
// of the leader's CPU and about half a KB of garbage per request, for requests
// that mostly log nothing (scripts/bench/results/README.md, "Fewer cuts per
// transaction"). A RequestLogger makes the child only when a line is written at
// a level that is on, and then without options (pino's fast path); a request
// that logs nothing costs one small object.
import type { FastifyBaseLogger } from 'fastify';
import type { Bindings, ChildLoggerOptions, Level, Logger } from 'pino';

class RequestLogger {
  /** The real child, made on the first line written. */
  private own: Logger | null = null;

  constructor(
    private readonly parent: Logger,
    private readonly bindings: Bindings,
  ) {}

  get level(): string {
    return this.own?.level ?? this.parent.level;
  }

  set level(level: string) {
    this.child_().level = level;
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
    return this.child_().child(bindings, options);
  }

  private child_(): Logger {
    this.own ??= this.parent.child(this.bindings);
    return this.own;
  }

  private write(level: Level, args: unknown[]): void {
    // Nothing is made for a line nobody will see.
    if (this.own === null && !this.parent.isLevelEnabled(level)) return;
    const target = this.child_();
    (target[level] as (...a: unknown[]) => void).apply(target, args);
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
