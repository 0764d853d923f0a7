// Response schemas of the dashboard's JSON endpoints (GET /v1/cluster/nodes,
// /v1/stats, /v1/activity). They filter what is sent and are what the OpenAPI
// document shows.
import { txConfigDefaults } from '../tx/config.js';
import { txSchemas } from '../tx/schemas.js';
import { TX_STATES } from '../tx/types.js';
import { HEALTH_VALUES } from './cluster-survey.js';
import { errorResponses } from './schemas.js';

const integer = { type: 'integer' } as const;
const nullableInteger = { type: ['integer', 'null'] } as const;
const nullableString = { type: ['string', 'null'] } as const;

/**
 * The transaction view exactly as GET /v1/transactions/{id} answers it: taken from
 * the transaction routes' own schema (which does not depend on the limits in the
 * config) so the two cannot drift apart.
 */
const txViewSchema = txSchemas(txConfigDefaults).byId.response[200];

const selfReportSchema = {
  type: 'object',
  required: ['nodeId', 'role', 'term', 'leaderId', 'commitIndex', 'appliedIndex'],
  properties: {
    nodeId: { type: 'string' },
    role: { type: 'string', enum: ['leader', 'follower', 'candidate', 'learner'] },
    term: integer,
    leaderId: nullableString,
    commitIndex: integer,
    appliedIndex: integer,
  },
} as const;

export const surveySchema = {
  response: {
    200: {
      type: 'object',
      required: ['observedBy', 'atMs', 'leaderId', 'term', 'lagEntriesMax', 'members'],
      properties: {
        observedBy: { type: 'string', description: 'The node that asked every member.' },
        atMs: integer,
        leaderId: { ...nullableString, description: 'The reachable member that reports itself leader in the highest term.' },
        term: nullableInteger,
        lagEntriesMax: { ...integer, description: 'A member further behind the leader than this is lagging (readyLagEntriesMax).' },
        members: {
          type: 'array',
          items: {
            type: 'object',
            required: ['id', 'url', 'voter', 'health', 'error', 'report', 'lagEntries'],
            properties: {
              id: { type: 'string' },
              url: { type: 'string' },
              voter: { type: 'boolean' },
              health: { type: 'string', enum: HEALTH_VALUES },
              error: { ...nullableString, description: 'Why the member could not be asked.' },
              report: {
                anyOf: [selfReportSchema, { type: 'null' }],
                description: "The member's own GET /v1/cluster; null when unreachable.",
              },
              lagEntries: { ...nullableInteger, description: "The leader's commit index minus this member's applied index." },
            },
          },
        },
      },
    },
    ...errorResponses,
  },
} as const;

const latencySchema = {
  anyOf: [
    {
      type: 'object',
      required: ['p50', 'p90', 'p99', 'max'],
      properties: { p50: { type: 'number' }, p90: { type: 'number' }, p99: { type: 'number' }, max: { type: 'number' } },
    },
    { type: 'null' },
  ],
} as const;

export const statsSchema = {
  response: {
    200: {
      type: 'object',
      required: ['nodeId', 'atMs', 'intervalMs', 'windowsMax', 'samples'],
      properties: {
        nodeId: { type: 'string' },
        atMs: integer,
        intervalMs: integer,
        windowsMax: integer,
        samples: {
          type: 'array',
          description: 'Oldest first; one per window this node saw, the newest still open.',
          items: {
            type: 'object',
            required: ['atMs', 'committed', 'aborted', 'decisionLatencyMs', 'raft'],
            properties: {
              atMs: { ...integer, description: 'Start of the window.' },
              committed: { ...integer, description: 'Decisions to commit whose decidedAt falls in the window.' },
              aborted: integer,
              decisionLatencyMs: {
                ...latencySchema,
                description: 'Creation to durable decision over those decisions (bin upper bounds; max exact).',
              },
              raft: {
                anyOf: [
                  {
                    type: 'object',
                    required: ['term', 'leaderId', 'commitIndex', 'appliedIndex'],
                    properties: { term: integer, leaderId: nullableString, commitIndex: integer, appliedIndex: integer },
                  },
                  { type: 'null' },
                ],
              },
            },
          },
        },
      },
    },
    ...errorResponses,
  },
} as const;

const agedTx = { type: 'object', required: ['ageMs', 'tx'], properties: { ageMs: integer, tx: txViewSchema } } as const;

export const ACTIVITY_LIMIT_MAX = 500;
export const STUCK_AFTER_MS_MAX = 7 * 24 * 3600 * 1000;

export const activitySchema = {
  querystring: {
    type: 'object',
    additionalProperties: false,
    properties: {
      stuckAfterMs: {
        type: 'integer',
        minimum: 0,
        maximum: STUCK_AFTER_MS_MAX,
        default: 10_000,
        description: 'In flight for longer than this is stuck.',
      },
      limit: {
        type: 'integer',
        minimum: 1,
        maximum: ACTIVITY_LIMIT_MAX,
        default: 50,
        description: 'Bound on each list (the counts are exact).',
      },
    },
  },
  response: {
    200: {
      type: 'object',
      required: ['nodeId', 'atMs', 'appliedIndex', 'stuckAfterMs', 'inFlight', 'stuck', 'failing', 'recent'],
      properties: {
        nodeId: { type: 'string' },
        atMs: integer,
        appliedIndex: { ...integer, description: 'The table is as of this Raft index of the node asked.' },
        stuckAfterMs: integer,
        inFlight: {
          type: 'object',
          required: ['count', 'byState', 'oldest'],
          properties: {
            count: integer,
            byState: { type: 'object', required: TX_STATES, properties: Object.fromEntries(TX_STATES.map((s) => [s, integer])) },
            oldest: { type: 'array', items: agedTx },
          },
        },
        stuck: { type: 'object', required: ['count', 'oldest'], properties: { count: integer, oldest: { type: 'array', items: agedTx } } },
        failing: {
          type: 'object',
          required: ['count', 'participants'],
          properties: {
            count: integer,
            participants: {
              type: 'array',
              items: {
                type: 'object',
                required: ['txId', 'txState', 'participant', 'url', 'lastError', 'failingSince', 'failingForMs'],
                properties: {
                  txId: { type: 'string' },
                  txState: { type: 'string', enum: TX_STATES },
                  participant: { type: 'string' },
                  url: { type: 'string' },
                  lastError: nullableString,
                  failingSince: { type: 'string' },
                  failingForMs: integer,
                },
              },
            },
          },
        },
        recent: {
          type: 'array',
          description: 'The latest decisions this node applied, newest first.',
          items: { type: 'object', required: ['decisionLatencyMs', 'tx'], properties: { decisionLatencyMs: integer, tx: txViewSchema } },
        },
      },
    },
    ...errorResponses,
  },
} as const;

export const pageSchema = {
  response: { 200: { description: 'HTML', content: { 'text/html': { schema: { type: 'string' } } } } },
} as const;
