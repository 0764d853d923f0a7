// One small HTTP call over an undici dispatcher, without undici's request() API:
// the coordinator's participant calls and the benchmark's load generator.
//
// Why: the coordinator makes 2 calls per participant per transaction, and on the
// benchmark machine undici's request() (a Readable body stream, an AbortSignal
// and a listener per call) cost about 130 us of CPU per call against about 60 us
// for dispatch() with a plain handler (client and a node:http server together,
// 64 concurrent calls). The handler gathers the answer into a bounded buffer.
//
// Cancellation without a listener per call: every call registers its abort with
// util/abort-registry.ts (one listener per signal); a timer bounds the whole
// call, connection included.
import type { Dispatcher } from 'undici';
import { abortReason, onAbort, type Abort, type CancelSignal } from './util/abort-registry.js';

export interface CallOptions {
  readonly origin: string;
  readonly method: 'GET' | 'POST' | 'PUT';
  readonly path: string;
  readonly headers: Record<string, string>;
  readonly body: string | null;
  readonly timeoutMs: number;
  /** Aborts every call registered under it at once (the leader's term). */
  readonly signal?: CancelSignal;
  /** A larger answer fails the call. */
  readonly answerBytesMax: number;
}

export interface CallAnswer {
  readonly status: number;
  readonly text: string;
}

export function httpCall(dispatcher: Dispatcher, opts: CallOptions): Promise<CallAnswer> {
  if (opts.signal?.aborted === true) return Promise.reject(abortReason(opts.signal));
  return new Promise<CallAnswer>((resolve, reject) => {
    const chunks: Buffer[] = [];
    let bytes = 0;
    let status = 0;
    let settled = false;
    /** undici's abort for this request, once it has handed it over; before that, remember the reason. */
    let abortRequest: ((err: Error) => void) | null = null;
    let pendingAbort: Error | null = null;
    const abort: Abort = (reason) => {
      if (abortRequest !== null) abortRequest(reason);
      else pendingAbort = reason;
    };
    const unregister = opts.signal === undefined ? null : onAbort(opts.signal, abort);
    const timer = setTimeout(
      () => abort(new DOMException(`the call timed out after ${opts.timeoutMs} ms`, 'TimeoutError')),
      opts.timeoutMs,
    );
    const finish = (err: Error | null): void => {
      if (settled) return;
      settled = true;
      clearTimeout(timer);
      unregister?.();
      if (err !== null) reject(err);
      else resolve({ status, text: Buffer.concat(chunks, bytes).toString('utf8') });
    };
    const handler: Dispatcher.DispatchHandler = {
      onConnect(undiciAbort: (err?: Error) => void) {
        abortRequest = undiciAbort;
        if (pendingAbort !== null) undiciAbort(pendingAbort);
      },
      onHeaders(statusCode: number) {
        status = statusCode;
        return true;
      },
      onData(chunk: Buffer) {
        bytes += chunk.length;
        if (bytes > opts.answerBytesMax) {
          abort(new Error(`answer larger than ${opts.answerBytesMax} bytes`));
          return false;
        }
        chunks.push(chunk);
        return true;
      },
      onComplete() {
        finish(null);
      },
      onError(err: Error) {
        finish(err);
      },
    };
    try {
      dispatcher.dispatch({ origin: opts.origin, path: opts.path, method: opts.method, headers: opts.headers, body: opts.body }, handler);
    } catch (err) {
      finish(err instanceof Error ? err : new Error(String(err)));
    }
  });
}
