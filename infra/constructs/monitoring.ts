/**
 * What tells someone the service is unwell: an SNS topic every alarm notifies (with an optional
 * email subscription), the alarms, and one dashboard. Alarm helpers take a function or a queue, so
 * parts added later (the lifecycle worker, its dead-letter queue) get the same treatment in one line.
 */
import { Duration, Stack } from 'aws-cdk-lib';
import type { HttpApi, HttpStage } from 'aws-cdk-lib/aws-apigatewayv2';
import type { IMetric, IWidget } from 'aws-cdk-lib/aws-cloudwatch';
import {
  Alarm,
  AlarmStatusWidget,
  ComparisonOperator,
  Dashboard,
  GraphWidget,
  MathExpression,
  Metric,
  TextWidget,
  TreatMissingData,
} from 'aws-cdk-lib/aws-cloudwatch';
import { SnsAction } from 'aws-cdk-lib/aws-cloudwatch-actions';
import type { ITable } from 'aws-cdk-lib/aws-dynamodb';
import type { IFunction, Function as LambdaFunction } from 'aws-cdk-lib/aws-lambda';
import type { ILogGroup } from 'aws-cdk-lib/aws-logs';
import { FilterPattern, MetricFilter } from 'aws-cdk-lib/aws-logs';
import { Topic } from 'aws-cdk-lib/aws-sns';
import { EmailSubscription } from 'aws-cdk-lib/aws-sns-subscriptions';
import type { IQueue } from 'aws-cdk-lib/aws-sqs';
import { Construct } from 'constructs';
import { routes } from '../../functions/routes';
import { metricNames } from '../../shared/metrics';
import { pascal, serviceName } from '../names';

const period = Duration.minutes(5);

/** What functions/lifecycle.ts logs (at WARN) for each due item the worker could not handle. */
export const workerItemFailedMessage = 'lifecycle item failed';
/** The metric the worker's failed-item log lines are counted into. */
export const workerItemsFailedMetric = 'WorkerItemsFailed';

export interface MonitoringProps {
  httpApi: HttpApi;
  stage: HttpStage;
  accessLogs: ILogGroup;
  /** Every function, for the dashboard; the API alarms gate the canaries of those that are not `scheduled`. */
  functions: { name: string; fn: IFunction; scheduled?: boolean }[];
  table: ITable;
  indexNames: readonly string[];
  /** CloudWatch namespace of the EMF business metrics. */
  metricsNamespace: string;
  alarmEmail?: string | undefined;
  /** p99 API latency (ms) above which to alarm. */
  latencyP99Ms: number;
}

export class Monitoring extends Construct {
  readonly topic: Topic;
  readonly dashboard: Dashboard;
  readonly alarms: Alarm[] = [];
  /** Per function: the alarms a canary deployment of it rolls back on. */
  readonly deploymentAlarms = new Map<string, Alarm[]>();
  private readonly props: MonitoringProps;
  private readonly workerWidgets: IWidget[] = [];

  constructor(scope: Construct, id: string, props: MonitoringProps) {
    super(scope, id);
    this.props = props;
    this.topic = new Topic(this, 'AlarmTopic', { displayName: `${serviceName} alarms`, enforceSSL: true });
    if (props.alarmEmail) this.topic.addSubscription(new EmailSubscription(props.alarmEmail));

    const apiAlarms = this.apiAlarms();
    // A scheduled function gets its alarms from alarmOnWorker, without the API's: it serves no route.
    for (const { name, fn, scheduled } of props.functions) if (!scheduled) this.alarmOnFunction(name, fn, apiAlarms);
    this.upstreamAlarm();
    this.tableThrottleAlarm();
    this.dashboard = new Dashboard(this, 'Dashboard', {
      dashboardName: `${Stack.of(this).stackName}-operations`,
      defaultInterval: Duration.hours(3),
    });
  }

  /** A business metric from the service's EMF output (Powertools adds the `service` dimension). */
  businessMetric(name: string, dimensions: Record<string, string> = {}, statistic = 'Sum'): Metric {
    return new Metric({
      namespace: this.props.metricsNamespace,
      metricName: name,
      dimensionsMap: { service: serviceName, ...dimensions },
      period,
      statistic,
    });
  }

