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

// verbose: each error carries its schema, so a message can list the allowed properties
// and name the type that was sent (validation-messages.ts). It costs nothing until a
// request fails.
const common: Options = { allErrors: false, useDefaults: true, strict: false, verbose: true };

type HttpPart = 'body' | 'querystring' | 'params' | 'headers';

function makeCompilers(): Record<HttpPart, Ajv> {
  const strict = new Ajv({ ...common, coerceTypes: false, removeAdditional: false });
  const coercing = new Ajv({ ...common, coerceTypes: 'array', removeAdditional: false });
  return { body: strict, querystring: coercing, params: coercing, headers: coercing };
}

/** Install on a fastify instance before registering routes. Tests of route plugins use it too. */
export function installStrictValidation(app: FastifyInstance): void {
  // Bodies are JSON. fastify also parses text/plain by default, which turned a body
  // sent as text into "body must be object"; without the parser it is 415
  // UNSUPPORTED_MEDIA_TYPE with a hint, like a form or a body with no content-type.
  app.removeContentTypeParser('text/plain');
  const compilers = makeCompilers();
  app.setValidatorCompiler(({ schema, httpPart }: { schema: FastifySchema; httpPart?: string }) => {
    const part = (httpPart ?? 'body') as HttpPart;
    const ajv = compilers[part] ?? compilers.body;
    return ajv.compile(schema as object);
  });
}
