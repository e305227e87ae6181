import { isAbsolute, resolve } from 'node:path';
import { pathToFileURL } from 'node:url';
import type { Log } from '@gateway/server-kit';
import type { EntityStore } from '../store/store.js';
import type { Gateway, Handler } from './gateway.js';

/**
 * Your own gateway events (docs/protocol.md, "Your own events"): a module named by MONOLITH_EVENTS_MODULE
 * whose default export registers handlers next to the built-in ones. A handler gets the same
 * Context the built-ins get (`ctx.conn` with the verified `claims`, `subject`, `guest` and
 * `room`; `ctx.reply(event, data)` answers with the request's `_id`; `ctx.error(code, message)`
 * answers a catalogued error) and the request's `data`, already checked to be JSON within the
 * depth limit. Throwing or rejecting answers `internal` and is logged.
 */
export interface EventServices {
  /** The entity pools (read and write). */
  store: EntityStore;
  log: Log;
}

export type RegisterEvents = (events: { on(event: string, handler: Handler): void }, services: EventServices) => void;

/** Registers a module's events; a name the gateway already handles is refused (no silent override). */
export function registerEvents(gateway: Gateway, register: RegisterEvents, services: EventServices): string[] {
  const added: string[] = [];
  register(
    {
      on(event, handler) {
        if (gateway.has(event)) throw new Error(`event "${event}" is built in; choose another name`);
        gateway.on(event, handler);
        added.push(event);
      },
    },
    services,
  );
  return added;
}

/** Imports the module at `path` (relative to the working directory) and returns its default export. */
export async function loadEvents(path: string): Promise<RegisterEvents> {
  const url = pathToFileURL(isAbsolute(path) ? path : resolve(process.cwd(), path)).href;
  const mod = (await import(url)) as { default?: unknown };
  if (typeof mod.default !== 'function') throw new Error(`${path} has no default export function (events, services) => void`);
  return mod.default as RegisterEvents;
}
