export { GatewayClient, type ClientOptions, type State, type SocketLike, type SocketFactory } from './client.js';
export { Gateway, connect, type Entity, type HistoryPublication, type HistoryReply } from './api.js';
export { StreamPositions, type Recovery, type SpectateReply } from './positions.js';
export { ClientErrorCode, GatewayError, type ClientErrorCodeValue } from './errors.js';
export { ReconnectPolicy, type ReconnectOptions } from './reconnect.js';
export { gatewayMiddleware, gatewayRequest, type GatewayRequestAction } from './redux.js';
