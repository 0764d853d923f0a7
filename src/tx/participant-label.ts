// Participant names as a metric label. Names are chosen by whoever enlists, so
// an unbounded label would let clients grow the node's series without end: the
// first PARTICIPANT_LABELS_MAX distinct names a node sees keep their own label,
// every later one is counted under `other`. A deployment has a handful of
// participant services; the bound is far above that and far below what would
// hurt a Prometheus server (each name brings one histogram per call kind).

export const PARTICIPANT_LABELS_MAX = 32;
export const OTHER_PARTICIPANTS = 'other';

export class ParticipantLabels {
  private readonly named = new Set<string>();

  constructor(private readonly max: number = PARTICIPANT_LABELS_MAX) {}

  label(name: string): string {
    if (this.named.has(name)) return name;
    if (this.named.size >= this.max) return OTHER_PARTICIPANTS;
    this.named.add(name);
    return name;
  }
}
