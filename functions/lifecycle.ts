/** The lifecycle worker: run by a schedule (EventBridge Scheduler, every 15 minutes), no route. */
import type { Context } from 'aws-lambda';
import { dependencies, logger } from '../shared/composition';
import { runLifecycle } from '../shared/lifecycle/worker';

/** Stop starting new items this long before the function's timeout; the rest stay due. */
const marginMs = 30_000;

export const handler = async (_event: unknown, context?: Pick<Context, 'getRemainingTimeInMillis'>) => {
  const deadline = context ? Date.now() + context.getRemainingTimeInMillis() - marginMs : undefined;
  const result = await runLifecycle(dependencies().services, deadline === undefined ? {} : { deadline });
  const { failures, ...summary } = result;
  for (const failure of failures) logger.warn('lifecycle item failed', failure);
  logger.info('lifecycle run', { ...summary, failed: failures.length });
  return result;
};
