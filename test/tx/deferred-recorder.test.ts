import { afterEach, beforeEach, describe, expect, it, vi } from 'vitest';
import { DeferredRecorder } from '../../src/tx/deferred-recorder.js';

describe('DeferredRecorder', () => {
  beforeEach(() => vi.useFakeTimers());
  afterEach(() => vi.useRealTimers());

  it('keeps items for the closing entry while the phase is fast', () => {
    const recorded: string[] = [];
    const r = new DeferredRecorder<string>(100, 3, (x) => recorded.push(x));
    r.add('a');
    r.add('b');
    vi.advanceTimersByTime(99);
    r.close();
    vi.advanceTimersByTime(1_000);
    expect(recorded).toEqual([]);
  });

  it('records what it holds once the delay passes, then each item as it comes, but never the last', () => {
    const recorded: string[] = [];
    const r = new DeferredRecorder<string>(100, 3, (x) => recorded.push(x));
    r.add('a');
    vi.advanceTimersByTime(100);
    expect(recorded).toEqual(['a']);
    r.add('b');
    expect(recorded).toEqual(['a', 'b']);
    r.add('c'); // the closing entry follows at once
    expect(recorded).toEqual(['a', 'b']);
  });

  it('hurry() records at once; a delay of 0 records from the start; nothing after close()', () => {
    const hurried: string[] = [];
    const r = new DeferredRecorder<string>(100, 3, (x) => hurried.push(x));
    r.add('a');
    r.hurry();
    expect(hurried).toEqual(['a']);
    r.close();
    r.add('b');
    expect(hurried).toEqual(['a']);

    const eager: string[] = [];
    const e = new DeferredRecorder<string>(0, 2, (x) => eager.push(x));
    e.add('a');
    e.add('b');
    expect(eager).toEqual(['a']);
  });
});
