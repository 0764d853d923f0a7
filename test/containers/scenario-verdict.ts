// The verdict on one container scenario: the canonical chaos invariants
// (scripts/chaos/invariants.ts) over the evidence the scenario gathered, and the lines that
// print it. The one container-specific rule: only a scenario that kills every node has an
// outage to check, so decisions-durable is "not applicable" elsewhere instead of failing
// with "did not run". Pure, so invariants.test.ts can feed it fabricated evidence.
import type { ChaosEvidence } from '../../scripts/chaos/evidence.js';
import { checkInvariants, type InvariantResult } from '../../scripts/chaos/invariants.js';
import { linearizabilityReport } from '../../scripts/chaos/report.js';

export interface ScenarioVerdict {
  /** The invariants that apply to this scenario, each PASS or FAIL. */
  readonly results: readonly InvariantResult[];
  /** Names of the invariants that did not apply (no full-cluster outage). */
  readonly notApplicable: readonly string[];
  readonly failed: readonly InvariantResult[];
}

const DETAILS_PRINTED_MAX = 5;

export function scenarioVerdict(e: ChaosEvidence): ScenarioVerdict {
  const all = checkInvariants(e);
  const applies = (r: InvariantResult): boolean => !(r.name === 'decisions-durable' && e.outage === null);
  const results = all.filter(applies);
  return {
    results,
    notApplicable: all.filter((r) => !applies(r)).map((r) => r.name),
    failed: results.filter((r) => !r.pass),
  };
}

/** One line per invariant, plus the first few violations of each that failed. */
export function verdictLines(v: ScenarioVerdict): string[] {
  const lines: string[] = [];
  for (const r of v.results) {
    lines.push(`  ${r.pass ? 'ok  ' : 'FAIL'}  ${r.name}: ${r.checked}${r.pass ? '' : `, ${r.violations.length} violations`}`);
    // "linearizable: yes/no/unknown", and on a violation the whole failing sub-history.
    if (r.linearizability !== undefined) lines.push(...linearizabilityReport(r.linearizability));
    else for (const d of r.violations.slice(0, DETAILS_PRINTED_MAX)) lines.push(`          - ${d}`);
  }
  for (const name of v.notApplicable) lines.push(`  n/a   ${name}: no full-cluster outage in this scenario`);
  return lines;
}
