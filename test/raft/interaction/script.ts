// The file format of the interaction scripts (test/raft/testdata/*.txt), after
// cockroachdb/datadriven as etcd-io/raft uses it: each command is one line,
// followed by a `----` line and the output it produced, up to a blank line.
// Comments (`#`) and blank lines between commands are kept as they are.
//
// A script is its own golden file: the runner replays the commands, renders the
// file again with the outputs they produce now, and compares the result with the
// file on disk. A behaviour change therefore shows as a diff of the outputs under
// the very command that caused it.

/** One command of a script and the output the file records for it. */
export interface Directive {
  readonly kind: 'directive';
  /** 1-based line of the command in the file. */
  readonly line: number;
  readonly command: string;
  /** The recorded output lines; null when the file has no `----` block yet. */
  readonly recorded: readonly string[] | null;
}

/** A comment or a blank line, kept verbatim. */
export interface TextLine {
  readonly kind: 'text';
  readonly text: string;
}

export type ScriptPart = Directive | TextLine;

const SEPARATOR = '----';

function isText(line: string): boolean {
  return line.trim() === '' || line.trimStart().startsWith('#');
}

export function parseScript(source: string): ScriptPart[] {
  const lines = source.split('\n');
  if (lines.at(-1) === '') lines.pop();
  const parts: ScriptPart[] = [];
  let i = 0;
  while (i < lines.length) {
    const line = lines[i] ?? '';
    if (isText(line)) {
      parts.push({ kind: 'text', text: line });
      i++;
      continue;
    }
    const start = i;
    i++;
    let recorded: string[] | null = null;
    if (lines[i] === SEPARATOR) {
      recorded = [];
      i++;
      while (i < lines.length && (lines[i] ?? '').trim() !== '') recorded.push(lines[i++] ?? '');
    }
    parts.push({ kind: 'directive', line: start + 1, command: line, recorded });
  }
  return parts;
}

/**
 * The file again, each directive followed by `outputs` of that directive (or what
 * the file recorded, for a directive missing from `outputs`). A blank line always
 * ends an output block, so the result parses back to the same parts.
 */
export function renderScript(parts: readonly ScriptPart[], outputs: ReadonlyMap<Directive, readonly string[]>): string {
  const out: string[] = [];
  parts.forEach((p, k) => {
    if (p.kind === 'text') {
      out.push(p.text);
      return;
    }
    const lines = outputs.get(p) ?? p.recorded ?? [];
    for (const l of lines) {
      if (l.trim() === '') throw new Error(`line ${p.line}: output of "${p.command}" has a blank line, which would end its block`);
    }
    out.push(p.command, SEPARATOR, ...lines);
    const next = parts[k + 1];
    if (next !== undefined && !(next.kind === 'text' && next.text.trim() === '')) out.push('');
  });
  return `${out.join('\n')}\n`;
}
