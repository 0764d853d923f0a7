// The chaos runner's options: defaults, command-line parsing and validation. Every
// bound is here, checked up front with a message that names the value and the limit.
import { parseArgs } from 'node:util';
import { randomSeed } from './rng.js';

export const TARGETS = ['local', 'compose'] as const;
export type TargetKind = (typeof TARGETS)[number];

export const FAULT_KINDS = ['kill', 'pause', 'restart', 'partition', 'freeze'] as const;
export type FaultKind = (typeof FAULT_KINDS)[number];

/** Which protocol the transfers run: a seeded mix (threePcShare of them 3PC), or all one. */
export const WORKLOAD_PROTOCOLS = ['mix', '2pc', '3pc'] as const;
export type WorkloadProtocol = (typeof WORKLOAD_PROTOCOLS)[number];

export interface ChaosOptions {
  readonly target: TargetKind;
  readonly seed: number;
  /** How long faults are injected under load; recovery and checks come after. */
  readonly durationS: number;
  readonly nodes: number;
  readonly faults: readonly FaultKind[];
  /** Concurrent transfers in flight. */
  readonly concurrency: number;
  readonly composeFile: string;
  readonly composeProject: string;
  /** Local target: where data and logs go; null = a temp dir, removed after a passing run. */
  readonly dataDir: string | null;
  /** Where the JSON report is written; null = not written. */
  readonly resultsDir: string | null;
  /** The deadline each transfer asks for (timeoutMs in the request). */
  readonly txTimeoutMs: number;
  /** Which protocol the transfers run; `mix` draws 3PC for threePcShare of them. */
  readonly protocol: WorkloadProtocol;
  /** Share of transfers run with 3PC instead of 2PC (protocol `mix`). */
  readonly threePcShare: number;
  /**
   * The banks' threePcTimeoutMs (local target): a precommitted bank that reaches no node
   * for this long commits on its own. The freeze fault outlasts it.
   */
  readonly participantThreePcTimeoutMs: number;
  /** Chance that a fault may take a majority down (a brief loss of quorum). */
  readonly quorumLossChance: number;
  /** Pause between two fault injections, drawn uniformly from this range. */
  readonly faultGapMinMs: number;
  readonly faultGapMaxMs: number;
  /** Upper bound on the final waits (leader, resends, quiescence), each. */
  readonly settleTimeoutMs: number;
  /** Log level of the node processes (their logs go to files). */
  readonly nodeLogLevel: string;
  /** Accounts opened per bank, and their opening balance. */
  readonly accountsPerBank: number;
  readonly openingBalance: number;
  /** Largest amount of one transfer; with the balances it sets how often funds run short. */
  readonly amountMax: number;
  /**
   * Retries of the client per call. Fewer leave more transfers "unknown" during failovers,
   * which exercises resending with the same Idempotency-Key after healing.
   */
  readonly clientRetries: number;
}

export const DEFAULT_OPTIONS: Omit<ChaosOptions, 'seed'> = {
  target: 'local',
  durationS: 60,
  nodes: 3,
  faults: ['kill', 'pause', 'restart'],
  concurrency: 8,
  composeFile: 'cluster/docker-compose.yml',
  composeProject: 'ratify',
  dataDir: null,
  resultsDir: 'chaos-results',
  txTimeoutMs: 10_000,
  protocol: 'mix',
  threePcShare: 0.15,
  participantThreePcTimeoutMs: 2_000,
  quorumLossChance: 0.15,
  faultGapMinMs: 1_500,
  faultGapMaxMs: 4_000,
  settleTimeoutMs: 120_000,
  nodeLogLevel: 'info',
  accountsPerBank: 4,
  openingBalance: 500,
  amountMax: 200,
  clientRetries: 10,
};

/**
 * Faults each target can inject. Partitions need a network to cut. A freeze (every node
 * paused at once, longer than the banks' 3PC timeout) needs banks whose timeout the
 * runner sets: the ones it starts itself.
 */
export const FAULTS_BY_TARGET: Readonly<Record<TargetKind, readonly FaultKind[]>> = {
  local: ['kill', 'pause', 'restart', 'freeze'],
  compose: ['kill', 'pause', 'restart', 'partition'],
};

