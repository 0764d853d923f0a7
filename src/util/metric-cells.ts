// One series of a prom-client Histogram or Counter, updated without the
// per-call work of observe(labels, v) and inc(labels).
//
// WHY: prom-client's observe(labels, v) wraps the call in a closure and a
// {labels, value} pair, checks every label name and concatenates a hash string
// to find the series, on every call: about 300 bytes of garbage and a few
// microseconds. The leader makes that call four times per transaction for its
// participant calls alone; prom-client was about 2 % of its CPU and 2.5 % of what it
// allocated at 64 concurrent transactions (scripts/bench/results/README.md, "Fewer cuts per
// transaction"). A cell finds its series once, by label values, and then adds to
// its counts in place. What /metrics shows is prom-client's own exposition of
// the same series (test/util/metric-cells.test.ts compares the two paths).
//
// It reads prom-client's series map (`hashMap`, whose values hold the label
// object and the counts), which is not public API. So every update first checks
// that the series is still the one the map holds under its key: a reset(), a
// remove() or a zero() makes the cell find (or create) its series again, and
// never count into a detached one.
import type { Counter, Histogram } from 'prom-client';

type Labels = Readonly<Record<string, string>>;

interface HistogramSeries {
  readonly labels: Labels;
  readonly bucketValues: Record<number, number>;
  sum: number;
  count: number;
}

interface CounterSeries {
  readonly labels: Labels;
  value: number;
}

/** The internals a cell reads (prom-client 15). */
interface SeriesMap<S> {
  hashMap: Record<string, S>;
}

/** Finds the series whose labels equal `labels`, creating it with `create` when there is none. */
class SeriesRef<S extends { readonly labels: Labels }> {
  private map: Record<string, S> | null = null;
  private key = '';
  private series: S | null = null;

  constructor(
    private readonly owner: SeriesMap<S>,
    private readonly labels: Labels,
    private readonly create: () => void,
  ) {}

  get(): S {
    const map = this.owner.hashMap;
    if (map === this.map && this.series !== null && map[this.key] === this.series) return this.series;
    return this.acquire();
  }

  private acquire(): S {
    for (let attempt = 0; attempt < 2; attempt++) {
      const map = this.owner.hashMap;
      for (const key of Object.keys(map)) {
        const s = map[key]!;
        if (sameLabels(s.labels, this.labels)) {
          this.map = map;
          this.key = key;
          this.series = s;
          return s;
        }
      }
      this.create();
    }
    throw new Error(`metric cell: prom-client made no series for ${JSON.stringify(this.labels)}`);
  }
}

/** `labels` with its keys in the metric's label order, the order /metrics prints them in whatever order a caller wrote them. */
function ordered(labels: Labels, labelNames: readonly string[]): Labels {
  const out: Record<string, string> = {};
  for (const n of labelNames) if (labels[n] !== undefined) out[n] = labels[n];
  for (const n of Object.keys(labels)) if (!(n in out)) out[n] = labels[n]!;
  return out;
}

function sameLabels(a: Labels, b: Labels): boolean {
  const ak = Object.keys(a);
  if (ak.length !== Object.keys(b).length) return false;
  for (const k of ak) if (a[k] !== b[k]) return false;
  return true;
}

/** Observes values into the series of `histogram` with exactly `labels`. */
export function histogramCell<T extends string>(histogram: Histogram<T>, labels: Readonly<Record<T, string>>): (value: number) => void {
  const h = histogram as unknown as SeriesMap<HistogramSeries> & { readonly upperBounds: readonly number[]; readonly labelNames: string[] };
  const own = ordered(labels, h.labelNames);
  const ref = new SeriesRef<HistogramSeries>(h, own, () => histogram.zero(own as Record<T, string>));
  return (value) => {
    if (!Number.isFinite(value)) throw new TypeError(`Value is not a valid number: ${value}`);
    const s = ref.get();
    s.sum += value;
    s.count += 1;
    // The first bucket whose upper bound holds it; above them all, only +Inf (the count) has it.
    const bounds = h.upperBounds;
    for (let i = 0; i < bounds.length; i++) {
      const b = bounds[i]!;
      if (value <= b) {
        s.bucketValues[b]! += 1;
        return;
      }
    }
  };
}

/** Increments the series of `counter` with exactly `labels`. */
export function counterCell<T extends string>(counter: Counter<T>, labels: Readonly<Record<T, string>>): (by?: number) => void {
  const c = counter as unknown as SeriesMap<CounterSeries> & { readonly labelNames: string[] };
  const own = ordered(labels, c.labelNames);
  const ref = new SeriesRef<CounterSeries>(c, own, () => counter.inc(own as Record<T, string>, 0));
  return (by = 1) => {
    if (!Number.isFinite(by) || by < 0) throw new RangeError(`a counter grows by a finite amount >= 0, not ${by}`);
    ref.get().value += by;
  };
}

/** Increments by one the series of `counter` whose only label, `name`, has the value given (a cell per value, made on first use). */
export function counterCellsBy<T extends string>(counter: Counter<T>, name: T): (value: string) => void {
  const cells = new Map<string, (by?: number) => void>();
  return (value) => {
    let cell = cells.get(value);
    if (cell === undefined) cells.set(value, (cell = counterCell(counter, { [name]: value } as Record<T, string>)));
    cell();
  };
}
