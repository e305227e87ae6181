/**
 * Auto-response triggers, as architus matches them: the whole message, case-insensitively,
 * after removing ASCII punctuation. A trigger without punctuation (naive mode) ignores all of it
 * (`thanks` fires on `Thanks!`, not on `thanks bot`); a trigger with punctuation (punctuated
 * mode) keeps the punctuation characters it contains and ignores the others. Regex triggers
 * (`^…$`) are not supported: such a trigger is punctuated text like any other.
 */
const PUNCTUATION = new Set('!"#$%&\'()*+,-./:;<=>?@[\\]^_`{|}~');

/** The characters of `text` that a trigger keeping `kept` punctuation sees, lower-cased. */
function project(text: string, kept: ReadonlySet<string>): string {
  let out = '';
  for (const c of text) if (!PUNCTUATION.has(c) || kept.has(c)) out += c;
  return out.trim().toLowerCase();
}

function punctuationOf(text: string): Set<string> {
  const kept = new Set<string>();
  for (const c of text) if (PUNCTUATION.has(c)) kept.add(c);
  return kept;
}

export interface Trigger {
  readonly text: string;
  readonly mode: 'naive' | 'punctuated';
  /** Punctuation the trigger keeps (empty for naive). */
  readonly kept: ReadonlySet<string>;
  /** The trigger as a message must project to. */
  readonly pattern: string;
}

export function compileTrigger(text: string): Trigger {
  const kept = punctuationOf(text);
  return { text, mode: kept.size === 0 ? 'naive' : 'punctuated', kept, pattern: project(text, kept) };
}

export function matches(trigger: Trigger, message: string): boolean {
  return trigger.pattern !== '' && project(message, trigger.kept) === trigger.pattern;
}

/**
 * True when some message fires both triggers: exactly when they agree on the punctuation both
 * keep (a message fitting both is the two interleaved, each one's own punctuation kept).
 */
export function collides(a: Trigger, b: Trigger): boolean {
  const both = new Set([...a.kept].filter((c) => b.kept.has(c)));
  return project(a.text, both) === project(b.text, both);
}