/** Faults without --faults: every one but the freeze, which takes the whole cluster away for seconds. */
export const DEFAULT_FAULTS_BY_TARGET: Readonly<Record<TargetKind, readonly FaultKind[]>> = {
  local: ['kill', 'pause', 'restart'],
  compose: ['kill', 'pause', 'restart', 'partition'],
};

const RANGES = {
  durationS: [1, 86_400],
  nodes: [1, 9],
  concurrency: [1, 256],
  txTimeoutMs: [100, 600_000],
  faultGapMinMs: [100, 600_000],
  faultGapMaxMs: [100, 600_000],
  settleTimeoutMs: [1_000, 3_600_000],
  accountsPerBank: [1, 64],
  openingBalance: [1, 1_000_000_000],
  amountMax: [1, 1_000_000_000],
  clientRetries: [0, 100],
  participantThreePcTimeoutMs: [100, 600_000],
} as const satisfies Partial<Record<keyof ChaosOptions, readonly [number, number]>>;

/** Fills defaults, then returns every problem found (empty when valid). */
export function validateOptions(o: ChaosOptions): string[] {
  const errors: string[] = [];
  for (const [name, [min, max]] of Object.entries(RANGES)) {
    const v = o[name as keyof typeof RANGES];
    if (!Number.isInteger(v) || v < min || v > max) errors.push(`${name} (${v}) must be an integer between ${min} and ${max}`);
  }
  if (!Number.isSafeInteger(o.seed) || o.seed < 0) errors.push(`seed (${o.seed}) must be a non-negative integer`);
  for (const name of ['threePcShare', 'quorumLossChance'] as const) {
    if (!(o[name] >= 0 && o[name] <= 1)) errors.push(`${name} (${o[name]}) must be between 0 and 1`);
  }
  if (!(WORKLOAD_PROTOCOLS as readonly string[]).includes(o.protocol)) errors.push(`protocol (${o.protocol}) must be one of ${WORKLOAD_PROTOCOLS.join(', ')}`);
  if (o.faultGapMaxMs < o.faultGapMinMs) errors.push(`faultGapMaxMs (${o.faultGapMaxMs}) must be at least faultGapMinMs (${o.faultGapMinMs})`);
  if (o.amountMax > o.openingBalance) errors.push(`amountMax (${o.amountMax}) must not exceed openingBalance (${o.openingBalance})`);
  for (const f of o.faults) {
    if (!FAULTS_BY_TARGET[o.target].includes(f)) errors.push(`fault ${f} is not available with --target ${o.target} (available: ${FAULTS_BY_TARGET[o.target].join(',')})`);
  }
  if (!/^[a-z0-9][a-z0-9_-]*$/.test(o.composeProject)) errors.push(`composeProject (${o.composeProject}) must be lower-case letters, digits, '-' and '_'`);
  return errors;
}

export const USAGE = `usage: npm run chaos -- [options]

  --target local|compose   local: the runner starts the nodes and banks as processes on
                           127.0.0.1; compose: faults against the docker compose project
  --seed N                 seed of every random choice (printed; default: random)
  --duration S             seconds of faults under load (default 60)
  --nodes N                coordinator nodes (default 3)
  --faults LIST            comma-separated: kill,pause,restart,partition,freeze
                           (default kill,pause,restart; partition needs --target compose;
                           freeze pauses every node at once for 2-3 times the banks'
                           3PC window, local target only)
  --concurrency N          transfers in flight (default 8)
  --compose-file PATH      default cluster/docker-compose.yml
  --compose-project NAME   default ratify
  --data DIR               local target: keep data and logs in DIR (default: a temp dir,
                           removed after a passing run)
  --results DIR            where the JSON report goes (default chaos-results; "" = none)
  --tx-timeout-ms N        each transfer's deadline (default 10000)
  --protocol P             mix|2pc|3pc: the transfers' protocol (default mix)
  --three-pc-share X       with --protocol mix: share of 3PC transfers, 0..1 (default 0.15)
  --participant-3pc-timeout-ms N
                           local target: the banks' threePcTimeoutMs (default 2000)
  --quorum-loss-chance X   chance a fault may briefly take a majority down (default 0.15)
  --node-log-level LEVEL   log level of node processes (default info)
  --client-retries N       client retries per transfer (default 10; fewer leave more
                           transfers unknown, to be resolved by resending after healing)
  -h, --help
`;

