/**
 * A bot message that reactions change (a poll or a schedule). There is one mock user per guild,
 * so a tracker records that user's choices, and adding the same reaction twice changes nothing.
 */
export interface Tracker {
  /** Its share of the guild budget beyond its record: its text, and a cost per poll option. */
  readonly size: number;
  /** The message's whole content as it stands. */
  render(): string;
  /**
   * The mock user added (`added`) or removed `emoji`. Returns the user's other reactions the bot
   * takes away (exclusive choices), or undefined when the emoji means nothing here.
   */
  react(emoji: string, added: boolean): string[] | undefined;
}
