import { ApiEvent, ServerEvent } from '@gateway/protocol/codes';
import type { GatewayClient } from './client.js';
import type { GatewayError } from './errors.js';

/** Dispatch this to make a gateway request the way a REST call is made (seed 001). */
export interface GatewayRequestAction {
  type: 'gateway/request';
  event: string;
  data?: unknown;
}

export const gatewayRequest = (event: string, data?: unknown): GatewayRequestAction => ({ type: 'gateway/request', event, data });

interface MiddlewareApi {
  dispatch(action: unknown): unknown;
}

/**
 * Redux middleware: a `gateway/request` action yields `<event>/start`, then `<event>/success`
 * (payload: the reply) or `<event>/failure` (error: {code, message, human}), like a REST call;
 * dispatching it returns the request's promise. Pushes are dispatched as `gateway/<event>`, and so
 * is the `recovery` outcome (`gateway/recovery`, payload `{trigger, streams}`).
 */
export function gatewayMiddleware(client: GatewayClient, pushes: string[] = [ApiEvent.LOG_POOL, ApiEvent.LOG_OTHER, ServerEvent.RESYNC, ServerEvent.WELCOME, 'recovery']) {
  return (api: MiddlewareApi) => {
    for (const event of pushes) client.on(event, (data) => api.dispatch({ type: `gateway/${event}`, payload: data }));
    client.on('state', (state) => api.dispatch({ type: 'gateway/state', payload: state }));
    return (next: (action: unknown) => unknown) => (action: unknown) => {
      const a = action as Partial<GatewayRequestAction>;
      if (a?.type !== 'gateway/request' || typeof a.event !== 'string') return next(action);
      const { event, data } = a;
      api.dispatch({ type: `${event}/start`, meta: { data } });
      return client.request(event, data).then(
        (payload) => {
          api.dispatch({ type: `${event}/success`, payload, meta: { data } });
          return payload;
        },
        (err: GatewayError) => {
          api.dispatch({ type: `${event}/failure`, error: { code: err.code, message: err.message, human: err.human }, meta: { data } });
          throw err;
        },
      );
    };
  };
}
