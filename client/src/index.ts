export { GatewayClient, type ClientOptions, type State } from './client.js';
export type { SocketFactory, SocketLike } from './socket.js';
export { Gateway, POOL_PAGE, connect, type Entity, type HistoryPublication, type HistoryReply } from './api.js';
export type { CloseInfo, EventData, EventHandler, EventName, GatewayEvents, LogPoolChange, SpectateRevoked, StreamGap } from './events.js';
export { StreamPositions, type Recovery, type SpectateReply } from './positions.js';
export { ClientErrorCode, GatewayError, type ClientErrorCodeValue } from './errors.js';
export { ReconnectPolicy, type ReconnectOptions } from './reconnect.js';
export { gatewayMiddleware, gatewayRequest, type GatewayRequestAction } from './redux.js';