  /** An alarm that notifies the topic. Missing data is not breaching: a quiet service is a healthy one. */
  alarm(
    id: string,
    metric: IMetric,
    threshold: number,
    description: string,
    options: { periods?: number; datapoints?: number } = {},
  ): Alarm {
    const alarm = new Alarm(this, id, {
      metric,
      threshold,
      evaluationPeriods: options.periods ?? 1,
      datapointsToAlarm: options.datapoints ?? options.periods ?? 1,
      comparisonOperator: ComparisonOperator.GREATER_THAN_OR_EQUAL_TO_THRESHOLD,
      treatMissingData: TreatMissingData.NOT_BREACHING,
      alarmDescription: description,
    });
    alarm.addAlarmAction(new SnsAction(this.topic));
    alarm.addOkAction(new SnsAction(this.topic));
    this.alarms.push(alarm);
    return alarm;
  }

  /**
   * Errors and throttles of one function, which also gate its canary deployments (with the API alarms
   * passed in, since a bad version shows there first).
   */
  alarmOnFunction(name: string, fn: IFunction, alsoRollBackOn: Alarm[] = []): Alarm[] {
    const errors = this.alarm(
      `${pascal(name)}ErrorsAlarm`,
      fn.metricErrors({ period, statistic: 'Sum' }),
      1,
      `The ${name} function failed (uncaught error or timeout): see its log group, filter level = "ERROR".`,
    );
    const throttles = this.alarm(
      `${pascal(name)}ThrottlesAlarm`,
      fn.metricThrottles({ period, statistic: 'Sum' }),
      1,
      `The ${name} function was throttled: the account's concurrency (or its reserved concurrency) is used up.`,
    );
    this.deploymentAlarms.set(name, [errors, ...alsoRollBackOn]);
    return [errors, throttles];
  }

  /**
   * The lifecycle worker: any failed run, and items it could not handle (counted from its
   * `lifecycle item failed` log lines). Adds its row to the dashboard.
   */
  alarmOnWorker(name: string, fn: LambdaFunction): Alarm[] {
    const alarms = this.alarmOnFunction(name, fn);
    const failedItems = new MetricFilter(this, `${pascal(name)}ItemFailuresFilter`, {
      logGroup: fn.logGroup,
      filterPattern: FilterPattern.stringValue('$.message', '=', workerItemFailedMessage),
      metricNamespace: this.props.metricsNamespace,
      metricName: workerItemsFailedMetric,
      metricValue: '1',
      defaultValue: 0,
    });
    const failedItemsMetric = failedItems.metric({ period, statistic: 'Sum' });
    alarms.push(
      this.alarm(
        `${pascal(name)}ItemFailuresAlarm`,
        failedItemsMetric,
        1,
        `The ${name} worker could not handle due items (keep-alive refresh, expiry, notice, event delivery): they stay due and are retried next run. See its log group: message = "${workerItemFailedMessage}".`,
      ),
    );
    this.workerWidgets.push(
      new GraphWidget({
        title: `Worker runs (${name})`,
        left: [fn.metricInvocations({ period }), fn.metricErrors({ period })],
        right: [fn.metricDuration({ period, statistic: 'p99' })],
        width: 12,
      }),
      new GraphWidget({ title: `Worker items failed (${name})`, left: [failedItemsMetric.with({ label: 'failed items' })], width: 12 }),
    );
    return alarms;
  }

  /** A dead-letter queue: anything in it is work that was given up on; `action` says what to do. */
  alarmOnQueueDepth(id: string, queue: IQueue, what: string, action: string): Alarm {
    return this.alarm(
      `${id}DepthAlarm`,
      queue.metricApproximateNumberOfMessagesVisible({ period, statistic: 'Maximum' }),
      1,
      `${what} is not empty: messages there were given up on; ${action}`,
    );
  }

