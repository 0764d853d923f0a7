// Request validation for every route: strict bodies, coerced query strings.
//
// fastify's default Ajv coerces types and silently drops unknown properties.
// For a coordinator that is wrong: {"commit": "true"} must not run a protocol,
// and a misspelled field must be an error, not a silent default. Query strings
// and path params arrive as text, so those parts keep coercion (?limit=10).
//
// No schema uses a `format` (ids, URLs and the like are checked by pattern or by code,
// with our own error codes), so Ajv gets no format definitions.
import { Ajv, type Options } from 'ajv';
import type { FastifyInstance, FastifySchema } from 'fastify';

const common: Options = { allErrors: false, useDefaults: true, strict: false };

type HttpPart = 'body' | 'querystring' | 'params' | 'headers';

function makeCompilers(): Record<HttpPart, Ajv> {
  const strict = new Ajv({ ...common, coerceTypes: false, removeAdditional: false });
  const coercing = new Ajv({ ...common, coerceTypes: 'array', removeAdditional: false });
  return { body: strict, querystring: coercing, params: coercing, headers: coercing };
}

/** Install on a fastify instance before registering routes. Tests of route plugins use it too. */
export function installStrictValidation(app: FastifyInstance): void {
  const compilers = makeCompilers();
  app.setValidatorCompiler(({ schema, httpPart }: { schema: FastifySchema; httpPart?: string }) => {
    const part = (httpPart ?? 'body') as HttpPart;
    const ajv = compilers[part] ?? compilers.body;
    return ajv.compile(schema as object);
  });
}
