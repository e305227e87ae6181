import type { Log } from '@gateway/server-kit';
import type { Discovery } from './discovery.js';

/**
 * Addresses read every `pollMs`, reported when the sorted, de-duplicated set changes. A failed
 * read keeps the last known set: a blip of the source must not unlink every monolith.
 */
export function pollingDiscovery(
  read: () => Promise<string[]>,
  pollMs: number,
  log: Log,
  what: { changed: string; failed: string; fields?: Record<string, unknown> },
  onStop: () => void = () => {},
): Discovery {
  let timer: NodeJS.Timeout | undefined;
  let last = '';
  let stopped = false;
  return {
    start(onChange) {
      const poll = async () => {
        try {
          const addresses = [...new Set(await read())].sort();
          const key = addresses.join(',');
          if (key !== last && !stopped) {
            last = key;
            log.info(what.changed, { ...what.fields, addresses });
            onChange(addresses);
          }
        } catch (err) {
          log.warn(what.failed, { ...what.fields, err: (err as Error).message });
        }
        if (!stopped) timer = setTimeout(poll, pollMs);
      };
      void poll();
    },
    stop() {
      stopped = true;
      clearTimeout(timer);
      onStop();
    },
  };
}
