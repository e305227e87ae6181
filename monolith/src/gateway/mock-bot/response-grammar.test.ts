import { describe, expect, it } from 'vitest';
import { parseResponse, renderResponse, ResponseSyntaxError } from './response-grammar.js';
import { collides, compileTrigger, matches } from './triggers.js';

const render = (src: string, picks: number[] = [], count = 1) => renderResponse(parseResponse(src), count, () => picks.shift() ?? 0);

describe('response grammar', () => {
  it.each([
    ['plain  text, spaces kept', [], 'plain  text, spaces kept'],
    ["[you're welcome!,no problem!]", [1], 'no problem!'],
    ['[a, b]', [1], ' b'],
    ['x[a,[b,c],d]y', [1, 1], 'xcy'],
    ['\\[not, a choice\\] \\\\', [], '[not, a choice] \\'],
    ['#[count]', [], '#7'],
    ['hi [author]', [], 'hi bad guy'],
    ['[noun] [adj] [:wave:] [1]', [], '[noun] [adj] [:wave:] [1]'],
    ['[[a,b]]', [1], '[b]'],
    ['line\nbreak', [], 'linebreak'],
    ['@everyone @here', [], '\\@everyone \\@here'],
    ['[[@here]]', [], '[[\\@here]]'],
    ['x'.repeat(501), [], '*content of response was over character limit (500)*'],
  ])('%j → %j', (src, picks, out) => {
    expect(render(src, [...picks], 7)).toBe(out);
  });

  it.each([
    ['[a', 'Missed a closing bracket somewhere', 0],
    ['ok [a,[b]', 'Missed a closing bracket somewhere', 3],
    ['a]', 'This bracket has no opening bracket', 1],
  ])('%j is refused: (%s, %i)', (src, reason, index) => {
    expect(() => parseResponse(src)).toThrow(new ResponseSyntaxError(reason, index));
    expect(() => parseResponse(src)).toThrow(`('${reason}', ${index})`);
  });
});

describe('triggers', () => {
  it('naive: the whole message without any ASCII punctuation, any case', () => {
    const t = compileTrigger('good bot');
    expect(t.mode).toBe('naive');
    expect(['good bot', 'Good bot!', 'good, bot.', 'good bot 🙂', 'goodbot', 'a good bot'].map((m) => matches(t, m))).toEqual([true, true, true, false, false, false]);
  });

  it('punctuated: its own punctuation kept, other punctuation ignored', () => {
    const t = compileTrigger('what?');
    expect(t.mode).toBe('punctuated');
    expect(['what?', 'WHAT?!', '"what?"', 'what', 'what??'].map((m) => matches(t, m))).toEqual([true, true, true, false, false]);
  });

  it.each([
    ['hi', 'HI', true],
    ['hi', 'hi!', true],
    ['hi!', 'hi?', true],
    ['h.i', 'hi.', false],
    ['hi', 'hey', false],
    ['c++', 'c+', false],
  ])('%j and %j collide: %s', (a, b, expected) => {
    expect(collides(compileTrigger(a), compileTrigger(b))).toBe(expected);
    expect(collides(compileTrigger(b), compileTrigger(a))).toBe(expected);
  });
});
