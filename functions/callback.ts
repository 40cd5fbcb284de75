/** GET|POST /callback: public; TrueLayer sends the user's browser here. */
import type { APIGatewayProxyStructuredResultV2 } from 'aws-lambda';
import { connectionDependencies, logger } from '../shared/composition';
import { type CallbackOutcome, completeCallback } from '../shared/connections/complete-callback';
import { returnUrlWith } from '../shared/connections/return-url';
import { kmsDataKeys } from '../shared/crypto/kms-data-keys';
import { htmlPage } from '../shared/http/html';
import { problemBody, problemResponse } from '../shared/http/problem';
import { callbackParams, type HttpEvent, requestBudget, wantsHtml } from '../shared/http/request';
import { httpStack } from '../shared/http/stack';
import { handlerTracing } from '../shared/tracing';

const dependencies = connectionDependencies('callback', { kms: kmsDataKeys });

const html = (statusCode: number, body: string): APIGatewayProxyStructuredResultV2 => ({
  statusCode,
  headers: { 'content-type': 'text/html; charset=utf-8', 'cache-control': 'no-store' },
  body,
});

const respond = (outcome: CallbackOutcome): APIGatewayProxyStructuredResultV2 => {
  if (outcome.returnUrl) {
    const location = returnUrlWith(
      outcome.returnUrl,
      outcome.error
        ? { connection_id: outcome.connectionId, error: outcome.error }
        : {
            connection_id: outcome.connectionId,
            status: outcome.status ?? 'authorized',
            ...(outcome.completionCode ? { completion_code: outcome.completionCode } : {}),
          },
    );
    // The location carries the completion code: no referrer leaves with it.
    return { statusCode: 302, headers: { location, 'cache-control': 'no-store', 'referrer-policy': 'no-referrer' }, body: '' };
  }
  return outcome.error
    ? html(
        200,
        htmlPage('Bank connection not completed', [
          `The bank connection was not completed (${outcome.error}).`,
          outcome.errorDescription ?? 'You can close this window and try again from the app.',
        ]),
      )
    : html(
        200,
        htmlPage('Bank authorized', [
          'Your bank authorized the connection. Return to the app to finish it.',
          `Connection: ${outcome.connectionId}`,
        ]),
      );
};

export const handler = httpStack(
  async (event: HttpEvent, context) => {
    try {
      const { services, config } = dependencies();
      return respond(await completeCallback(services, callbackParams(event), requestBudget(context, config.apiGatewayTimeoutMs)));
    } catch (error) {
      // A person's browser is on the other end: show a page when it asks for one.
      if (!wantsHtml(event)) throw error;
      const problem = problemBody(error);
      if (problem.status >= 500) logger.error('callback failed', { error });
      return {
        ...problemResponse(error),
        headers: { 'content-type': 'text/html; charset=utf-8', 'cache-control': 'no-store' },
        body: htmlPage(problem.title, [problem.detail]),
      };
    }
  },
  { logger, tracing: handlerTracing() },
);
