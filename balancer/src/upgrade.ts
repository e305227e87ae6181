import { sourceKey } from '@gateway/server-kit';
import type { Admission } from './admission.js';
import { ARCHITUS_DIALECT } from './dialects/architus.js';
import type { BalancerConfig } from './config.js';
import type { SocketData, Sessions } from './client-session.js';
import type { HttpRequest, HttpResponse, us_socket_context_t } from './uws.js';

export interface UpgradeDeps {
  config: Pick<BalancerConfig, 'ALLOWED_ORIGINS' | 'TRUSTED_PROXY_HEADER' | 'BALANCER_AUTH_COOKIE'>;
  sessions: Sessions;
  admission: Admission;
  /** True once the balancer drains: every new socket is refused with DRAINING. */
  draining(): boolean;
  now(): number;
}

/** The upgrade handlers of the two client routes. */
export interface Upgrades {
  /** `/ws`: the room comes with the auth frame. */
  ws(res: HttpResponse, req: HttpRequest, context: us_socket_context_t): void;
  /** `/api/room/:room`: the room is the path's (URL-decoded; an undecodable one is '' and refused at auth). */
  room(res: HttpResponse, req: HttpRequest, context: us_socket_context_t): void;
  /** `/authenticated`: the architus dashboard's socket (the architus dialect, sign-in by cookie). */
  architus(res: HttpResponse, req: HttpRequest, context: us_socket_context_t): void;
}

/** The value of cookie `name` in a `Cookie` header (RFC 6265 `name=value; ...`), undefined when absent or empty. */
export function cookieValue(header: string, name: string): string | undefined {
  for (const part of header.split(';')) {
    const eq = part.indexOf('=');
    if (eq < 0 || part.slice(0, eq).trim() !== name) continue;
    let value = part.slice(eq + 1).trim();
    if (value.length >= 2 && value.startsWith('"') && value.endsWith('"')) value = value.slice(1, -1);
    return value === '' ? undefined : value;
  }
  return undefined;
}

/**
 * Connection admission at the upgrade: origin, drain, per-source and balancer-wide budgets
 * (Admission). A refused socket is still upgraded, with `refuse` set, so the browser sees a
 * close code (Sessions.opened ends it); a bare HTTP refusal reads as 1006.
 */
export function createUpgrades(deps: UpgradeDeps): Upgrades {
  const { config, sessions, admission } = deps;
  const allowedOrigins = new Set(config.ALLOWED_ORIGINS);
  // uWS lower-cases header names; an empty value is read as "no header".
  const proxyHeader = config.TRUSTED_PROXY_HEADER?.toLowerCase();

  /** The client address: the proxy header's last hop (the one our proxy wrote), else the TCP peer. */
  function clientAddress(res: HttpResponse, req: HttpRequest): string {
    if (proxyHeader !== undefined) {
      const hops = req.getHeader(proxyHeader);
      const last = hops.slice(hops.lastIndexOf(',') + 1).trim();
      if (last !== '') return sourceKey(last);
    }
    // Read before res.upgrade: the response is gone afterwards.
    return sourceKey(Buffer.from(res.getRemoteAddressAsText()).toString());
  }

  function upgrade(res: HttpResponse, req: HttpRequest, context: us_socket_context_t, pathRoom: string | undefined, dialect = req.getQuery('dialect')): void {
    const origin = req.getHeader('origin');
    const now = deps.now();
    const architus = dialect === ARCHITUS_DIALECT;
    const session = sessions.create(pathRoom, architus);
    // The sign-in cookie rides along with every request to our host, so it is taken only from an
    // origin the operator allows (cross-site websocket hijacking: a page elsewhere would
    // otherwise open a socket signed in as its visitor).
    if (architus && allowedOrigins.has(origin)) session.cookie = cookieValue(req.getHeader('cookie'), config.BALANCER_AUTH_COOKIE);
    if (dialect !== undefined && dialect !== '' && !architus) session.refuse = 'UNKNOWN_DIALECT';
    else if (allowedOrigins.size > 0 && origin !== '' && !allowedOrigins.has(origin)) session.refuse = 'ORIGIN_NOT_ALLOWED';
    else if (deps.draining()) session.refuse = 'DRAINING';
    else {
      const source = clientAddress(res, req);
      session.refuse = admission.admit(source, sessions.all.size, now);
      // Counted as unauthenticated from here until it authenticates or closes (Sessions.release).
      if (session.refuse === undefined) session.source = source;
    }
    res.upgrade<SocketData>(
      { session },
      req.getHeader('sec-websocket-key'),
      req.getHeader('sec-websocket-protocol'),
      req.getHeader('sec-websocket-extensions'),
      context,
    );
  }

  return {
    ws: (res, req, context) => upgrade(res, req, context, undefined),
    architus: (res, req, context) => upgrade(res, req, context, undefined, ARCHITUS_DIALECT),
    room: (res, req, context) => {
      let room: string;
      try {
        room = decodeURIComponent(req.getParameter(0));
      } catch {
        room = '';
      }
      upgrade(res, req, context, room);
    },
  };
}