export type ParsedArgs = { readonly kind: 'help' } | { readonly kind: 'options'; readonly options: ChaosOptions } | { readonly kind: 'invalid'; readonly errors: string[] };

export function parseChaosArgs(argv: readonly string[]): ParsedArgs {
  let values: Record<string, string | boolean | undefined>;
  try {
    values = parseArgs({
      args: [...argv],
      strict: true,
      options: {
        target: { type: 'string' },
        seed: { type: 'string' },
        duration: { type: 'string' },
        nodes: { type: 'string' },
        faults: { type: 'string' },
        concurrency: { type: 'string' },
        'compose-file': { type: 'string' },
        'compose-project': { type: 'string' },
        data: { type: 'string' },
        results: { type: 'string' },
        'tx-timeout-ms': { type: 'string' },
        protocol: { type: 'string' },
        'three-pc-share': { type: 'string' },
        'participant-3pc-timeout-ms': { type: 'string' },
        'quorum-loss-chance': { type: 'string' },
        'node-log-level': { type: 'string' },
        'client-retries': { type: 'string' },
        help: { type: 'boolean', short: 'h' },
      },
    }).values;
  } catch (e) {
    return { kind: 'invalid', errors: [(e as Error).message] };
  }
  if (values['help'] === true) return { kind: 'help' };
  const errors: string[] = [];
  const str = (k: string): string | undefined => (typeof values[k] === 'string' ? (values[k] as string) : undefined);
  const num = (k: string, fallback: number): number => {
    const s = str(k);
    if (s === undefined) return fallback;
    const n = Number(s);
    if (s.trim() === '' || !Number.isFinite(n)) errors.push(`--${k} (${s}) must be a number`);
    return n;
  };
  const target = str('target') ?? DEFAULT_OPTIONS.target;
  if (!(TARGETS as readonly string[]).includes(target)) errors.push(`--target (${target}) must be one of ${TARGETS.join(', ')}`);
  const kind = target as TargetKind;
  const faults = parseFaults(str('faults'), kind, errors);
  const results = str('results');
  const options: ChaosOptions = {
    ...DEFAULT_OPTIONS,
    target: kind,
    seed: num('seed', randomSeed()),
    durationS: num('duration', DEFAULT_OPTIONS.durationS),
    nodes: num('nodes', DEFAULT_OPTIONS.nodes),
    faults,
    concurrency: num('concurrency', DEFAULT_OPTIONS.concurrency),
    composeFile: str('compose-file') ?? DEFAULT_OPTIONS.composeFile,
    composeProject: str('compose-project') ?? DEFAULT_OPTIONS.composeProject,
    dataDir: str('data') ?? null,
    resultsDir: results === undefined ? DEFAULT_OPTIONS.resultsDir : results === '' ? null : results,
    txTimeoutMs: num('tx-timeout-ms', DEFAULT_OPTIONS.txTimeoutMs),
    protocol: (str('protocol') ?? DEFAULT_OPTIONS.protocol) as WorkloadProtocol,
    threePcShare: num('three-pc-share', DEFAULT_OPTIONS.threePcShare),
    participantThreePcTimeoutMs: num('participant-3pc-timeout-ms', DEFAULT_OPTIONS.participantThreePcTimeoutMs),
    quorumLossChance: num('quorum-loss-chance', DEFAULT_OPTIONS.quorumLossChance),
    nodeLogLevel: str('node-log-level') ?? DEFAULT_OPTIONS.nodeLogLevel,
    clientRetries: num('client-retries', DEFAULT_OPTIONS.clientRetries),
  };
  errors.push(...validateOptions(options));
  return errors.length > 0 ? { kind: 'invalid', errors } : { kind: 'options', options };
}

function parseFaults(list: string | undefined, target: TargetKind, errors: string[]): FaultKind[] {
  // Without --faults, the target's default set (local has no partitions).
  if (list === undefined) return [...DEFAULT_FAULTS_BY_TARGET[target]];
  const names = list.split(',').map((s) => s.trim()).filter((s) => s.length > 0);
  const out: FaultKind[] = [];
  for (const n of names) {
    if ((FAULT_KINDS as readonly string[]).includes(n)) out.push(n as FaultKind);
    else errors.push(`--faults: unknown fault ${n} (known: ${FAULT_KINDS.join(',')})`);
  }
  return [...new Set(out)];
}