  private apiAlarms(): Alarm[] {
    const { httpApi } = this.props;
    const errorRate = this.alarm(
      'Api5xxRateAlarm',
      new MathExpression({
        // Below 20 requests in 5 minutes a rate says little: one failure would be 5 %.
        expression: 'IF(requests >= 20, 100 * FILL(errors, 0) / requests, 0)',
        usingMetrics: {
          errors: httpApi.metricServerError({ period, statistic: 'Sum' }),
          requests: httpApi.metricCount({ period, statistic: 'Sum' }),
        },
        period,
        label: 'API 5xx (% of requests)',
      }),
      5,
      "More than 5 % of API requests answered 5xx over 5 minutes: function failures or TrueLayer unavailable. See the dashboard's upstream row, then the function logs.",
    );
    const latency = this.alarm(
      'ApiLatencyP99Alarm',
      httpApi.metricLatency({ period, statistic: 'p99' }),
      this.props.latencyP99Ms,
      `API p99 latency was at or above ${this.props.latencyP99Ms} ms in 2 of 3 five-minute periods: usually TrueLayer slowing down (see upstream calls) or refresh lease waits.`,
      { periods: 3, datapoints: 2 },
    );
    // HTTP APIs publish no throttle metric: count 429s API Gateway answered itself (no integration ran).
    const throttled = new MetricFilter(this, 'ApiThrottledFilter', {
      logGroup: this.props.accessLogs,
      filterPattern: FilterPattern.all(
        FilterPattern.stringValue('$.status', '=', '429'),
        FilterPattern.stringValue('$.integrationStatus', '=', '-'),
      ),
      metricNamespace: this.props.metricsNamespace,
      metricName: 'ApiThrottledRequests',
      metricValue: '1',
      defaultValue: 0,
    });
    this.alarm(
      'ApiThrottlesAlarm',
      throttled.metric({ period, statistic: 'Sum' }),
      10,
      'API Gateway refused 10 or more requests in 5 minutes with 429 (stage throttling): raise -c throttleRateLimit/throttleBurstLimit if the traffic is legitimate.',
    );
    return [errorRate, latency];
  }

  private upstreamAlarm(): void {
    const calls = (statusClass: string) => this.businessMetric(metricNames.upstreamCalls, { StatusClass: statusClass });
    this.alarm(
      'Upstream5xxRateAlarm',
      new MathExpression({
        expression: 'IF(total >= 10, 100 * (FILL(s5, 0) + FILL(t, 0) + FILL(n, 0)) / total, 0)',
        usingMetrics: {
          s5: calls('5xx'),
          t: calls('timeout'),
          n: calls('network'),
          total: new MathExpression({
            expression: 'FILL(s2, 0) + FILL(s3, 0) + FILL(s4, 0) + FILL(s5b, 0) + FILL(tb, 0) + FILL(nb, 0)',
            usingMetrics: {
              s2: calls('2xx'),
              s3: calls('3xx'),
              s4: calls('4xx'),
              s5b: calls('5xx'),
              tb: calls('timeout'),
              nb: calls('network'),
            },
            period,
          }),
        },
        period,
        label: 'TrueLayer 5xx, timeouts and network failures (% of calls)',
      }),
      20,
      'More than 20 % of calls to TrueLayer failed upstream (5xx, timeout, network) over 5 minutes: check status.truelayer.com; the service answers 502/503/504 meanwhile and recovers by itself.',
    );
  }

  private tableThrottleAlarm(): void {
    const { table } = this.props;
    const throttles = (metricName: string, indexName?: string) =>
      table.metric(metricName, {
        period,
        statistic: 'Sum',
        dimensionsMap: { TableName: table.tableName, ...(indexName ? { GlobalSecondaryIndexName: indexName } : {}) },
      });
    const usingMetrics: Record<string, IMetric> = { r: throttles('ReadThrottleEvents'), w: throttles('WriteThrottleEvents') };
    this.props.indexNames.forEach((index, i) => {
      usingMetrics[`i${i}`] = throttles('ReadThrottleEvents', index);
    });
    this.alarm(
      'TableThrottlesAlarm',
      new MathExpression({
        expression: Object.keys(usingMetrics)
          .map((key) => `FILL(${key}, 0)`)
          .join(' + '),
        usingMetrics,
        period,
        label: 'DynamoDB throttle events',
      }),
      1,
      'DynamoDB throttled reads or writes on the connections table or an index (on-demand tables throttle on sudden 2x jumps or hot keys).',
    );
  }

