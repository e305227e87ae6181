import { MockLimits, MOCK_USER_NAME } from './limits.js';
import type { Random } from './random.js';

/**
 * An auto response's text, parsed at `!set` to check it and again each time it fires: plain text (spaces kept, `\x` is a literal x),
 * `[a,b,c]` one element at random each time (elements may nest, whitespace kept), `[count]` how
 * many times the response fired (counted before rendering: the first firing shows 1), `[author]`
 * the mock user's name. Any other bracket (`[noun]`, `[:wave:]`, `[1]`) is kept literally,
 * brackets included (its inside still rendered): the mock guild has no words list, members,
 * emoji or captures, and a literal is more useful in a demo than an error.
 */
export type ResponseNode =
  | { kind: 'text'; text: string }
  | { kind: 'choice'; options: ResponseNode[][] }
  | { kind: 'count' }
  | { kind: 'author' }
  | { kind: 'bracket'; nodes: ResponseNode[] };

/** A syntax error, shown as architus shows its tuple: `('<reason>', <index>)`. */
export class ResponseSyntaxError extends Error {
  constructor(
    readonly reason: string,
    readonly index: number,
  ) {
    super(`('${reason}', ${index})`);
  }
}

/** Parses a response; throws ResponseSyntaxError on an unbalanced bracket. */
export function parseResponse(src: string): ResponseNode[] {
  let i = 0;
  // One level of brackets: its comma-separated alternatives (top level: a single one).
  const sequence = (depth: number): ResponseNode[][] => {
    const alternatives: ResponseNode[][] = [[]];
    let text = '';
    const flush = () => {
      if (text) alternatives[alternatives.length - 1]!.push({ kind: 'text', text });
      text = '';
    };
    while (i < src.length) {
      const c = src[i]!;
      if (c === '\\') {
        text += src[i + 1] ?? '\\';
        i += 2;
      } else if (c === '[') {
        flush();
        const open = i++;
        const inner = sequence(depth + 1);
        if (src[i] !== ']') throw new ResponseSyntaxError('Missed a closing bracket somewhere', open);
        i++;
        alternatives[alternatives.length - 1]!.push(bracket(inner));
      } else if (c === ']') {
        if (depth === 0) throw new ResponseSyntaxError('This bracket has no opening bracket', i);
        break;
      } else if (c === ',' && depth > 0) {
        flush();
        alternatives.push([]);
        i++;
      } else {
        text += c;
        i++;
      }
    }
    flush();
    return alternatives;
  };
  return sequence(0)[0]!;
}

function bracket(alternatives: ResponseNode[][]): ResponseNode {
  if (alternatives.length > 1) return { kind: 'choice', options: alternatives };
  const only = alternatives[0]!;
  const word = only.length === 1 && only[0]!.kind === 'text' ? only[0]!.text : undefined;
  if (word === 'count') return { kind: 'count' };
  if (word === 'author') return { kind: 'author' };
  return { kind: 'bracket', nodes: only };
}

/** Renders a parsed response for one firing (`count` already incremented). */
export function renderResponse(nodes: ResponseNode[], count: number, random: Random): string {
  return finish(render(nodes, count, random));
}

function render(nodes: ResponseNode[], count: number, random: Random): string {
  let out = '';
  for (const node of nodes) {
    switch (node.kind) {
      case 'text':
        out += node.text;
        break;
      case 'choice':
        out += render(node.options[random(node.options.length)]!, count, random);
        break;
      case 'count':
        out += String(count);
        break;
      case 'author':
        out += MOCK_USER_NAME;
        break;
      case 'bracket':
        out += `[${render(node.nodes, count, random)}]`;
        break;
    }
  }
  return out;
}

/** architus's post-processing: one line, no mass mention, a notice instead of an overlong text. */
function finish(text: string): string {
  const line = text.replace(/[\r\n]/g, '').replace(/@(everyone|here)/g, '\\@$1');
  const limit = MockLimits.MAX_RENDERED_LENGTH;
  return line.length > limit ? `*content of response was over character limit (${limit})*` : line;
}
