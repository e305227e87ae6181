import { AppMessage, AuthFrame } from './client.js';
import { ApiEvent, ClientEvent } from './events.js';
import {
  ElevationRequest,
  InterpretRequest,
  MockUserEvent,
  PoolAllRequest,
  PoolRequest,
  PoolSearchRequest,
  SpectateRequest,
} from './gateway-api.js';
import { B2M, HelloFrame, InitFrame, M2BHead } from './link.js';
import { HistoryRequest, RecoverRequest } from './streams.js';

/**
 * The reference tables of docs/link-frames.md and docs/gateway-api.md, generated from the TypeBox
 * schemas the code validates with (protocol/src/schema-doc.test.ts keeps the files equal to
 * them; `UPDATE_DOCS=1 npx vitest run protocol/src/schema-doc.test.ts` rewrites them). A frame
 * added to a union, or a field to a schema, shows up here without anyone retyping it.
 */

/** A JSON Schema node as TypeBox builds it (only what the tables read). */
interface Node {
  type?: string;
  const?: unknown;
  anyOf?: Node[];
  properties?: Record<string, Node>;
  required?: string[];
  items?: Node;
  patternProperties?: Record<string, Node>;
  minimum?: number;
  maximum?: number;
  minLength?: number;
  maxLength?: number;
  maxItems?: number;
  maxProperties?: number;
  pattern?: string;
}

const cell = (s: string) => s.replace(/\|/g, '\\|');

