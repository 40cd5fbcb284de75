/** The lifecycle worker: run by a schedule (EventBridge Scheduler, every 15 minutes), no route. */
import type { Context } from 'aws-lambda';
import { connectionDependencies, logger } from '../shared/composition';
import { kmsDataKeys } from '../shared/crypto/kms-data-keys';
import { eventBridgePublisher } from '../shared/lifecycle/event-bridge';
import { runLifecycle } from '../shared/lifecycle/worker';
import { metricNames } from '../shared/metrics';
import { flushMetrics } from '../shared/telemetry';

/** Also what the local stack asks for the next due time, so it reads the table the worker does. */
export const dependencies = connectionDependencies('lifecycle', { kms: kmsDataKeys, eventBus: eventBridgePublisher });

/** Stop starting new items this long before the function's timeout; the rest stay due. */
const marginMs = 30_000;

export const handler = async (_event: unknown, context?: Pick<Context, 'getRemainingTimeInMillis'>) => {
  const deadline = context ? Date.now() + context.getRemainingTimeInMillis() - marginMs : undefined;
  const { services } = dependencies();
  const result = await runLifecycle(services, deadline === undefined ? {} : { deadline });
  const { failures, ...summary } = result;
  for (const failure of failures) logger.warn('lifecycle item failed', failure);
  logger.info('lifecycle run', { ...summary, failed: failures.length });
  // Not an HTTP function: the metrics the run counted are written here, once per run.
  services.metrics.count(metricNames.workerItemsProcessed, { Outcome: 'ok' }, result.processed);
  services.metrics.count(metricNames.workerItemsProcessed, { Outcome: 'failed' }, failures.length);
  services.metrics.count(metricNames.connectionsExpired, {}, result.expired);
  flushMetrics();
  return result;
};
