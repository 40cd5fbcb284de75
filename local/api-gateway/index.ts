/** The local API Gateway HTTP API emulator: what the local stack and its tests use of it. */
export { createApiGateway } from './gateway';
export type { ApiGateway, ApiGatewayOptions, CorsConfig, LambdaFunction, LambdaHandler, RawRoute } from './gateway';
export { splitTarget } from './event-builder';
export type { GatewayRoute } from './route-matcher';
