/**
 * The HTTP API: every route of functions/routes.ts to its function's `live` alias, the JWT
 * authorizer (access tokens only where the issuer allows telling them apart), CORS, throttling,
 * access logs, and an optional custom domain.
 */
import { Duration, Stack, Validations } from 'aws-cdk-lib';
import { AccessLogFormat } from 'aws-cdk-lib/aws-apigateway';
import type { IHttpRouteAuthorizer } from 'aws-cdk-lib/aws-apigatewayv2';
import {
  ApiMapping,
  type CfnStage,
  CorsHttpMethod,
  DomainName,
  HttpApi,
  HttpMethod,
  HttpNoneAuthorizer,
  HttpRoute,
  HttpRouteKey,
  HttpStage,
  LogGroupLogDestination,
} from 'aws-cdk-lib/aws-apigatewayv2';
import { HttpJwtAuthorizer } from 'aws-cdk-lib/aws-apigatewayv2-authorizers';
import { HttpLambdaIntegration } from 'aws-cdk-lib/aws-apigatewayv2-integrations';
import { Certificate } from 'aws-cdk-lib/aws-certificatemanager';
import type { IFunction } from 'aws-cdk-lib/aws-lambda';
import type { RetentionDays } from 'aws-cdk-lib/aws-logs';
import { LogGroup } from 'aws-cdk-lib/aws-logs';
import { Construct } from 'constructs';
import type { HttpMethod as RouteMethod } from '../../functions/routes';
import { corsHeaders, routeKey, routes } from '../../functions/routes';
import { pascal, serviceName } from '../names';

const methods: Record<RouteMethod, HttpMethod> = { GET: HttpMethod.GET, POST: HttpMethod.POST, DELETE: HttpMethod.DELETE };

/** HTTP API access log: one JSON line per request. No query string: /callback's carries the code and state. */
export const accessLogFormat = AccessLogFormat.custom(
  JSON.stringify({
    requestId: '$context.requestId',
    time: '$context.requestTime',
    ip: '$context.identity.sourceIp',
    userAgent: '$context.identity.userAgent',
    routeKey: '$context.routeKey',
    path: '$context.path',
    status: '$context.status',
    protocol: '$context.protocol',
    responseLength: '$context.responseLength',
    responseLatency: '$context.responseLatency',
    integrationLatency: '$context.integrationLatency',
    integrationStatus: '$context.integrationStatus',
    integrationError: '$context.integrationErrorMessage',
    authorizerError: '$context.authorizer.error',
    sub: '$context.authorizer.claims.sub',
  }),
);

/** Headers browsers may send: `x-psu-ip` marks a call the user is present for (no unattended limit). */
export const corsAllowHeaders = [...corsHeaders.allow];

export interface JwtSettings {
  issuer: string;
  audience: string[];
  /**
   * Routes accept a token only with one of these scopes. ID tokens carry no `scope`, so any scope
   * turns them away; empty: the issuer's tokens are accepted whatever their kind.
   */
  scopes: string[];
}

export interface ApiProps {
  /** What each function name's routes call: the function's `live` alias. */
  targets: Record<string, IFunction>;
  jwt: JwtSettings;
  corsOrigins: string[];
  throttleRateLimit: number;
  throttleBurstLimit: number;
  /** The lower limit of the public /callback routes (a browser comes there once per connection). */
  callbackThrottle: { rateLimit: number; burstLimit: number };
  logRetentionDays: number;
  /** A custom domain with its ACM certificate (same region as the API). */
  domain?: { name: string; certificateArn: string } | undefined;
}

export class Api extends Construct {
  readonly httpApi: HttpApi;
  readonly stage: HttpStage;
  readonly accessLogs: LogGroup;
  readonly domain: DomainName | undefined;
  private readonly domainName: string | undefined;
  /** Route keys in table order, for per-route dashboards. */
  readonly routeKeys: string[];

