import { Writable } from 'node:stream';
import { pino } from 'pino';
import { describe, expect, it } from 'vitest';
import { requestLoggerFactory } from '../../src/http/request-logger.js';

/** A node-like logger (base bindings, a mixin) whose lines land in `lines`, parsed. */
function capture(level: string) {
  const lines: Record<string, unknown>[] = [];
  const dest = new Writable({
    write(chunk: Buffer, _enc, done) {
      for (const l of chunk.toString('utf8').split('\n')) if (l !== '') lines.push(JSON.parse(l) as Record<string, unknown>);
      done();
    },
  });
  const logger = pino({ level, base: { nodeId: 'n1' }, mixin: () => ({ term: 4 }) }, dest);
  return { logger, lines };
}

/** What each line says, without the time. */
const content = (lines: Record<string, unknown>[]) => lines.map(({ time: _time, ...rest }) => rest);

describe('requestLoggerFactory', () => {
  it('writes the same fields as a pino child with the request bindings, for every form pino takes', () => {
    const a = capture('debug');
    const b = capture('debug');
    const child = a.logger.child({ reqId: 'req-7' }, {});
    const mine = requestLoggerFactory(b.logger, { reqId: 'req-7' }, {});
    const err = new Error('disk full');
    for (const log of [child, mine]) {
      log.info({ audit: 'tx.create', status: 201 }, 'audit');
      log.warn({ err, leaderUrl: 'http://x' }, 'forwarding to the leader failed');
      log.error(err);
      log.error(err, 'with a message');
      log.info('plain %s and %d', 'text', 3);
      log.debug({ code: 'TX_NOT_FOUND' }, 'not found');
      log.trace('off: below the level');
    }
    expect(content(b.lines)).toEqual(content(a.lines));
    expect(b.lines).toHaveLength(6);
    expect(b.lines[0]).toMatchObject({ level: 30, nodeId: 'n1', term: 4, reqId: 'req-7', audit: 'tx.create', msg: 'audit' });
    expect(b.lines[2]).toMatchObject({ level: 50, reqId: 'req-7', msg: 'disk full', err: { message: 'disk full' } });
  });

  it('builds nothing for a level that is off, and follows a level set on the request', () => {
    const b = capture('info');
    const mine = requestLoggerFactory(b.logger, { reqId: 'r1' }, {});
    let built = false;
    const costly = {
      get detail() {
        built = true;
        return 1;
      },
    };
    mine.debug(costly, 'skipped');
    expect(built).toBe(false);
    expect(mine.level).toBe('info');
    mine.level = 'debug';
    mine.debug({ x: 1 }, 'now on');
    expect(b.lines).toEqual([expect.objectContaining({ level: 20, reqId: 'r1', x: 1, msg: 'now on' })]);
    expect(b.logger.level).toBe('info'); // the node's own logger is untouched
  });

  it("makes children that keep the request's bindings, and a real child when the route asks for its own level", () => {
    const b = capture('info');
    const mine = requestLoggerFactory(b.logger, { reqId: 'r2' }, {});
    mine.child({ part: 'forward' }).info('from a child');
    expect(b.lines[0]).toMatchObject({ reqId: 'r2', part: 'forward', msg: 'from a child' });
    const quiet = requestLoggerFactory(b.logger, { reqId: 'r3' }, { level: 'error' });
    quiet.info('dropped by the route level');
    expect(b.lines).toHaveLength(1);
  });
});
