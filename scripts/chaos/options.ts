// The chaos runner's options: defaults, command-line parsing and validation. Every
// bound is here, checked up front with a message that names the value and the limit.
import { parseArgs } from 'node:util';
import { DEFAULT_LINEARIZABILITY_BUDGET } from './linearizability.js';
import { randomSeed } from '../../src/util/random.js';

export const TARGETS = ['local', 'compose'] as const;
export type TargetKind = (typeof TARGETS)[number];

export const STATE_MACHINES = ['tx', 'kv'] as const;
export type StateMachineKind = (typeof STATE_MACHINES)[number];

export const FAULT_KINDS = ['kill', 'pause', 'restart', 'partition', 'churn', 'freeze'] as const;

/** What the banks are: the example's LevelDB bank services, or PostgreSQL databases through the PostgreSQL participant adapter. */
export const PARTICIPANT_KINDS = ['bank', 'postgres'] as const;
export type ParticipantKind = (typeof PARTICIPANT_KINDS)[number];
export type FaultKind = (typeof FAULT_KINDS)[number];

/** Which protocol the transfers run: a seeded mix (threePcShare of them 3PC), or all one. */
export const WORKLOAD_PROTOCOLS = ['mix', '2pc', '3pc'] as const;
export type WorkloadProtocol = (typeof WORKLOAD_PROTOCOLS)[number];

export interface ChaosOptions {
  readonly target: TargetKind;
  /**
   * What the nodes run: tx (the coordinator, under bank transfers) or kv (the test
   * key-value store, under puts and gets; local target only).
   */
  readonly stateMachine: StateMachineKind;
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
  /** The participants' kind (local target only for postgres). */
  readonly participants: ParticipantKind;
  /** SIGKILL a participant process now and then, and start it again (local target). */
  readonly killParticipants: boolean;
  /** tx: share of transfers run interactively (create, then commit) instead of one-shot. */
  readonly interactiveShare: number;
  /** tx: of the interactive transfers, the share that also send an abort racing the commit. */
  readonly abortShare: number;
  /** tx: loops that GET the views of recent transactions from random nodes while transfers run. */
  readonly readers: number;
  /** kv: keys the puts and gets spread over (fewer keys, more contention per key). */
  readonly kvKeys: number;
  /** Linearizability check: search steps per partition, and wall-clock bound on the search. */
  readonly linStepsMax: number;
  readonly linTimeMaxMs: number;
}

export const DEFAULT_OPTIONS: Omit<ChaosOptions, 'seed'> = {
  target: 'local',
  stateMachine: 'tx',
  durationS: 60,
  nodes: 3,
  faults: ['kill', 'pause', 'restart', 'churn'],
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
  participants: 'bank',
  killParticipants: false,
  interactiveShare: 0.3,
  abortShare: 0.3,
  readers: 2,
  kvKeys: 8,
  linStepsMax: DEFAULT_LINEARIZABILITY_BUDGET.stepsMax,
  linTimeMaxMs: DEFAULT_LINEARIZABILITY_BUDGET.timeMaxMs,
};

/**
 * Faults each target can inject. Partitions need a network to cut, churn a data directory
 * to wipe. A freeze (every node paused at once, longer than the banks' 3PC timeout) needs
 * banks whose timeout the runner sets: the ones it starts itself.
 */
export const FAULTS_BY_TARGET: Readonly<Record<TargetKind, readonly FaultKind[]>> = {
  local: ['kill', 'pause', 'restart', 'churn', 'freeze'],
  compose: ['kill', 'pause', 'restart', 'partition'],
};

/** Faults without --faults: every one but the freeze, which takes the whole cluster away for seconds. */
export const DEFAULT_FAULTS_BY_TARGET: Readonly<Record<TargetKind, readonly FaultKind[]>> = {
  local: ['kill', 'pause', 'restart', 'churn'],
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
  readers: [0, 64],
  kvKeys: [1, 10_000],
  linStepsMax: [1_000, 1_000_000_000],
  linTimeMaxMs: [1_000, 3_600_000],
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
  for (const name of ['threePcShare', 'quorumLossChance', 'interactiveShare', 'abortShare'] as const) {
    if (!(o[name] >= 0 && o[name] <= 1)) errors.push(`${name} (${o[name]}) must be between 0 and 1`);
  }
  if (!(WORKLOAD_PROTOCOLS as readonly string[]).includes(o.protocol))
    errors.push(`protocol (${o.protocol}) must be one of ${WORKLOAD_PROTOCOLS.join(', ')}`);
  if (o.faultGapMaxMs < o.faultGapMinMs)
    errors.push(`faultGapMaxMs (${o.faultGapMaxMs}) must be at least faultGapMinMs (${o.faultGapMinMs})`);
  if (o.amountMax > o.openingBalance) errors.push(`amountMax (${o.amountMax}) must not exceed openingBalance (${o.openingBalance})`);
  for (const f of o.faults) {
    if (!FAULTS_BY_TARGET[o.target].includes(f))
      errors.push(`fault ${f} is not available with --target ${o.target} (available: ${FAULTS_BY_TARGET[o.target].join(',')})`);
  }
  if (!(PARTICIPANT_KINDS as readonly string[]).includes(o.participants))
    errors.push(`participants (${o.participants}) must be one of ${PARTICIPANT_KINDS.join(', ')}`);
  if (o.target !== 'local' && o.participants === 'postgres')
    errors.push(`participants postgres needs --target local (the runner starts PostgreSQL itself)`);
  if (o.target !== 'local' && o.killParticipants) errors.push('--kill-participants needs --target local');
  if (o.stateMachine === 'kv' && o.target !== 'local')
    errors.push(`--state-machine kv needs --target local (the compose project runs the transaction coordinator)`);
  if (!/^[a-z0-9][a-z0-9_-]*$/.test(o.composeProject))
    errors.push(`composeProject (${o.composeProject}) must be lower-case letters, digits, '-' and '_'`);
  return errors;
}

