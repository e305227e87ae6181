import { channelTopic, roomStream, type M2BHead } from '@gateway/protocol';
import type { Series, Log } from '@gateway/server-kit';
import type { Session, Sessions } from './client-session.js';
import type { MonolithLink } from './monolith-link.js';
import type { Router } from './routing/router.js';
import { architusTopic, encodeArchitus } from './dialects/architus.js';

/** The native fan-out a monolith's channel pushes go through (the uWS app). */
export interface Fanout {
  numSubscribers(topic: string): number;
  publish(topic: string, message: string, isBinary: boolean): boolean;
}

export interface LinkDispatchDeps {
  sessions: Sessions;
  router: Router;
  fanout: Fanout;
  /** Frames sent to clients, fan-out counted per recipient. */
  framesOut: Series;
  log: Log;
}

/**
 * One monolith frame (head parsed, client message still serialized) handed to the balancer;
 * `end()` after the last frame of each link message. Consecutive unicasts to one connection (a
 * recovery's replay) leave as one corked write when the run ends: at the next frame for anyone
 * else, any other frame, or `end()`; every frame keeps its order.
 */
export type LinkDispatch = ((link: MonolithLink, head: M2BHead, message: string | undefined) => void) & { end(): void };

/**
 * The owner guard: a monolith may only address connections routed to it. A module function,
 * not a closure per frame: this runs for every unicast, subscribe and kick.
 */
function mine(sessions: Sessions, link: MonolithLink, id: string): Session | undefined {
  const s = sessions.all.get(id);
  return s?.link === link ? s : undefined;
}

/**
 * What the balancer does with each frame a monolith sends: deliver to its own connections,
 * publish to its channels, record room ownership, move its connections when it drains.
 */
export function createLinkDispatch(deps: LinkDispatchDeps): LinkDispatch {
  const { sessions, router, fanout, framesOut, log } = deps;

  /**
   * Two monoliths claim one room: the older epoch keeps it (DESIGN §4), and this balancer's
   * connections in the room move from the loser to the winner without a disconnect.
   */
  function claim(room: string, monolith: string, epoch: number): void {
    const loser = router.owners.loaded(room, monolith, epoch);
    if (loser === undefined) return;
    const lost = router.byId(loser);
    log.warn('room claimed by two monoliths; the older epoch keeps it', { room, winner: router.owners.owner(room), loser });
    if (lost) sessions.moveRoom(room, lost);
  }

  // The run of unicasts to one connection not sent yet (see LinkDispatch).
  // One array for every run (this is per unicast): the sends below use it synchronously.
  let runOf: Session | undefined;
  const run: string[] = [];
  function flush(): void {
    const s = runOf;
    if (s === undefined) return;
    runOf = undefined;
    if (run.length === 1) sessions.send(s, run[0]!);
    else sessions.sendMany(s, run);
    run.length = 0;
  }

  /** One monolith frame. Runs per frame: keep it to a switch and a map lookup. */
  const dispatch = function dispatch(link, head, message) {
    const monolith = link.monolithId!;
    if (head.type !== 'unicast') flush();
    switch (head.type) {
      case 'unicast': {
        const s = mine(sessions, link, head.id);
        if (!s?.ws || message === undefined) return;
        framesOut.value++;
        if (runOf !== s) {
          flush();
          runOf = s;
        }
        run.push(message);
        return;
      }
      case 'broadcast':
      case 'publish': {
        if (message === undefined) return;
        // `broadcast` is kept as an alias of a publish to the room's channel (DESIGN §3).
        const topic = channelTopic(monolith, head.type === 'publish' ? head.channel : roomStream(head.room));
        framesOut.value += fanout.numSubscribers(topic);
        fanout.publish(topic, message, false);
        // Dialect subscribers have a topic of their own (uWS fans out identical bytes): the push
        // is mapped once per publication, and only when someone speaks the dialect.
        const dialect = architusTopic(topic);
        const mapped = fanout.numSubscribers(dialect);
        if (mapped > 0) {
          const text = encodeArchitus(message);
          if (text !== undefined) {
            framesOut.value += mapped;
            fanout.publish(dialect, text, false);
          }
        }
        return;
      }
      case 'subscribe': {
        const s = mine(sessions, link, head.id);
        const topic = channelTopic(monolith, head.channel);
        s?.ws?.subscribe(s.architus ? architusTopic(topic) : topic);
        return;
      }
      case 'unsubscribe': {
        const s = mine(sessions, link, head.id);
        const topic = channelTopic(monolith, head.channel);
        s?.ws?.unsubscribe(s.architus ? architusTopic(topic) : topic);
        return;
      }
      case 'kick': {
        const s = mine(sessions, link, head.id);
        if (s) sessions.kick(s, head.code, head.reason);
        return;
      }
      case 'loaded':
        claim(head.room, monolith, head.epoch);
        return;
      case 'unloaded':
        router.owners.unloaded(head.room, monolith);
        return;
      case 'gossip':
        for (const r of head.rooms) claim(r.room, monolith, r.epoch);
        return;
      case 'drain':
        log.info('monolith draining; moving its connections', { monolith });
        router.linkDraining(link);
        sessions.moveAll(link);
        return;
      case 'init':
        return;
    }
  } as LinkDispatch;
  dispatch.end = flush;
  return dispatch;
}
