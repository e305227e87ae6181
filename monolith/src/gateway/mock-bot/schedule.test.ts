import { describe, expect, it } from 'vitest';
import { formatWhen, parseSchedule, parseWhen } from './schedule.js';

/** Monday 2 December 2024, 10:00 UTC. */
const NOW = Date.UTC(2024, 11, 2, 10, 0);
const at = (words: string) => {
  const when = parseWhen(words.split(' '), NOW);
  return when && formatWhen(when);
};

describe('schedule times (UTC, missing parts today at 00:00)', () => {
  it.each([
    ['12pm', 'Dec 02 12:00PM '],
    ['12am', 'Dec 02 12:00AM '],
    ['5pm', 'Dec 02 05:00PM '],
    ['8:30pm', 'Dec 02 08:30PM '],
    ['8 pm', 'Dec 02 08:00PM '],
    ['9 a.m.', 'Dec 02 09:00AM '],
    ['20:05', 'Dec 02 08:05PM '],
    ['8pm Wednesday', 'Dec 04 08:00PM '],
    ['wed 8pm', 'Dec 04 08:00PM '],
    ['monday', 'Dec 02 12:00AM '],
    ['sunday', 'Dec 08 12:00AM '],
    ['at 5pm on friday', 'Dec 06 05:00PM '],
    ['5', 'Dec 05 12:00AM '],
    ['jan 3 2025 7am', 'Jan 03 07:00AM '],
  ])('%s → %j', (words, formatted) => {
    expect(at(words)).toBe(formatted);
  });

  it.each(['', 'at', 'tomorrow', 'noon', '13pm', '0am', '25:00', '7:61', '5pm 6pm', 'monday friday', 'feb 31', '32'])('%j is no time', (words) => {
    expect(at(words)).toBeUndefined();
  });

  it('splits title and time as architus does (a last word that spoils the time is dropped)', () => {
    const split = (words: string) => {
      const { title, when } = parseSchedule(words ? words.split(' ') : [], NOW);
      return [title, when && formatWhen(when)];
    };
    expect(split('cool event 12pm')).toEqual(['cool event', 'Dec 02 12:00PM ']);
    expect(split('Overwatch scrims 8pm Wednesday')).toEqual(['Overwatch scrims', 'Dec 04 08:00PM ']);
    expect(split('game 5pm please')).toEqual(['game', 'Dec 02 05:00PM ']);
    expect(split('5pm')).toEqual(['', 'Dec 02 05:00PM ']);
    expect(split('party')).toEqual(['party', undefined]);
    expect(split('')).toEqual(['', undefined]);
    // Filler before the time joins the time, however much of it; any amount of title is fine.
    expect(split(`standup ${'at '.repeat(50)}9 am on monday`)).toEqual(['standup', 'Dec 02 09:00AM ']);
    expect(split(`${'long '.repeat(50)}title 5pm`)).toEqual([`${'long '.repeat(50)}title`, 'Dec 02 05:00PM ']);
    expect(split('at at')).toEqual(['at at', undefined]);
  });

  it.each([
    ['filler', `${'at '.repeat(663)}zz`],
    ['title words', `${'x '.repeat(663)}5pm`],
    ['time words', `${'5 '.repeat(663)}5pm`],
  ])('does a bounded number of parse steps on %s (each try is linear, at most 14 tries)', (_what, text) => {
    const words = text.split(' ');
    let calls = 0;
    let steps = 0;
    const counting: typeof parseWhen = (w, now) => {
      calls++;
      steps += w.length;
      return parseWhen(w, now);
    };
    parseSchedule(words, NOW, counting);
    expect(calls).toBeGreaterThan(0);
    expect(calls).toBeLessThanOrEqual(14);
    expect(steps).toBeLessThanOrEqual(14 * words.length);
  });
});
