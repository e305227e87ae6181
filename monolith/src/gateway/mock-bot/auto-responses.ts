import { MockLimits, ownCopy } from './limits.js';
import type { Random } from './random.js';
import { parseResponse, renderResponse, ResponseSyntaxError } from './response-grammar.js';
import { makeRoom, type GuildState, type StoredResponse } from './state.js';
import { collides, compileTrigger, matches, type Trigger } from './triggers.js';

const shown = (r: { trigger: { text: string }; response: string }) => `\`${r.trigger.text}::${r.response}\``;
const MAX_COLLISIONS_SHOWN = 4;

/**
 * `!set trigger::response` in a mock guild. The mock user is the guild's owner, so architus's
 * admin exemptions apply (no minimum trigger length, regex allowed); the length and count caps
 * are ours (MockLimits), with architus's texts where it has one. Polls and schedules are
 * forgettable: the oldest are forgotten to make room before a `!set` is refused for the budget.
 */
export function setResponse(guild: GuildState, content: string): string {
  const m = /^!set (.+?)::(.+)/i.exec(content);
  const trigger = m?.[1]!.trim();
  const response = m?.[2]!.trim();
  if (!m || !trigger || !response) {
    return /^!set (.+?):(.+)/i.test(content) ? '❌ **nice brain** use two `::`\n`!set <a>::<b>`' : '❌ use the syntax: `trigger::response`';
  }
  if (trigger.length > MockLimits.MAX_TRIGGER_LENGTH) return `❌ that trigger is too long :confused: max length is ${MockLimits.MAX_TRIGGER_LENGTH} characters`;
  if (response.length > MockLimits.MAX_RESPONSE_LENGTH) return `❌ that response is too long :confused: max length is ${MockLimits.MAX_RESPONSE_LENGTH} characters`;
  if (guild.responses.length >= MockLimits.MAX_RESPONSES) {
    return `❌ looks like you've already used all your auto responses in this server (${guild.responses.length}), try deleting some`;
  }
  const compiled = compileTrigger(trigger);
  const clashes = guild.responses.filter((r) => collides(r.trigger, compiled));
  if (clashes.length > 0) {
    const more = clashes.length > MAX_COLLISIONS_SHOWN ? `\n_...${clashes.length - MAX_COLLISIONS_SHOWN} more not shown_` : '';
    return `❌ sorry that trigger collides with the following auto responses:\n${clashes.slice(0, MAX_COLLISIONS_SHOWN).map(shown).join('\n')}${more}`;
  }
  try {
    parseResponse(response);
  } catch (err) {
    if (err instanceof ResponseSyntaxError) return `❌ unable to parse that response: \`${err.message}\``;
    throw err;
  }
  const cost = responseCost(compiled, response);
  if (!makeRoom(guild, cost)) {
    return `❌ looks like your auto responses already fill the ${MockLimits.GUILD_BUDGET} characters this server keeps, try deleting some`;
  }
  const stored: StoredResponse = { trigger: compiled, response: ownCopy(response), cost, count: 0 };
  guild.responses.push(stored);
  guild.used += cost;
  return `✅ ${shown(stored)} _successfully set_`;
}

/** `!remove trigger[::anything]`: the stored trigger, exactly (case included). */
export function removeResponse(guild: GuildState, content: string): string {
  const m = /^!remove (.+?)(::.+)?$/i.exec(content);
  // A bare `!remove` has no text in architus (it crashed): the not-found text fits it.
  const at = m ? guild.responses.findIndex((r) => r.trigger.text === m[1]) : -1;
  if (at < 0) return '❌ idk what response you want me to remove';
  const [removed] = guild.responses.splice(at, 1);
  guild.used -= removed!.cost;
  return `✅ ${shown(removed!)} _successfully removed_`;
}

/** The first response (creation order) whose trigger the message matches, rendered; '' if none. */
export function fireResponse(guild: GuildState, content: string, random: Random): string | undefined {
  const hit = guild.responses.find((r) => matches(r.trigger, content));
  if (!hit) return undefined;
  hit.count++;
  return renderResponse(parseResponse(hit.response), hit.count, random);
}

/** An auto response's share of the guild budget: its strings and its record. */
function responseCost(trigger: Trigger, response: string): number {
  return trigger.text.length + trigger.pattern.length + trigger.kept.length + response.length + MockLimits.RESPONSE_COST;
}
