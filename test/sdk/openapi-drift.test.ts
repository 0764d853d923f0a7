// The client SDK's types (src/sdk/client-types.ts, hand-written so the client can
// ship without server code) against the server's OpenAPI document: the same field
// names, the same required and nullable fields, the same enums (states, outcomes,
// protocols, votes, roles), the same nesting. A field added to one side only, a
// renamed state or a field made optional fails here.
//
// The types are read with the TypeScript compiler's parser, so this test sees the
// declarations themselves, not a copy of them.
import { readFileSync } from 'node:fs';
import ts from 'typescript';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { startTxAppCluster, type TxAppCluster } from '../helpers/tx-app-cluster.js';

const TYPES_FILE = new URL('../../src/sdk/client-types.ts', import.meta.url);

// ---- the SDK side ----------------------------------------------------------

type Shape =
  | { readonly kind: 'primitive'; readonly name: 'string' | 'number' | 'boolean' | 'unknown' }
  | { readonly kind: 'enum'; readonly values: readonly string[] }
  | { readonly kind: 'ref'; readonly name: string }
  | { readonly kind: 'array'; readonly of: Shape };

interface Prop {
  readonly optional: boolean;
  readonly nullable: boolean;
  readonly shape: Shape;
}

interface SdkTypes {
  readonly interfaces: Map<string, { readonly props: Map<string, Prop>; readonly extends: readonly string[] }>;
  readonly aliases: Map<string, ts.TypeNode>;
}

function readSdkTypes(): SdkTypes {
  const source = ts.createSourceFile('client-types.ts', readFileSync(TYPES_FILE, 'utf8'), ts.ScriptTarget.ES2022, true);
  const aliases = new Map<string, ts.TypeNode>();
  const interfaces: SdkTypes['interfaces'] = new Map();
  const pending: ts.InterfaceDeclaration[] = [];
  for (const st of source.statements) {
    if (ts.isTypeAliasDeclaration(st)) aliases.set(st.name.text, st.type);
    if (ts.isInterfaceDeclaration(st)) pending.push(st);
  }
  const types: SdkTypes = { interfaces, aliases };
  for (const decl of pending) {
    const props = new Map<string, Prop>();
    for (const m of decl.members) {
      if (!ts.isPropertySignature(m) || m.type === undefined) continue;
      props.set(m.name.getText(source), { optional: m.questionToken !== undefined, ...shapeOf(m.type, types) });
    }
    const ext = (decl.heritageClauses ?? []).flatMap((h) => h.types.map((t) => t.expression.getText(source)));
    interfaces.set(decl.name.text, { props, extends: ext });
  }
  return types;
}

/** A property's type as the schema comparison needs it; `null` in a union makes it nullable. */
function shapeOf(node: ts.TypeNode, types: SdkTypes): { nullable: boolean; shape: Shape } {
  if (ts.isTypeOperatorNode(node)) return shapeOf(node.type, types); // readonly T[]
  if (ts.isParenthesizedTypeNode(node)) return shapeOf(node.type, types);
  if (ts.isArrayTypeNode(node)) return { nullable: false, shape: { kind: 'array', of: shapeOf(node.elementType, types).shape } };
  if (ts.isUnionTypeNode(node)) {
    const parts = node.types.map((t) => (isNull(t) ? null : shapeOf(t, types)));
    const nullable = parts.includes(null);
    const rest = parts.filter((p): p is { nullable: boolean; shape: Shape } => p !== null);
    if (rest.length === 1) return { nullable: nullable || rest[0]!.nullable, shape: rest[0]!.shape };
    if (rest.every((p) => p.shape.kind === 'enum'))
      return { nullable, shape: { kind: 'enum', values: rest.flatMap((p) => (p.shape.kind === 'enum' ? p.shape.values : [])) } };
    throw new Error(`unsupported union ${node.getText()}`);
  }
  if (ts.isLiteralTypeNode(node) && ts.isStringLiteral(node.literal))
    return { nullable: false, shape: { kind: 'enum', values: [node.literal.text] } };
  if (ts.isTypeReferenceNode(node)) {
    const name = node.typeName.getText();
    const alias = types.aliases.get(name);
    if (alias !== undefined) return shapeOf(alias, types);
    return { nullable: false, shape: { kind: 'ref', name } };
  }
  switch (node.kind) {
    case ts.SyntaxKind.StringKeyword:
      return { nullable: false, shape: { kind: 'primitive', name: 'string' } };
    case ts.SyntaxKind.NumberKeyword:
      return { nullable: false, shape: { kind: 'primitive', name: 'number' } };
    case ts.SyntaxKind.BooleanKeyword:
      return { nullable: false, shape: { kind: 'primitive', name: 'boolean' } };
    case ts.SyntaxKind.UnknownKeyword:
      return { nullable: false, shape: { kind: 'primitive', name: 'unknown' } };
    default:
      throw new Error(`unsupported type ${node.getText()}`);
  }
}