  /** Builds the dashboard's widgets; call once every part has been added. */
  render(): void {
    const { httpApi, stage, functions } = this.props;
    const routeMetric = (metricName: string, method: string, path: string, statistic: string) =>
      new Metric({
        namespace: 'AWS/ApiGateway',
        metricName,
        dimensionsMap: { ApiId: httpApi.apiId, Stage: stage.stageName, Method: method, Resource: path },
        period,
        statistic,
        label: `${method} ${path}`,
      });
    const perRoute = (metricName: string, statistic: string) =>
      routes.map((route) => routeMetric(metricName, route.method, route.path, statistic));
    const lambda = (pick: (fn: IFunction) => IMetric) => functions.map(({ fn }) => pick(fn));
    const named = (metric: IMetric, label: string) => (metric instanceof Metric ? metric.with({ label }) : metric);
    const business = (name: string, dims: Record<string, string> = {}, label = name) => this.businessMetric(name, dims).with({ label });
    /** One line per value of a dimension, labelled with the value. */
    const byDimension = (name: string, dimension: string, values: readonly string[]) =>
      values.map((value) => business(name, { [dimension]: value }, value));

    this.dashboard.addWidgets(
      new TextWidget({
        markdown: `# ${serviceName}\nAPI, functions, TrueLayer and the connections they keep. Alarms and what to do for each: README "Operating it".`,
        width: 24,
        height: 2,
      }),
    );
    this.dashboard.addWidgets(
      new GraphWidget({ title: 'Requests per route', left: perRoute('Count', 'Sum'), width: 8, stacked: true }),
      new GraphWidget({
        title: 'Errors per route (5xx left, 4xx right)',
        left: perRoute('5xx', 'Sum'),
        right: perRoute('4xx', 'Sum'),
        width: 8,
      }),
      new GraphWidget({ title: 'Latency p50 per route (ms)', left: perRoute('Latency', 'p50'), width: 8 }),
    );
    this.dashboard.addWidgets(
      new GraphWidget({ title: 'Latency p99 per route (ms)', left: perRoute('Latency', 'p99'), width: 8 }),
      new GraphWidget({ title: 'Function errors', left: lambda((fn) => fn.metricErrors({ period })), width: 8 }),
      new GraphWidget({
        title: 'Function duration p99 (ms)',
        left: lambda((fn) => fn.metricDuration({ period, statistic: 'p99' })),
        width: 8,
      }),
    );
    const upstreamByCode = new MathExpression({
      expression: `SEARCH('{${this.props.metricsNamespace},Code,Operation,Status,service} MetricName="${metricNames.upstreamErrors}"', 'Sum', 300)`,
      label: 'by operation, status and code',
      period,
    });
    this.dashboard.addWidgets(
      new GraphWidget({
        title: 'TrueLayer calls by status class',
        left: byDimension(metricNames.upstreamCalls, 'StatusClass', ['2xx', '3xx', '4xx', '5xx', 'timeout', 'network']),
        width: 8,
        stacked: true,
      }),
      new GraphWidget({ title: 'TrueLayer errors by code', left: [upstreamByCode], width: 8 }),
      new GraphWidget({
        title: 'Refreshes',
        left: byDimension(metricNames.refreshes, 'Outcome', ['ok', 'refused']),
        width: 8,
      }),
    );
    this.dashboard.addWidgets(
      new GraphWidget({
        title: 'Connections',
        left: [
          metricNames.connectionsCreated,
          metricNames.connectionsCompleted,
          metricNames.connectionsExpired,
          metricNames.connectionsRevoked,
        ].map((name) => business(name)),
        width: 8,
      }),
      new GraphWidget({ title: 'Unattended calls served from cache', left: [business(metricNames.unattendedCacheHits)], width: 8 }),
      new GraphWidget({
        title: 'Worker items',
        left: byDimension(metricNames.workerItemsProcessed, 'Outcome', ['ok', 'failed']),
        width: 8,
      }),
    );
    if (this.workerWidgets.length > 0) this.dashboard.addWidgets(...this.workerWidgets);
    const table = this.props.table;
    this.dashboard.addWidgets(
      new GraphWidget({
        title: 'Throttles',
        left: [
          ...lambda((fn) => fn.metricThrottles({ period })),
          named(
            new Metric({ namespace: this.props.metricsNamespace, metricName: 'ApiThrottledRequests', period, statistic: 'Sum' }),
            'API (429 from API Gateway)',
          ),
        ],
        right: ['ReadThrottleEvents', 'WriteThrottleEvents'].map((name) =>
          table.metric(name, { period, statistic: 'Sum', dimensionsMap: { TableName: table.tableName } }),
        ),
        width: 12,
      }),
      new GraphWidget({
        title: 'Concurrent executions',
        left: lambda((fn) => fn.metric('ConcurrentExecutions', { period, statistic: 'Maximum' })),
        width: 12,
      }),
    );
    this.dashboard.addWidgets(new AlarmStatusWidget({ title: 'Alarms', alarms: this.alarms, width: 24 }));
  }
}
