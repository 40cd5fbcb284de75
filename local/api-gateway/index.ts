/** The local API Gateway HTTP API emulator. */
export { createApiGateway } from './gateway';
export type { ApiGateway, ApiGatewayOptions, CorsConfig, LambdaFunction, LambdaHandler, RawRoute } from './gateway';
export { buildEvent, collectHeaders, formatRequestTime, isTextContentType, parseQueryString, splitTarget } from './event-builder';
export type { RequestData, EventContext } from './event-builder';
export { claimToString, createJwtAuthorizer } from './jwt-authorizer';
export type { AuthorizerResult, JwtAuthorization, JwtAuthorizerConfig } from './jwt-authorizer';
export { createLambdaContext } from './lambda-context';
export { gatewayErrors, mapLambdaResult, MalformedLambdaResponse } from './response-mapper';
export type { HttpResponseData } from './response-mapper';
export { createRouteMatcher } from './route-matcher';
export type { GatewayRoute, RouteMatch } from './route-matcher';
