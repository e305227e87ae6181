import { describe, expect, it } from 'vitest';
import { ConfigError } from '@gateway/server-kit';
import { freePort } from '../../testing/redis.js';
import { listenExclusive, loadUws } from './uws.js';

describe('listenExclusive', () => {
  it('refuses a port another uWS app holds (no SO_REUSEPORT), naming the variable', async () => {
    const uws = loadUws();
    // A fixed port: uSockets sets SO_REUSEPORT only for a port other than 0, so by default a
    // second app on it would bind too.
    const port = await freePort();
    const at = { hostVar: 'BALANCER_HOST', host: '127.0.0.1', portVar: 'BALANCER_PORT', port };
    const first = await listenExclusive(uws.App(), at);
    try {
      const error = await listenExclusive(uws.App(), at).catch((err: unknown) => err);
      expect(error).toBeInstanceOf(ConfigError);
      expect((error as ConfigError).problems).toEqual([`BALANCER_PORT ${port} is already in use on 127.0.0.1 (BALANCER_HOST): another process listens there; stop it or choose another port`]);
    } finally {
      uws.us_listen_socket_close(first);
    }
  });
});
