/**
 * The service's business metrics, as a port: the core counts things by name; the composition root
 * decides where the counts go (CloudWatch EMF through Powertools when deployed, nowhere locally).
 * The names and dimensions live here once, read by the code that counts and by the CDK dashboard
 * and alarms that chart them.
 */

export const metricNames = {
  connectionsCreated: 'ConnectionsCreated',
  /** The owner completed the connection (POST /connections/{id}/complete). */
  connectionsCompleted: 'ConnectionsCompleted',
  /** The consent ran out (the lifecycle worker, at consent_expires_at). */
  connectionsExpired: 'ConnectionsExpired',
  connectionsRevoked: 'ConnectionsRevoked',
  /** Dimension `Outcome`: `ok` or `refused` (TrueLayer said invalid_grant: the connection ended). */
  refreshes: 'Refreshes',
  /** Every answer (or none) from TrueLayer. Dimension `StatusClass`: 2xx, 3xx, 4xx, 5xx, timeout, network. */
  upstreamCalls: 'UpstreamCalls',
  /** Non-2xx answers. Dimensions `Operation`, `Status`, `Code` (TrueLayer's error code). */
  upstreamErrors: 'UpstreamErrors',
  /** An unattended call past its daily budget, answered from the cached copy. */
  unattendedCacheHits: 'UnattendedCacheHits',
  /** Due items the lifecycle worker handled. Dimension `Outcome`: `ok` or `failed`. */
  workerItemsProcessed: 'WorkerItemsProcessed',
} as const;

export type MetricName = (typeof metricNames)[keyof typeof metricNames];

export const defaultMetricsNamespace = 'TrueLayerConnections';

/** Dimension values allowed through: short words. A value that is not one becomes `other`. */
const SAFE_DIMENSION_VALUE = /^[A-Za-z0-9_.:-]{1,48}$/;

/**
 * A dimension value that cannot carry a token, code, id or free text: short, of word characters,
 * not a JWT, not long runs of what looks like random data. Anything else is `other`.
 */
export const safeDimensionValue = (value: string): string => {
  if (!SAFE_DIMENSION_VALUE.test(value) || value.startsWith('eyJ')) return 'other';
  // Ids and secrets are long runs of letters and digits mixed; error codes are words with separators.
  if (/[0-9]/.test(value) && /[A-Za-z]/.test(value) && value.replace(/[_.:-]/g, '').length > 16) return 'other';
  return value;
};

/** Status class of an upstream answer: 0 means none arrived. */
export const statusClass = (status: number, failure?: 'timeout' | 'network'): string =>
  status === 0 ? (failure ?? 'network') : `${Math.floor(status / 100)}xx`;

export interface MetricsPort {
  /** Adds one (or `value`) to a counter; dimensions must be few and bounded (never ids, tokens or codes). */
  count(name: MetricName, dimensions?: Record<string, string>, value?: number): void;
}

/** Counts nothing: the local stack and tests that do not look. */
export const noMetrics: MetricsPort = { count: () => undefined };

/** Runs work in a named trace subsegment; `annotate` takes bounded words and numbers only (annotations are indexed and searchable). */
export interface TracePort {
  subsegment<T>(name: string, work: (annotate: (key: string, value: string | number | boolean) => void) => Promise<T>): Promise<T>;
}
