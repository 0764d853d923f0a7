// `npm run chaos -- [options]`: a bank-transfer workload through a Ratify cluster while
// nodes are killed, paused, restarted (and, with containers, cut off), then a report of
// every invariant. Exit 0 when all hold, 1 on any violation, 2 on a usage error or a run
// that could not be carried out. See scripts/chaos/README.md.
//
// Ctrl-C once: stop the faults now, heal, and check. Twice: abandon the run (every
// process or container the runner started is still stopped).
import { parseChaosArgs, USAGE } from './chaos/options.js';
import { formatReport, writeReportJson } from './chaos/report.js';
import { runChaos, RunAborted } from './chaos/runner.js';

async function main(): Promise<number> {
  const parsed = parseChaosArgs(process.argv.slice(2));
  if (parsed.kind === 'help') {
    process.stdout.write(USAGE);
    return 0;
  }
  if (parsed.kind === 'invalid') {
    for (const e of parsed.errors) process.stderr.write(`chaos: ${e}\n`);
    process.stderr.write(USAGE);
    return 2;
  }
  const o = parsed.options;
  const finishEarly = new AbortController();
  const abort = new AbortController();
  const onSignal = (): void => {
    if (!finishEarly.signal.aborted) {
      process.stderr.write('\nchaos: stopping the faults early; healing and checking (Ctrl-C again to abandon)\n');
      finishEarly.abort();
    } else {
      process.stderr.write('\nchaos: abandoning the run; stopping everything it started\n');
      abort.abort();
    }
  };
  process.on('SIGINT', onSignal);
  process.on('SIGTERM', () => abort.abort());
  const command = `npm run chaos -- ${process.argv.slice(2).join(' ')}`.trim();
  try {
    const report = await runChaos(o, {
      finishEarly: finishEarly.signal,
      abort: abort.signal,
      command: command.includes('--seed') ? command : `${command} --seed ${o.seed}`,
    });
    process.stdout.write(`${formatReport(report)}\n`);
    if (o.resultsDir !== null) process.stdout.write(`  json          ${await writeReportJson(report, o.resultsDir)}\n`);
    return report.ok ? 0 : 1;
  } catch (e) {
    if (e instanceof RunAborted) {
      process.stderr.write(`chaos: abandoned (seed ${o.seed})\n`);
      return 130;
    }
    process.stderr.write(
      `chaos: the run could not be carried out (seed ${o.seed}): ${e instanceof Error ? (e.stack ?? e.message) : String(e)}\n`,
    );
    return 2;
  }
}

process.exit(await main());
