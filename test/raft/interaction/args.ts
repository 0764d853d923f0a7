// The arguments of one script command: `name pos1 pos2 key=value key=(a,b) key="a b" key='say "hi"'`.
//
// Every key a command reads is marked used; a key nobody read is an error
// (done()), so a typo in a script fails instead of being silently ignored.

export class ScriptError extends Error {}

function tokenize(line: string): string[] {
  const tokens: string[] = [];
  let cur = '';
  let depth = 0;
  // Inside "..." or '...' (the latter may hold double quotes, as a message's payloads do).
  let quote: string | null = null;
  for (const ch of line) {
    const quoted = quote !== null;
    if (ch === quote) quote = null;
    else if (!quoted && (ch === '"' || ch === "'")) quote = ch;
    else if (!quoted && ch === '(') depth++;
    else if (!quoted && ch === ')') depth--;
    if (quote === null && depth === 0 && /\s/.test(ch)) {
      if (cur !== '') tokens.push(cur);
      cur = '';
      continue;
    }
    cur += ch;
  }
  if (quote !== null || depth !== 0) throw new ScriptError(`unbalanced quotes or parentheses in: ${line}`);
  if (cur !== '') tokens.push(cur);
  return tokens;
}

function unquote(s: string): string {
  const q = s[0];
  return s.length >= 2 && (q === '"' || q === "'") && s.endsWith(q) ? s.slice(1, -1) : s;
}

/** `(a,b,c)` → ['a', 'b', 'c']; `()` → []. */
export function parseList(s: string): string[] {
  if (!s.startsWith('(') || !s.endsWith(')')) throw new ScriptError(`expected a list like (a,b), got ${s}`);
  const inner = s.slice(1, -1).trim();
  return inner === '' ? [] : inner.split(',').map((x) => unquote(x.trim()));
}

export class Args {
  readonly command: string;
  readonly positional: readonly string[];
  private readonly pairs: { readonly key: string; readonly value: string; used: boolean }[] = [];

  constructor(line: string) {
    const [command, ...rest] = tokenize(line);
    if (command === undefined) throw new ScriptError('empty command');
    this.command = command;
    const positional: string[] = [];
    for (const t of rest) {
      const eq = t.indexOf('=');
      // A bare token, or a quoted one that may hold '=' (a payload).
      if (eq <= 0 || t.startsWith('"') || t.startsWith("'")) positional.push(unquote(t));
      else this.pairs.push({ key: t.slice(0, eq), value: unquote(t.slice(eq + 1)), used: false });
    }
    this.positional = positional;
  }

  /** Every value of `key`, in order. */
  all(key: string): string[] {
    return this.pairs.filter((p) => p.key === key).map((p) => ((p.used = true), p.value));
  }

  /** The value of `key`; an error when given twice. */
  get(key: string): string | undefined {
    const vs = this.all(key);
    if (vs.length > 1) throw new ScriptError(`${key}= given ${vs.length} times`);
    return vs[0];
  }

  required(key: string): string {
    const v = this.get(key);
    if (v === undefined) throw new ScriptError(`${this.command} needs ${key}=`);
    return v;
  }

  int(key: string, fallback: number): number {
    const v = this.get(key);
    if (v === undefined) return fallback;
    if (!/^\d+$/.test(v)) throw new ScriptError(`${key}=${v} is not a non-negative integer`);
    return Number(v);
  }

  bool(key: string): boolean | undefined {
    const v = this.get(key);
    if (v === undefined) return undefined;
    if (v !== 'true' && v !== 'false') throw new ScriptError(`${key}=${v} is not true or false`);
    return v === 'true';
  }

  /** Keys given, in order (for commands that accept any key, like `check`). */
  keys(): string[] {
    return [...new Set(this.pairs.map((p) => p.key))];
  }

  /** Exactly `n` positional arguments (or between min and max). */
  positionalCount(min: number, max = min): readonly string[] {
    const n = this.positional.length;
    if (n < min || n > max) {
      const want = min === max ? `${min}` : max === Infinity ? `at least ${min}` : `${min} to ${max}`;
      throw new ScriptError(`${this.command} takes ${want} positional argument(s), got ${n}`);
    }
    return this.positional;
  }

  done(): void {
    const unused = this.pairs.filter((p) => !p.used).map((p) => p.key);
    if (unused.length > 0) throw new ScriptError(`${this.command} does not take ${[...new Set(unused)].join(', ')}`);
  }
}
