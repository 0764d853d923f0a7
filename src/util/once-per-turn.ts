// One run for a burst of requests: however often `schedule` is called before
// the run, `run` happens once, later in the turn. The Raft node's ready loop (a
// kick per proposal or inbound batch), the outbound Raft queue (a drain per
// message) and the participant caller (a flush per call) all coalesce this way.
// The run function is made once, so a burst allocates nothing.

/** When the run happens: on a microtask (queueMicrotask) or after the turn's microtasks (setImmediate). */
export type Defer = (run: () => void) => unknown;

/** Returns `schedule`: runs `run` once per burst of calls, deferred by `defer`. */
export function oncePerTurn(run: () => void, defer: Defer = queueMicrotask): () => void {
  let scheduled = false;
  const task = (): void => {
    scheduled = false;
    run();
  };
  return () => {
    if (scheduled) return;
    scheduled = true;
    defer(task);
  };
}
