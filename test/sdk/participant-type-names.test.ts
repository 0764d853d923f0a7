// The participant SDK's type names: the Participant-prefixed ones, and the earlier names
// (TxRecord, TxState, Vote, Protocol) kept as deprecated aliases so code written against
// earlier releases still compiles (src/sdk/README.md, "Types").
//
// Two layers. expectTypeOf fails `npm run typecheck` if an old name stops resolving to
// its new one. The compiler API run below fails the test itself if an alias is dropped
// from the public entry, stops being the same type, or loses its @deprecated tag (which
// is what makes editors strike the old name through and point to the new one).
import ts from 'typescript';
import { describe, expect, expectTypeOf, it } from 'vitest';
import type * as participant from '../../src/sdk/participant/index.js';

const ENTRY = new URL('../../src/sdk/participant/index.ts', import.meta.url).pathname;

const RENAMES = {
  TxRecord: 'ParticipantTxRecord',
  TxState: 'ParticipantTxState',
  Vote: 'ParticipantVote',
  Protocol: 'ParticipantProtocol',
} as const;

describe('participant SDK type names', () => {
  it('resolves every old name to its new one (checked by npm run typecheck)', () => {
    expectTypeOf<participant.TxRecord>().toEqualTypeOf<participant.ParticipantTxRecord>();
    expectTypeOf<participant.TxState>().toEqualTypeOf<participant.ParticipantTxState>();
    expectTypeOf<participant.Vote>().toEqualTypeOf<participant.ParticipantVote>();
    expectTypeOf<participant.Protocol>().toEqualTypeOf<participant.ParticipantProtocol>();
    // A record written with the old name is a record of the new one, and back.
    const record: participant.TxRecord = {
      txId: 't1',
      participant: 'p',
      state: 'prepared',
      protocol: '3pc',
      payload: null,
      vote: 'commit',
      reason: null,
      preparedTerm: 2,
      updatedAtMs: 0,
    };
    const renamed: participant.ParticipantTxRecord = record;
    expect(renamed.state).toBe('prepared');
  });

  it('exports each old name from the public entry as a deprecated alias of the same type', () => {
    const program = ts.createProgram([ENTRY], {
      strict: true,
      noEmit: true,
      skipLibCheck: true,
      types: [],
      module: ts.ModuleKind.NodeNext,
      moduleResolution: ts.ModuleResolutionKind.NodeNext,
    });
    const checker = program.getTypeChecker();
    const source = program.getSourceFile(ENTRY);
    if (source === undefined) throw new Error(`no source file ${ENTRY}`);
    const moduleSymbol = checker.getSymbolAtLocation(source);
    if (moduleSymbol === undefined) throw new Error(`${ENTRY} is not a module`);
    const exports = new Map(checker.getExportsOfModule(moduleSymbol).map((s) => [s.getName(), s]));
    const typeOf = (name: string): ts.Type => {
      const symbol = exports.get(name);
      if (symbol === undefined) throw new Error(`${name} is not exported`);
      const target = symbol.flags & ts.SymbolFlags.Alias ? checker.getAliasedSymbol(symbol) : symbol;
      return checker.getDeclaredTypeOfSymbol(target);
    };
    for (const [old, renamed] of Object.entries(RENAMES)) {
      const a = typeOf(old);
      const b = typeOf(renamed);
      expect(checker.isTypeAssignableTo(a, b) && checker.isTypeAssignableTo(b, a), `${old} is ${renamed}`).toBe(true);
      const tags = exports.get(old)!.getJsDocTags(checker);
      expect(
        tags.map((t) => `${t.name} ${ts.displayPartsToString(t.text)}`),
        old,
      ).toEqual([`deprecated use ${renamed}`]);
      // The new name itself is not deprecated.
      expect(
        exports
          .get(renamed)!
          .getJsDocTags(checker)
          .some((t) => t.name === 'deprecated'),
        renamed,
      ).toBe(false);
    }
    // The check can tell types apart: the record's state is not the protocol.
    expect(checker.isTypeAssignableTo(typeOf('ParticipantTxState'), typeOf('ParticipantProtocol'))).toBe(false);
  });
});