export const USAGE = `usage: npm run chaos -- [options]

  --target local|compose   local: the runner starts the nodes and banks as processes on
                           127.0.0.1; compose: faults against the docker compose project
  --state-machine tx|kv    tx (default): bank transfers through the coordinator; kv: puts
                           and gets on the test key-value store (local target only)
  --seed N                 seed of every random choice (printed; default: random)
  --duration S             seconds of faults under load (default 60)
  --nodes N                coordinator nodes (default 3)
  --faults LIST            comma-separated: kill,pause,restart,partition,churn,freeze
                           (default: all the target supports but freeze; partition needs
                           --target compose, churn and freeze --target local). churn removes a
                           node (the leader half of the time) over the admin API, wipes it once
                           it says it was removed, and adds it back as a learner and promotes it;
                           freeze pauses every node at once for 2-3 times the banks' 3PC window
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
  --participants KIND      bank: the example's LevelDB banks (default); postgres: two
                           databases of a throwaway PostgreSQL through the PostgreSQL
                           participant adapter (local target; needs PostgreSQL installed)
  --kill-participants      also SIGKILL a participant process every few seconds and start
                           it again (local target)
  --interactive-share X    tx: share of transfers run as create, then commit (default 0.3)
  --abort-share X          tx: of those, the share that send an abort racing the commit
                           (default 0.3)
  --readers N              tx: loops reading transaction views from random nodes (default 2)
  --kv-keys N              kv: keys the puts and gets spread over (default 8)
  --lin-steps-max N        linearizability search steps per partition (default 2000000);
                           past it the verdict is "unknown", never "yes"
  --lin-time-max-ms N      bound on the whole linearizability search (default 60000)
  -h, --help
`;

export type ParsedArgs =
  | { readonly kind: 'help' }
  | { readonly kind: 'options'; readonly options: ChaosOptions }
  | { readonly kind: 'invalid'; readonly errors: string[] };

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
        participants: { type: 'string' },
        'kill-participants': { type: 'boolean' },
        'state-machine': { type: 'string' },
        'interactive-share': { type: 'string' },
        'abort-share': { type: 'string' },
        readers: { type: 'string' },
        'kv-keys': { type: 'string' },
        'lin-steps-max': { type: 'string' },
        'lin-time-max-ms': { type: 'string' },
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
  const stateMachine = str('state-machine') ?? DEFAULT_OPTIONS.stateMachine;
  if (!(STATE_MACHINES as readonly string[]).includes(stateMachine))
    errors.push(`--state-machine (${stateMachine}) must be one of ${STATE_MACHINES.join(', ')}`);
  const faults = parseFaults(str('faults'), kind, errors);
  const results = str('results');
  const options: ChaosOptions = {
    ...DEFAULT_OPTIONS,
    target: kind,
    stateMachine: stateMachine as StateMachineKind,
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
    participants: (str('participants') ?? DEFAULT_OPTIONS.participants) as ParticipantKind,
    killParticipants: values['kill-participants'] === true,
    interactiveShare: num('interactive-share', DEFAULT_OPTIONS.interactiveShare),
    abortShare: num('abort-share', DEFAULT_OPTIONS.abortShare),
    readers: num('readers', DEFAULT_OPTIONS.readers),
    kvKeys: num('kv-keys', DEFAULT_OPTIONS.kvKeys),
    linStepsMax: num('lin-steps-max', DEFAULT_OPTIONS.linStepsMax),
    linTimeMaxMs: num('lin-time-max-ms', DEFAULT_OPTIONS.linTimeMaxMs),
  };
  errors.push(...validateOptions(options));
  return errors.length > 0 ? { kind: 'invalid', errors } : { kind: 'options', options };
}

function parseFaults(list: string | undefined, target: TargetKind, errors: string[]): FaultKind[] {
  // Without --faults, the target's default set (local has no partitions).
  if (list === undefined) return [...DEFAULT_FAULTS_BY_TARGET[target]];
  const names = list
    .split(',')
    .map((s) => s.trim())
    .filter((s) => s.length > 0);
  const out: FaultKind[] = [];
  for (const n of names) {
    if ((FAULT_KINDS as readonly string[]).includes(n)) out.push(n as FaultKind);
    else errors.push(`--faults: unknown fault ${n} (known: ${FAULT_KINDS.join(',')})`);
  }
  return [...new Set(out)];
}
