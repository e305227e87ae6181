import { ownCopy } from './limits.js';

/**
 * Auto-response triggers, as architus matches them: the whole message, case-insensitively,
 * after removing ASCII punctuation. A trigger without punctuation (naive mode) ignores all of it
 * (`thanks` fires on `Thanks!`, not on `thanks bot`); a trigger with punctuation (punctuated
 * mode) keeps the punctuation characters it contains and ignores the others. Regex triggers
 * (`^…$`) are not supported: such a trigger is punctuated text like any other.
 */
const PUNCTUATION = new Set('!"#$%&\'()*+,-./:;<=>?@[\\]^_`{|}~');

/** The characters of `text` that a trigger keeping `kept` punctuation sees, lower-cased. */
function project(text: string, kept: string): string {
  let out = '';
  for (const c of text) if (!PUNCTUATION.has(c) || kept.includes(c)) out += c;
  return out.trim().toLowerCase();
}

/** The punctuation characters of `text`, each once: a string, not a Set (a guild keeps 50). */
function punctuationOf(text: string): string {
  let kept = '';
  for (const c of text) if (PUNCTUATION.has(c) && !kept.includes(c)) kept += c;
  return kept;
}

export interface Trigger {
  readonly text: string;
  readonly mode: 'naive' | 'punctuated';
  /** Punctuation the trigger keeps, each character once ('' for naive). */
  readonly kept: string;
  /** The trigger as a message must project to. */
  readonly pattern: string;
}

/** A trigger as a guild keeps it: its strings are copies of its own (see ownCopy). */
export function compileTrigger(text: string): Trigger {
  const kept = ownCopy(punctuationOf(text));
  return { text: ownCopy(text), mode: kept === '' ? 'naive' : 'punctuated', kept, pattern: ownCopy(project(text, kept)) };
}

export function matches(trigger: Trigger, message: string): boolean {
  return trigger.pattern !== '' && project(message, trigger.kept) === trigger.pattern;
}

/**
 * True when some message fires both triggers: exactly when they agree on the punctuation both
 * keep (a message fitting both is the two interleaved, each one's own punctuation kept).
 */
export function collides(a: Trigger, b: Trigger): boolean {
  const both = [...a.kept].filter((c) => b.kept.includes(c)).join('');
  return project(a.text, both) === project(b.text, both);
}
