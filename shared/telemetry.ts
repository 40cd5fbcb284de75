/**
 * Metrics plumbing, the one place Powertools Metrics is met: EMF counts behind the `MetricsPort` of
 * shared/metrics.ts, so the core counts without knowing the library (X-Ray is shared/tracing.ts).
 * Metrics carry names, statuses and bounded codes only, never a token, code, user id or body.
 */
import { Metrics, MetricUnit } from '@aws-lambda-powertools/metrics';
import type { MetricName, MetricsPort } from './metrics';
import { noMetrics, safeDimensionValue } from './metrics';

export const SERVICE_NAME = 'truelayer-connections';

/**
 * Counts aggregated per invocation and written as CloudWatch EMF on `flush()`: one line for the
 * counts without dimensions, one per dimension set. Dimension values pass `safeDimensionValue`, so
 * an id or token given by mistake becomes `other` rather than a metric (and a bill) of its own.
 */
export class EmfMetrics implements MetricsPort {
  readonly #metrics: Metrics;
  readonly #pending = new Map<string, { name: MetricName; dimensions: Record<string, string>; value: number }>();

  readonly namespace: string;

  constructor(options: { namespace: string; serviceName?: string }) {
    this.namespace = options.namespace;
    this.#metrics = new Metrics({ namespace: options.namespace, serviceName: options.serviceName ?? SERVICE_NAME });
  }

  count(name: MetricName, dimensions: Record<string, string> = {}, value = 1): void {
    const safe = Object.fromEntries(
      Object.entries(dimensions)
        .map(([key, raw]) => [key, safeDimensionValue(String(raw))] as const)
        .sort(([a], [b]) => a.localeCompare(b)),
    );
    const key = JSON.stringify([name, safe]);
    const entry = this.#pending.get(key);
    if (entry) entry.value += value;
    else this.#pending.set(key, { name, dimensions: safe, value });
  }

  flush(): void {
    let plain = false;
    for (const { name, dimensions, value } of this.#pending.values()) {
      if (Object.keys(dimensions).length === 0) {
        this.#metrics.addMetric(name, MetricUnit.Count, value);
        plain = true;
      } else {
        const single = this.#metrics.singleMetric();
        single.addDimensions(dimensions);
        single.addMetric(name, MetricUnit.Count, value);
      }
    }
    this.#pending.clear();
    if (plain) this.#metrics.publishStoredMetrics();
  }
}

let active: EmfMetrics | undefined;

/** The container's metrics: EMF when configured, nothing otherwise (the local stack). */
export const createMetrics = (setting: { enabled: boolean; namespace: string }): MetricsPort => {
  if (!setting.enabled) return noMetrics;
  // One per process: where several functions' compositions share a process (the local stack, tests),
  // they count into the same instance, so the flush after each request writes what any of them counted.
  if (active?.namespace !== setting.namespace) active = new EmfMetrics({ namespace: setting.namespace });
  return active;
};

/** Writes what this invocation counted; the HTTP stack calls it after every request, a worker after every run. */
export const flushMetrics = (): void => active?.flush();