const isNull = (t: ts.TypeNode): boolean => ts.isLiteralTypeNode(t) && t.literal.kind === ts.SyntaxKind.NullKeyword;

/** The interface's own properties and those it extends (a later declaration wins, as in TypeScript). */
function propsOf(types: SdkTypes, name: string): Map<string, Prop> {
  const i = types.interfaces.get(name);
  if (i === undefined) throw new Error(`no interface ${name} in client-types.ts`);
  const out = new Map<string, Prop>();
  for (const parent of i.extends) for (const [k, v] of propsOf(types, parent)) out.set(k, v);
  for (const [k, v] of i.props) out.set(k, v);
  return out;
}

// ---- the comparison ----------------------------------------------------------

type Schema = {
  type?: string | string[];
  enum?: unknown[];
  properties?: Record<string, Schema>;
  required?: string[];
  items?: Schema;
  anyOf?: Schema[];
};

/** Differences between an SDK interface and an object schema of the document, as readable lines. */
function compare(types: SdkTypes, iface: string, schema: Schema, where: string, skip: ReadonlySet<string> = new Set()): string[] {
  const out: string[] = [];
  const props = propsOf(types, iface);
  const schemaProps = schema.properties ?? {};
  const required = new Set(schema.required ?? []);
  for (const name of new Set([...props.keys(), ...Object.keys(schemaProps)])) {
    if (skip.has(name)) continue;
    const p = props.get(name);
    const s = schemaProps[name];
    const at = `${iface}.${name} (${where})`;
    if (p === undefined) {
      out.push(`${at}: in the document, not in the SDK type`);
      continue;
    }
    if (s === undefined) {
      out.push(`${at}: in the SDK type, not in the document`);
      continue;
    }
    if (p.optional === required.has(name))
      out.push(`${at}: ${p.optional ? 'optional in the SDK, required in the document' : 'required in the SDK, optional in the document'}`);
    const schemaTypes = ([] as string[]).concat(s.type ?? []);
    const schemaNullable = schemaTypes.includes('null') || (s.enum ?? []).includes(null);
    if (p.nullable !== schemaNullable) out.push(`${at}: ${p.nullable ? 'nullable in the SDK only' : 'nullable in the document only'}`);
    out.push(...compareShape(types, p.shape, s, at));
  }
  return out;
}

function compareShape(types: SdkTypes, shape: Shape, s: Schema, at: string): string[] {
  const schemaTypes = ([] as string[]).concat(s.type ?? []).filter((t) => t !== 'null');
  switch (shape.kind) {
    case 'primitive': {
      const expected: readonly string[] = { string: ['string'], number: ['integer', 'number'], boolean: ['boolean'], unknown: [] }[
        shape.name
      ];
      if (shape.name === 'unknown')
        return schemaTypes.length === 0 ? [] : [`${at}: unknown in the SDK, ${schemaTypes.join('|')} in the document`];
      return schemaTypes.length === 1 && expected.includes(schemaTypes[0]!)
        ? []
        : [`${at}: ${shape.name} in the SDK, ${schemaTypes.join('|') || 'any'} in the document`];
    }
    case 'enum': {
      const values = (s.enum ?? []).filter((v) => v !== null);
      return JSON.stringify([...values].sort()) === JSON.stringify([...shape.values].sort())
        ? []
        : [`${at}: values ${shape.values.join(', ')} in the SDK, ${values.join(', ') || '(no enum)'} in the document`];
    }
    case 'array':
      if (!schemaTypes.includes('array') || s.items === undefined) return [`${at}: an array in the SDK, not in the document`];
      return compareShape(types, shape.of, s.items, `${at}[]`);
    case 'ref':
      if (!schemaTypes.includes('object') && s.properties === undefined)
        return [`${at}: ${shape.name} in the SDK, not an object in the document`];
      return compare(types, shape.name, s, at);
    default:
      return [];
  }
}

// ---- the document ----------------------------------------------------------

