// JSON schemas shared by the HTTP routes. Response schemas double as a filter:
// fastify serializes only the declared fields, so internals never leak.

export const errorBodySchema = {
  type: 'object',
  required: ['error'],
  properties: {
    error: {
      type: 'object',
      required: ['code', 'message'],
      properties: { code: { type: 'string' }, message: { type: 'string' } },
      // details (leaderId, issues, ...) are chosen by RatifyError and safe to show
      additionalProperties: true,
    },
  },
} as const;

/** Attach to every route's `response` so error replies are serialized the same way. */
export const errorResponses = { '4xx': errorBodySchema, '5xx': errorBodySchema } as const;

export const memberSchema = {
  type: 'object',
  required: ['id', 'url', 'voter'],
  properties: { id: { type: 'string' }, url: { type: 'string' }, voter: { type: 'boolean' } },
} as const;

export const nodeIdSchema = { type: 'string', minLength: 1, maxLength: 64, pattern: '^[A-Za-z0-9][A-Za-z0-9_.-]*$' } as const;

export const urlSchema = { type: 'string', minLength: 8, maxLength: 2048, pattern: '^https?://' } as const;