/** A compact type: `string ≤64`, `integer 1..1000`, `'join'`, `A \| B`, `T[]`, `{a, b?}`. */
export function typeText(schema: unknown): string {
  const n = schema as Node;
  if (n.const !== undefined) return JSON.stringify(n.const).replace(/"/g, "'");
  if (n.anyOf) {
    const literals = n.anyOf.every((a) => a.const !== undefined);
    if (literals && n.anyOf.length > 6) return `one of ${n.anyOf.length} values (${n.anyOf.map((a) => String(a.const)).slice(0, 3).join(', ')}, …)`;
    return n.anyOf.map(typeText).join(' | ');
  }
  if (n.patternProperties) {
    const [value] = Object.values(n.patternProperties);
    return `{[key]: ${typeText(value)}}${n.maxProperties !== undefined ? ` ≤${n.maxProperties} keys` : ''}`;
  }
  switch (n.type) {
    case 'object':
      return n.properties && Object.keys(n.properties).length ? `{${fieldsText(n)}}` : 'object';
    case 'array':
    {
      const item = typeText(n.items);
      return `${/[ |]/.test(item) && !item.startsWith('{') ? `(${item})` : item}[]${n.maxItems !== undefined ? ` ≤${n.maxItems}` : ''}`;
    }
    case 'string': {
      const bounds = n.minLength !== undefined && n.minLength > 0 ? `${n.minLength}..${n.maxLength ?? ''}` : n.maxLength !== undefined ? `≤${n.maxLength}` : '';
      return ['string', bounds, n.pattern !== undefined ? `/${n.pattern}/` : ''].filter(Boolean).join(' ');
    }
    case 'integer':
    case 'number': {
      const range = n.minimum !== undefined || n.maximum !== undefined ? `${n.minimum ?? ''}..${n.maximum ?? ''}` : '';
      return [n.type, range].filter(Boolean).join(' ');
    }
    case undefined:
      return 'any';
    default:
      return n.type;
  }
}

/** `a: T, b?: T` for an object's properties (optional ones marked `?`), `type` left out. */
export function fieldsText(schema: unknown, skip: readonly string[] = []): string {
  const n = schema as Node;
  const required = new Set(n.required ?? []);
  return Object.entries(n.properties ?? {})
    .filter(([name]) => !skip.includes(name))
    .map(([name, value]) => `${name}${required.has(name) ? '' : '?'}: ${typeText(value)}`)
    .join(', ');
}

function table(header: string[], rows: string[][]): string {
  return [`| ${header.join(' | ')} |`, `|${header.map(() => '---').join('|')}|`, ...rows.map((r) => `| ${r.map(cell).join(' | ')} |`)].join('\n');
}

const frameType = (schema: unknown) => String((schema as Node).properties?.type?.const);

/** docs/link-frames.md: every frame of the balancer ↔ monolith link, from the unions. */
export function linkFramesDoc(): string {
  const rows: string[][] = [
    ['B→M', `\`${frameType(HelloFrame)}\``, fieldsText(HelloFrame, ['type']) || '—'],
    ...(B2M as Node).anyOf!.map((f) => ['B→M', `\`${frameType(f)}\``, fieldsText(f, ['type']) || '—']),
    ...[InitFrame, ...(M2BHead as Node).anyOf!.filter((f) => f !== InitFrame)].map((f) => ['M→B', `\`${frameType(f)}\``, fieldsText(f, ['type']) || '—']),
  ];
  return [
    '# Link frames (generated)',
    '',
    'Generated from the TypeBox schemas in `protocol/src/link.ts` by `protocol/src/schema-doc.ts`;',
    '`protocol/src/schema-doc.test.ts` fails when this file differs (rewrite it with',
    '`UPDATE_DOCS=1 npx vitest run protocol/src/schema-doc.test.ts`). What each frame does is in',
    "the README's \"Balancer ↔ monolith link\" section. `unicast`, `broadcast` and `publish` are",
    'heads: the client-bound `message` follows the head on the wire and is not part of the schema.',
    '`?` marks an optional field.',
    '',
    table(['direction', 'type', 'fields'], rows),
    '',
  ].join('\n');
}

/** The client frames and the gateway API's requests, with the schema each is validated by. */
const REQUESTS: Array<[event: string, schema: unknown]> = [
  [ClientEvent.PING, undefined],
  [ApiEvent.REQUEST_ELEVATION, ElevationRequest],
  [ApiEvent.SPECTATE, SpectateRequest],
  [ApiEvent.POOL_REQUEST, PoolRequest],
  [ApiEvent.POOL_ALL_REQUEST, PoolAllRequest],
  [ApiEvent.POOL_SEARCH_REQUEST, PoolSearchRequest],
  [ApiEvent.INTERPRET, InterpretRequest],
  [ApiEvent.MOCK_USER_EVENT, MockUserEvent],
  [ApiEvent.RECOVER, RecoverRequest],
  [ApiEvent.HISTORY, HistoryRequest],
];

/** Events the client sends that REQUESTS covers (a test checks no request event is missing). */
export const documentedRequests = (): string[] => REQUESTS.map(([e]) => e);

/** docs/gateway-api.md: the client frames and each request's `data`, from the schemas. */
export function gatewayApiDoc(): string {
  const dataOf = (schema: unknown) => {
    if (schema === undefined) return '— (any `data` is echoed back)';
    const n = schema as Node;
    if (n.anyOf) return n.anyOf.map((v) => `{${fieldsText(v)}}`).join(' or ');
    return `{${fieldsText(schema)}}`;
  };
  return [
    '# Client frames and gateway API requests (generated)',
    '',
    'Generated from the TypeBox schemas in `protocol/src/client.ts`, `gateway-api.ts` and',
    '`streams.ts` by `protocol/src/schema-doc.ts`; `protocol/src/schema-doc.test.ts` fails when',
    'this file differs (rewrite it with `UPDATE_DOCS=1 npx vitest run protocol/src/schema-doc.test.ts`).',
    "What each request answers, and who may send it, is in the README's \"Gateway API\" section.",
    '`?` marks an optional field.',
    '',
    '## Frames',
    '',
    table(
      ['frame', 'fields'],
      [
        ['auth (first frame, and a token refresh)', fieldsText(AuthFrame)],
        ['every later frame', fieldsText(AppMessage)],
      ],
    ),
    '',
    '## Requests: `{event, _id?, data}`',
    '',
    table(
      ['event', 'data'],
      REQUESTS.map(([event, schema]) => [`\`${event}\``, dataOf(schema)]),
    ),
    '',
  ].join('\n');
}