  constructor(scope: Construct, id: string, props: ApiProps) {
    super(scope, id);
    this.httpApi = new HttpApi(this, 'HttpApi', {
      apiName: serviceName,
      description: 'TrueLayer bank connections for client apps',
      createDefaultStage: false,
      ...(props.corsOrigins.length > 0
        ? {
            corsPreflight: {
              allowOrigins: props.corsOrigins,
              allowMethods: [CorsHttpMethod.GET, CorsHttpMethod.POST, CorsHttpMethod.DELETE],
              allowHeaders: corsAllowHeaders,
              exposeHeaders: [...corsHeaders.expose],
              maxAge: Duration.minutes(10),
            },
          }
        : {}),
    });

    // Under /aws/vendedlogs/: the prefix CloudWatch Logs keeps for service-delivered logs, whose
    // resource policy size limit the account's other API log groups then do not share.
    this.accessLogs = new LogGroup(this, 'AccessLogs', {
      logGroupName: `/aws/vendedlogs/apigateway/${Stack.of(this).stackName}/access`,
      retention: props.logRetentionDays as RetentionDays,
    });
    this.stage = new HttpStage(this, 'DefaultStage', {
      httpApi: this.httpApi,
      stageName: '$default',
      autoDeploy: true,
      throttle: { rateLimit: props.throttleRateLimit, burstLimit: props.throttleBurstLimit },
      // Per-route request counts, errors and latency for the dashboard.
      detailedMetricsEnabled: true,
      accessLogSettings: { destination: new LogGroupLogDestination(this.accessLogs), format: accessLogFormat },
    });
    // The stage's limit is for the whole API; the public callback routes get their own, lower one.
    // (RouteSettings is free-form JSON to CDK: CloudFormation's own property names.)
    (this.stage.node.defaultChild as CfnStage).routeSettings = Object.fromEntries(
      routes
        .filter((route) => route.function === 'callback')
        .map((route) => [
          routeKey(route),
          { ThrottlingRateLimit: props.callbackThrottle.rateLimit, ThrottlingBurstLimit: props.callbackThrottle.burstLimit },
        ]),
    );

    const authorizer = new HttpJwtAuthorizer('JwtAuthorizer', props.jwt.issuer, {
      jwtAudience: props.jwt.audience,
      identitySource: ['$request.header.Authorization'],
    });
    const integrations = new Map<string, HttpLambdaIntegration>();
    const integrationFor = (name: string): HttpLambdaIntegration => {
      const target = props.targets[name];
      if (!target) throw new Error(`a route names function ${name}, which functionSpecs does not define`);
      let integration = integrations.get(name);
      if (!integration) {
        integration = new HttpLambdaIntegration(`${pascal(name)}Integration`, target);
        integrations.set(name, integration);
      }
      return integration;
    };
    for (const route of routes) {
      const routeAuthorizer: IHttpRouteAuthorizer = route.auth === 'jwt' ? authorizer : new HttpNoneAuthorizer();
      const httpRoute = new HttpRoute(this, `Route ${routeKey(route).replaceAll('/', '|')}`, {
        httpApi: this.httpApi,
        routeKey: HttpRouteKey.with(route.path, methods[route.method]),
        integration: integrationFor(route.function),
        authorizer: routeAuthorizer,
        ...(route.auth === 'jwt' && props.jwt.scopes.length > 0 ? { authorizationScopes: props.jwt.scopes } : {}),
      });
      if (route.auth === 'none') {
        Validations.of(httpRoute).acknowledge({
          id: 'AwsSolutions-APIG4',
          reason:
            "TrueLayer sends the end user's browser to /callback, which carries no bearer token. The callback function authorises the request itself by consuming a single-use, expiring auth state (stored hashed, bound to the connection and its owner) before it exchanges the code.",
        });
      }
    }
    this.routeKeys = routes.map(routeKey);

    this.domainName = props.domain?.name;
    if (props.domain) {
      this.domain = new DomainName(this, 'DomainName', {
        domainName: props.domain.name,
        certificate: Certificate.fromCertificateArn(this, 'Certificate', props.domain.certificateArn),
      });
      new ApiMapping(this, 'DomainMapping', { api: this.httpApi, domainName: this.domain, stage: this.stage });
    } else {
      this.domain = undefined;
    }
  }

  /** The base URL clients use: the custom domain when there is one. */
  get url(): string {
    return this.domainName ? `https://${this.domainName}` : this.httpApi.apiEndpoint;
  }
}
