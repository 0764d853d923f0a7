// Failure reporting shared by the two outbound paths to a peer (stream and
// per-request channel). Loss is routine for Raft, and a dead peer fails every
// send, so lines are throttled per peer: at most one per interval, with the
// number suppressed since the last one.

export interface TransportLogger {
  debug(obj: object, msg: string): void;
  warn(obj: object, msg: string): void;
}

/** At most one failure line per peer per interval; the rest are counted into the next line. */
const LOG_INTERVAL_MS = 5000;
const ERROR_BODY_BYTES_MAX = 1024;

export class ThrottledPeerLog {
  private lastLogMs = Number.NEGATIVE_INFINITY;
  private suppressed = 0;

  constructor(private readonly logger: TransportLogger | undefined) {}

  /** Logs at `level` unless a line went out within the interval. */
  report(level: 'debug' | 'warn', line: object, msg: string): void {
    if (this.logger === undefined) return;
    const nowMs = Date.now();
    if (nowMs - this.lastLogMs < LOG_INTERVAL_MS) {
      this.suppressed++;
      return;
    }
    this.logger[level]({ ...line, suppressed: this.suppressed }, msg);
    this.lastLogMs = nowMs;
    this.suppressed = 0;
  }
}

/** The start of an error reply, for the log; leaving the loop early destroys the rest of the body. */
export async function readCapped(body: AsyncIterable<Uint8Array>): Promise<string> {
  const chunks: Buffer[] = [];
  let bytes = 0;
  for await (const chunk of body) {
    chunks.push(Buffer.from(chunk));
    bytes += chunk.byteLength;
    if (bytes >= ERROR_BODY_BYTES_MAX) break;
  }
  return Buffer.concat(chunks).subarray(0, ERROR_BODY_BYTES_MAX).toString('utf8');
}

export function describeError(err: unknown): string {
  if (err instanceof Error) {
    const code = (err as { code?: unknown }).code;
    return typeof code === 'string' ? `${code}: ${err.message}` : `${err.name}: ${err.message}`;
  }
  return String(err);
}
