// The README's worked example of a participant call signature (Participant
// protocol, "Signed calls") must be what the code computes, line for line.
import { readFileSync } from 'node:fs';
import { describe, expect, it } from 'vitest';
import { canonicalString, signCall, verifyCall } from '../../src/sdk/participant/signature.js';

function documentedExample(): Map<string, string[]> {
  const readme = readFileSync(new URL('../../README.md', import.meta.url), 'utf8');
  const block = /<!-- signature-example -->\s*```text\n([\s\S]*?)```\s*<!-- \/signature-example -->/.exec(readme)?.[1];
  if (block === undefined) throw new Error('README has no signature example block');
  // "label   value" lines; a line starting with blanks continues the label above.
  const fields = new Map<string, string[]>();
  let label = '';
  for (const line of block.split('\n')) {
    if (line.trim() === '') continue;
    const m = /^(\S+)?\s+(.*)$/.exec(line)!;
    if (m[1] !== undefined) label = m[1] === 'canonical' ? 'canonical' : m[1];
    if (m[1] === 'string') label = 'canonical';
    fields.set(label, [...(fields.get(label) ?? []), m[2]!]);
  }
  return fields;
}

describe('the documented signature example', () => {
  const doc = documentedExample();
  const header = (name: string) =>
    doc
      .get('headers')!
      .find((h) => h.startsWith(`${name}: `))!
      .slice(name.length + 2);
  const [method, path] = doc.get('request')![0]!.split(' ') as [string, string];
  const call = {
    method,
    path,
    clusterId: header('X-Ratify-Cluster'),
    incarnation: header('X-Ratify-Incarnation'),
    term: Number(header('X-Ratify-Term')),
    timestampMs: Number(header('X-Ratify-Timestamp')),
    body: doc.get('body')![0]!,
  };
  const key = doc.get('key')![0]!;

  it('has the canonical string and signature the code computes', () => {
    expect(canonicalString(call).split('\n')).toEqual(doc.get('canonical'));
    expect(`X-Ratify-Signature: v1=${signCall(key, call)}`).toBe(doc.get('header')![0]);
  });

  it('verifies, and fails with one byte of the body changed', () => {
    const headers = {
      'x-ratify-cluster': call.clusterId,
      'x-ratify-incarnation': call.incarnation,
      'x-ratify-term': String(call.term),
      'x-ratify-timestamp': String(call.timestampMs),
      'x-ratify-signature': doc.get('header')![0]!.split(': ')[1]!,
    };
    const opts = { keys: [key], nowMs: call.timestampMs, skewMsMax: 1_000 };
    expect(verifyCall({ method, path, headers, body: call.body }, opts)).toEqual({ ok: true });
    expect(verifyCall({ method, path, headers, body: call.body.replace('7', '8') }, opts)).toMatchObject({ ok: false, reason: 'mismatch' });
  });
});
