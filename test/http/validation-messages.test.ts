// A 400 names what is wrong, and a body in the wrong content type is a 415 with a hint
// (issue 16). Through the transaction routes as a node serves them (the one edge:
// error-handler.ts, validation.ts), and the message builder on its own.
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { describeIssue, readablePath } from '../../src/http/validation-messages.js';
import { startLeader, type TestNode } from '../tx/harness.js';

describe('validation and content-type errors on the transaction routes', () => {
  let node: TestNode;
  beforeAll(async () => {
    ({ node } = await startLeader());
  });
  afterAll(async () => {
    await node?.close();
  });

  const post = (url: string, payload: string, contentType?: string) =>
    node.app.inject({ method: 'POST', url, payload, headers: contentType === undefined ? {} : { 'content-type': contentType } });
  const error = async (res: Promise<{ statusCode: number; json: <T>() => T }>) => {
    const r = await res;
    return { status: r.statusCode, ...r.json<{ error: { code: string; message: string } }>().error };
  };

  it('names an unknown property and lists the allowed ones', async () => {
    expect(await error(post('/v1/transactions', '{"participnts":[]}', 'application/json'))).toMatchObject({
      status: 400,
      code: 'VALIDATION_FAILED',
      message: 'body has an unknown property "participnts" (allowed: participants, protocol, timeoutMs, commit)',
    });
  });

  it('lists the allowed values of an enum, with the value sent', async () => {
    expect(await error(post('/v1/transactions', '{"protocol":"4pc"}', 'application/json'))).toMatchObject({
      status: 400,
      message: 'body.protocol ("4pc") must be one of "2pc", "3pc"',
    });
  });

  it('names the path of a wrong type and of a missing property', async () => {
    const wrongType = '{"participants":[{"name":"a","url":5}]}';
    expect(await error(post('/v1/transactions', wrongType, 'application/json'))).toMatchObject({
      status: 400,
      message: 'body.participants[0].url must be a string, not a number',
    });
    const missing = '{"participants":[{"name":"a"}]}';
    expect(await error(post('/v1/transactions', missing, 'application/json'))).toMatchObject({
      status: 400,
      message: 'body.participants[0] is missing the required property "url"',
    });
    expect(await error(post('/v1/transactions', '{"commit":"true"}', 'application/json'))).toMatchObject({
      status: 400,
      message: 'body.commit must be a boolean, not a string',
    });
    expect(await error(post('/v1/transactions', '"x"', 'application/json'))).toMatchObject({
      status: 400,
      message: 'body must be an object, not a string',
    });
  });

  it('answers a body without a content-type, as a form or as text with 415 and a hint', async () => {
    for (const type of [undefined, 'application/x-www-form-urlencoded', 'text/plain']) {
      const e = await error(post('/v1/transactions', '{"protocol":"2pc"}', type));
      expect(e).toMatchObject({ status: 415, code: 'UNSUPPORTED_MEDIA_TYPE' });
      expect(e.message).toContain(type === undefined ? 'no content-type' : `content-type "${type}"`);
      expect(e.message).toContain('send JSON with the header "content-type: application/json"');
    }
  });

  it('still takes a POST without a body and without a content-type (curl -XPOST .../commit)', async () => {
    const created = await node.app.inject({ method: 'POST', url: '/v1/transactions' });
    expect(created.statusCode).toBe(201);
    const id = created.json<{ id: string }>().id;
    expect((await node.app.inject({ method: 'POST', url: `/v1/transactions/${id}/commit` })).statusCode).toBe(200);
  });
});

describe('validation messages', () => {
  it('writes JSON pointers as paths a reader knows', () => {
    expect(readablePath('body', '')).toBe('body');
    expect(readablePath('body', '/participants/0/url')).toBe('body.participants[0].url');
    expect(readablePath('headers', '/idempotency-key')).toBe('headers["idempotency-key"]');
    expect(readablePath('body', '/a~1b/c~0d')).toBe('body["a/b"]["c~d"]');
  });

  it('falls back to the validator message, and leaves out what the error does not carry', () => {
    expect(
      describeIssue('querystring', { keyword: 'maximum', instancePath: '/limit', params: {}, message: 'must be <= 50', data: 99 }),
    ).toBe('querystring.limit (99) must be <= 50');
    expect(describeIssue('body', { keyword: 'additionalProperties', instancePath: '', params: { additionalProperty: 'x' } })).toBe(
      'body has an unknown property "x"',
    );
    expect(describeIssue('body', { keyword: 'type', instancePath: '/n', params: { type: 'integer,null' }, data: [] })).toBe(
      'body.n must be an integer or null, not an array',
    );
    expect(describeIssue('body', { keyword: 'type', instancePath: '/n', params: { type: 'integer' } })).toBe('body.n must be an integer');
  });
});
