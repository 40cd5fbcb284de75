/** The local API Gateway HTTP API emulator: what the local stack and its tests use of it. */

export { splitTarget } from './event-builder';
export type { ApiGateway, ApiGatewayOptions, CorsConfig, LambdaFunction, LambdaHandler, RawRoute } from './gateway';
export { createApiGateway } from './gateway';
export type { GatewayRoute } from './route-matcher';
