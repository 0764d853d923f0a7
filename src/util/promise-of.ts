// A promise-returning call whose synchronous throw becomes a rejection, as it would
// inside an async function. The hot paths that dropped their async wrappers (one
// suspended frame per call: scripts/bench/results/README.md, "Fewer cuts per
// transaction") keep the async contract through this: callers only ever see a
// rejected promise, never a throw.
export function promiseOf<T>(start: () => Promise<T>): Promise<T> {
  try {
    return start();
  } catch (err) {
    return Promise.reject(err);
  }
}