type Doc = {
  paths: Record<
    string,
    Record<
      string,
      {
        parameters?: Array<{ name: string; in: string; required?: boolean; schema: Schema }>;
        requestBody?: { content: Record<string, { schema: Schema }> };
        responses: Record<string, { content?: Record<string, { schema: Schema }> }>;
      }
    >
  >;
};

let cluster: TxAppCluster;
let doc: Doc;
let sdk: SdkTypes;

beforeAll(async () => {
  cluster = await startTxAppCluster();
  doc = (await (await cluster.leader()).app.inject({ method: 'GET', url: '/openapi.json' })).json<Doc>();
  sdk = readSdkTypes();
});
afterAll(async () => {
  await cluster?.close();
});

const op = (method: string, path: string) => {
  const o = doc.paths[path]?.[method];
  if (o === undefined) throw new Error(`${method.toUpperCase()} ${path} is not in the document`);
  return o;
};
const answer = (method: string, path: string, status = '200'): Schema =>
  op(method, path).responses[status]!.content!['application/json']!.schema;
const body = (method: string, path: string): Schema => op(method, path).requestBody!.content['application/json']!.schema;

describe('client SDK types vs the OpenAPI document', () => {
  it('TransactionView and ParticipantView match the view every transaction route answers', () => {
    expect(compare(sdk, 'TransactionView', answer('get', '/v1/transactions/{id}'), 'GET /v1/transactions/{id}')).toEqual([]);
    expect(compare(sdk, 'TransactionView', answer('post', '/v1/transactions', '201'), 'POST /v1/transactions 201')).toEqual([]);
    expect(compare(sdk, 'TransactionView', answer('post', '/v1/transactions/{id}/commit'), 'POST commit')).toEqual([]);
  });

  it('TransactionPage matches the list answer', () => {
    expect(compare(sdk, 'TransactionPage', answer('get', '/v1/transactions'), 'GET /v1/transactions')).toEqual([]);
  });

  it('ClusterView and ClusterMember match GET /v1/cluster', () => {
    expect(compare(sdk, 'ClusterView', answer('get', '/v1/cluster'), 'GET /v1/cluster')).toEqual([]);
  });

  it('ParticipantSpec matches the enlist body, and CreateTransactionInput the create body (the idempotency key travels as a header)', () => {
    expect(compare(sdk, 'ParticipantSpec', body('post', '/v1/transactions/{id}/participants'), 'enlist body')).toEqual([]);
    // `commit` is the one-shot flag the SDK sets itself (run()); the key is the Idempotency-Key header.
    expect(
      compare(sdk, 'CreateTransactionInput', body('post', '/v1/transactions'), 'create body', new Set(['commit', 'idempotencyKey'])),
    ).toEqual([]);
    expect(body('post', '/v1/transactions').properties?.['commit']).toEqual({ type: 'boolean' });
    const header = op('post', '/v1/transactions').parameters?.find((p) => p.in === 'header' && p.name === 'idempotency-key');
    expect(header?.schema.type).toBe('string');
    expect(propsOf(sdk, 'CreateTransactionInput').get('idempotencyKey')).toMatchObject({
      optional: true,
      shape: { kind: 'primitive', name: 'string' },
    });
  });

  it('ListInput matches the list query parameters', () => {
    const params = (op('get', '/v1/transactions').parameters ?? []).filter((p) => p.in === 'query');
    const asSchema: Schema = {
      type: 'object',
      properties: Object.fromEntries(params.map((p) => [p.name, p.schema])),
      required: params.filter((p) => p.required === true).map((p) => p.name),
    };
    expect(compare(sdk, 'ListInput', asSchema, 'GET /v1/transactions query')).toEqual([]);
  });

  it('catches drift: a renamed state, a missing field, a field made optional', () => {
    const view = structuredClone(answer('get', '/v1/transactions/{id}'));
    view.properties!['state']!.enum = ['active', 'preparing', 'committed', 'aborted', 'aborting', 'committing', 'prepared'];
    delete view.properties!['decidedAt'];
    view.required = view.required!.filter((r) => r !== 'createdAt');
    view.properties!['participants']!.items!.properties!['retries'] = { type: 'integer' };
    expect(compare(sdk, 'TransactionView', view, 'mutated')).toEqual([
      expect.stringContaining('TransactionView.state (mutated): values'),
      'ParticipantView.retries (TransactionView.participants (mutated)[]): in the document, not in the SDK type',
      'TransactionView.createdAt (mutated): required in the SDK, optional in the document',
      'TransactionView.decidedAt (mutated): in the SDK type, not in the document',
    ]);
  });
});
