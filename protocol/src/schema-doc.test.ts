import { readFileSync, writeFileSync } from 'node:fs';
import { describe, expect, it } from 'vitest';
import { ApiEvent, ClientEvent } from './events.js';
import { B2M, M2BHead } from './link.js';
import { documentedRequests, fieldsText, gatewayApiDoc, linkFramesDoc, typeText } from './schema-doc.js';
import { Type } from '@sinclair/typebox';

const doc = (name: string) => new URL(`../../docs/${name}`, import.meta.url);
const FIX = 'rewrite with: UPDATE_DOCS=1 npx vitest run protocol/src/schema-doc.test.ts';

/** Compares docs/<name> with what the schemas generate (or writes it under UPDATE_DOCS=1). */
function sameAsGenerated(name: string, generated: string): void {
  if (process.env.UPDATE_DOCS === '1') writeFileSync(doc(name), generated);
  expect(readFileSync(doc(name), 'utf8'), FIX).toBe(generated);
}

describe('generated reference tables (docs/)', () => {
  it('docs/link-frames.md is what the link schemas generate', () => sameAsGenerated('link-frames.md', linkFramesDoc()));
  it('docs/gateway-api.md is what the request schemas generate', () => sameAsGenerated('gateway-api.md', gatewayApiDoc()));

  it('lists every link frame of both unions', () => {
    const text = linkFramesDoc();
    for (const f of [...B2M.anyOf, ...M2BHead.anyOf]) expect(text).toContain(`| \`${String(f.properties.type.const)}\` |`);
  });

  it('documents every request event; the rest of ApiEvent are replies and pushes', () => {
    const replies: string[] = [ApiEvent.MOCK_BOT_EVENT, ApiEvent.POOL_RESPONSE, ApiEvent.LOG_POOL, ApiEvent.LOG_OTHER, ApiEvent.SPECTATE_REVOKED];
    const requests = Object.values(ApiEvent).filter((e) => !replies.includes(e));
    expect(documentedRequests().sort()).toEqual([...requests, ...Object.values(ClientEvent)].sort());
  });

  it('writes types compactly: bounds, optional fields, literals, unions, records', () => {
    const s = Type.Object({
      kind: Type.Literal('x'),
      n: Type.Integer({ minimum: 1, maximum: 9 }),
      name: Type.Optional(Type.String({ maxLength: 8 })),
      id: Type.Union([Type.Integer(), Type.String({ minLength: 1, maxLength: 4 })]),
      tags: Type.Array(Type.String(), { maxItems: 3 }),
      long: Type.Array(Type.String({ maxLength: 2 })),
      map: Type.Record(Type.String(), Type.Boolean(), { maxProperties: 2 }),
    });
    expect(fieldsText(s, ['kind'])).toBe('n: integer 1..9, name?: string ≤8, id: integer | string 1..4, tags: string[] ≤3, long: (string ≤2)[], map: {[key]: boolean} ≤2 keys');
    expect(typeText(s.properties.kind)).toBe("'x'");
  });
});
