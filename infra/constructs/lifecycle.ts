/**
 * What runs the scheduled functions (the lifecycle worker): an EventBridge Scheduler schedule per
 * function spec with `schedule`, invoking the function's `live` alias (so CodeDeploy shifts it like
 * the others) with its own role, and one encrypted dead-letter queue that receives both the runs the
 * scheduler could not deliver and the runs the function failed. Alarms: the worker's errors,
 * throttles and failed items, and anything in the dead-letter queue.
 */
import { Duration, Stack, Validations } from 'aws-cdk-lib';
import { Role, ServicePrincipal } from 'aws-cdk-lib/aws-iam';
import { SqsDestination } from 'aws-cdk-lib/aws-lambda-destinations';
import { Schedule, ScheduleExpression } from 'aws-cdk-lib/aws-scheduler';
import { LambdaInvoke } from 'aws-cdk-lib/aws-scheduler-targets';
import { Queue, QueueEncryption } from 'aws-cdk-lib/aws-sqs';
import { Construct } from 'constructs';
import { pascal, serviceName } from '../names';
import type { DeployedFunction } from './functions';
import type { Monitoring } from './monitoring';

/** A scheduled run older than this is dropped to the dead-letter queue: the next run is due by then. */
export const scheduledRunMaxAge = Duration.minutes(15);

export interface LifecycleProps {
  /** The functions whose spec has a `schedule`. */
  scheduled: DeployedFunction[];
  monitoring: Monitoring;
}

export class Lifecycle extends Construct {
  readonly deadLetterQueue: Queue;
  readonly schedules: Schedule[] = [];

  constructor(scope: Construct, id: string, props: LifecycleProps) {
    super(scope, id);
    this.deadLetterQueue = new Queue(this, 'DeadLetterQueue', {
      encryption: QueueEncryption.SQS_MANAGED,
      enforceSSL: true,
      retentionPeriod: Duration.days(14),
    });
    Validations.of(this.deadLetterQueue).acknowledge({
      id: 'AwsSolutions-SQS3',
      reason:
        'This queue is itself the dead-letter queue: of the scheduler (runs it could not deliver) and of the worker (async on-failure destination). Neither is an SQS redrive, which is all the check recognises.',
    });

    for (const deployed of props.scheduled) this.schedule(deployed, props.monitoring);
    if (props.scheduled.length > 0) {
      props.monitoring.alarmOnQueueDepth(
        'LifecycleDeadLetters',
        this.deadLetterQueue,
        'The lifecycle dead-letter queue (scheduled runs that were not delivered or failed)',
        // The next run redoes the work, so nothing is redriven: the messages say why a run failed.
        'read them for the cause, fix it, then purge the queue (the next scheduled run does the work).',
      );
    }
  }

  private schedule({ spec, fn, alias }: DeployedFunction, monitoring: Monitoring): void {
    const every = spec.schedule?.everyMinutes;
    if (!every) throw new Error(`${spec.name} has no schedule`);
    const stack = Stack.of(this);
    // Only EventBridge Scheduler of this account, acting for a schedule in its default group.
    const role = new Role(this, `${pascal(spec.name)}SchedulerRole`, {
      assumedBy: new ServicePrincipal('scheduler.amazonaws.com', {
        conditions: {
          StringEquals: {
            'aws:SourceAccount': stack.account,
            'aws:SourceArn': stack.formatArn({ service: 'scheduler', resource: 'schedule-group', resourceName: 'default' }),
          },
        },
      }),
      description: `${serviceName}: EventBridge Scheduler invokes ${spec.name}`,
    });
    this.schedules.push(
      new Schedule(this, `${pascal(spec.name)}Schedule`, {
        schedule: ScheduleExpression.rate(Duration.minutes(every)),
        description: `${serviceName}: runs ${spec.name} every ${every} minutes`,
        // The live alias (lambda:InvokeFunction on it only), the one CodeDeploy shifts.
        target: new LambdaInvoke(alias, {
          role,
          deadLetterQueue: this.deadLetterQueue,
          // Undelivered (throttled, refused) runs: one more try, then the queue; the next run is minutes away.
          retryAttempts: 1,
          maxEventAge: scheduledRunMaxAge,
        }),
      }),
    );
    // The scheduler invokes asynchronously: a failed run (error, timeout) goes to the same queue.
    // No Lambda retry: the worker picks up whatever stays due on its next run anyway.
    alias.configureAsyncInvoke({
      onFailure: new SqsDestination(this.deadLetterQueue),
      retryAttempts: 0,
      maxEventAge: scheduledRunMaxAge,
    });
    monitoring.alarmOnWorker(spec.name, fn);
  }
}
