// What a 400 VALIDATION_FAILED says: the part of the request and the path of the
// value at fault, and what would have been right. Ajv's own messages leave the
// reader guessing ("body must NOT have additional properties", "must be equal to
// one of the allowed values"); these name the unknown property, list the allowed
// values, and say which type was sent where another was expected:
//
//   body has an unknown property "participnts" (allowed: participants, protocol, timeoutMs, commit)
//   body.protocol ("4pc") must be one of "2pc", "3pc"
//   body.participants[0].url must be a string, not a number
//   body.participants[0] is missing the required property "url"
//
// The allowed properties come from the schema (Ajv's `verbose` option, set in
// validation.ts, attaches it to each error); without it a message just leaves
// that list out. A value is echoed only when it is a short scalar.

/** The fields of an Ajv ErrorObject this module reads (fastify passes Ajv's errors through). */
export interface ValidationIssueInput {
  readonly keyword: string;
  readonly instancePath: string;
  readonly params: Record<string, unknown>;
  readonly message?: string | undefined;
  readonly parentSchema?: unknown;
  readonly data?: unknown;
}

export interface ValidationIssue {
  /** JSON pointer of the value within its part ("" for the whole body). */
  readonly path: string;
  readonly message: string;
}

const ECHO_CHARS_MAX = 64;

/** One readable message per issue; `part` is fastify's validationContext (body, querystring, params, headers). */
export function describeIssues(part: string, errors: readonly ValidationIssueInput[]): ValidationIssue[] {
  return errors.map((e) => ({ path: e.instancePath, message: describeIssue(part, e) }));
}

export function describeIssue(part: string, e: ValidationIssueInput): string {
  const where = readablePath(part, e.instancePath);
  switch (e.keyword) {
    case 'additionalProperties': {
      const allowed = allowedProperties(e.parentSchema);
      return `${where} has an unknown property ${JSON.stringify(String(e.params['additionalProperty']))}${allowed === null ? '' : ` (allowed: ${allowed.join(', ') || 'none'})`}`;
    }
    case 'enum': {
      const values = Array.isArray(e.params['allowedValues']) ? e.params['allowedValues'] : [];
      return `${where}${echo(e.data)} must be one of ${values.map((v) => JSON.stringify(v)).join(', ')}`;
    }
    case 'const':
      return `${where}${echo(e.data)} must be ${JSON.stringify(e.params['allowedValue'])}`;
    case 'type':
      return `${where} must be ${article(String(e.params['type']))}${'data' in e ? `, not ${typeName(e.data)}` : ''}`;
    case 'required':
      return `${where} is missing the required property ${JSON.stringify(String(e.params['missingProperty']))}`;
    default:
      return `${where}${echo(e.data)} ${e.message ?? 'is invalid'}`;
  }
}

/** "body", "body.participants[0].url", 'headers["idempotency-key"]'. */
export function readablePath(part: string, pointer: string): string {
  if (pointer === '') return part;
  const segments = pointer
    .split('/')
    .slice(1)
    .map((s) => s.replace(/~1/g, '/').replace(/~0/g, '~'));
  return segments.reduce(
    (out, s) => out + (/^\d+$/.test(s) ? `[${s}]` : /^[A-Za-z_$][\w$]*$/.test(s) ? `.${s}` : `[${JSON.stringify(s)}]`),
    part,
  );
}

function allowedProperties(schema: unknown): string[] | null {
  if (typeof schema !== 'object' || schema === null) return null;
  const props = (schema as { properties?: unknown }).properties;
  return typeof props === 'object' && props !== null ? Object.keys(props) : null;
}

function echo(value: unknown): string {
  if (typeof value === 'number' || typeof value === 'boolean') return ` (${String(value)})`;
  if (typeof value === 'string' && value.length <= ECHO_CHARS_MAX) return ` (${JSON.stringify(value)})`;
  return '';
}

function typeName(value: unknown): string {
  if (value === null) return 'null';
  if (Array.isArray(value)) return 'an array';
  return article(typeof value);
}

/** "string" -> "a string", "integer" -> "an integer", "string,null" -> "a string or null". */
function article(type: string): string {
  return type
    .split(',')
    .map((t) => (t === 'null' ? 'null' : `${/^[aeiou]/.test(t) ? 'an' : 'a'} ${t}`))
    .join(' or ');
}
