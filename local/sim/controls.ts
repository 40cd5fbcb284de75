/** The simulator's test controls: request counts (`GET /__sim/stats`) and injected faults (`/__sim/faults`), under `/__sim`. */
import type { ServerResponse } from 'node:http';
import { z } from 'zod';
import type { SimRequest } from './http';
import { parseJsonBody, sendEmpty, sendJson } from './http';

export interface SimStats {
  token: { authorization_code: number; refresh_token: number };
  data: Record<string, number>;
  extend: number;
  delete: number;
}

const faultSchema = z
  .strictObject({
    path: z.string().min(1).max(500).startsWith('/', 'path must start with /'),
    status: z.int().min(200).max(599).optional(),
    body: z.unknown().optional(),
    delay_ms: z.int().min(0).max(120_000).optional(),
    times: z.int().positive().optional(),
    rate: z.number().gt(0).max(1).optional(),
    /** Process the call as usual (a token call rotates the pair), then reset the connection instead of answering. */
    reset: z.literal(true).optional(),
  })
  .refine((fault) => fault.status !== undefined || fault.delay_ms !== undefined || fault.reset !== undefined, {
    message: 'give a status, a delay_ms, a reset, or a delay with either',
  })
  .refine((fault) => fault.reset === undefined || fault.status === undefined, {
    message: 'a reset sends no answer, so it takes no status',
    path: ['reset'],
  })
  .refine((fault) => fault.body === undefined || fault.status !== undefined, { message: 'a body needs a status', path: ['status'] })
  .refine((fault) => fault.status === undefined || fault.status >= 400 || fault.body !== undefined, {
    message: 'a non-error status needs a body',
    path: ['body'],
  })
  .refine((fault) => !fault.path.slice(0, -1).includes('*'), { message: 'only a trailing * is supported', path: ['path'] })
  .refine((fault) => !fault.path.startsWith('/__sim'), { message: 'faults never apply to /__sim', path: ['path'] });

export type FaultSpec = z.infer<typeof faultSchema>;

export interface Fault extends FaultSpec {
  id: number;
  /** Calls left before the fault retires itself (only when `times` was given). */
  remaining?: number;
  matched: number;
  fired: number;
}

const emptyStats = (): SimStats => ({ token: { authorization_code: 0, refresh_token: 0 }, data: {}, extend: 0, delete: 0 });

const matches = (pattern: string, path: string): boolean =>
  pattern.endsWith('*') ? path.startsWith(pattern.slice(0, -1)) : path === pattern;

export class SimControls {
  private stats = emptyStats();
  private faults: Fault[] = [];
  private nextId = 1;

  constructor(private readonly onReset: () => void = () => undefined) {}

  countToken(grantType: string | undefined): void {
    if (grantType === 'authorization_code' || grantType === 'refresh_token') this.stats.token[grantType] += 1;
  }

  countData(template: string): void {
    this.stats.data[template] = (this.stats.data[template] ?? 0) + 1;
  }

  countExtend(): void {
    this.stats.extend += 1;
  }

  countDelete(): void {
    this.stats.delete += 1;
  }

  snapshot(): SimStats {
    return { token: { ...this.stats.token }, data: { ...this.stats.data }, extend: this.stats.extend, delete: this.stats.delete };
  }

  addFault(spec: FaultSpec): Fault {
    const fault: Fault = { ...spec, id: this.nextId, matched: 0, fired: 0, ...(spec.times === undefined ? {} : { remaining: spec.times }) };
    this.nextId += 1;
    this.faults.push(fault);
    return fault;
  }

  clearFaults(): void {
    this.faults = [];
  }

  reset(): void {
    this.clearFaults();
    this.stats = emptyStats();
    this.onReset();
  }

  /**
   * The fault this call gets, if any. `rate` is applied deterministically: of every n matching
   * calls, ceil(n × rate) are faulted, the first one included, so tests can rely on it.
   */
  takeFault(path: string): Fault | undefined {
    for (const fault of this.faults) {
      if (!matches(fault.path, path)) continue;
      fault.matched += 1;
      if (fault.rate !== undefined) {
        const perMillion = Math.round(fault.rate * 1_000_000);
        const due = Math.ceil((fault.matched * perMillion) / 1_000_000) > Math.ceil(((fault.matched - 1) * perMillion) / 1_000_000);
        if (!due) continue;
      }
      fault.fired += 1;
      if (fault.remaining !== undefined) {
        fault.remaining -= 1;
        if (fault.remaining <= 0) this.faults = this.faults.filter((item) => item !== fault);
      }
      return fault;
    }
    return undefined;
  }

  list(): Fault[] {
    return this.faults.map((fault) => ({ ...fault }));
  }

  /** Serves `/__sim/*`; answers 404 for anything else under it. */
  handle(request: SimRequest, res: ServerResponse): void {
    const route = `${request.method} ${request.path.replace(/\/+$/, '')}`;
    switch (route) {
      case 'GET /__sim/stats':
        return sendJson(request.raw, res, 200, this.snapshot(), { headers: { 'cache-control': 'no-store' } });
      case 'GET /__sim/faults':
        return sendJson(request.raw, res, 200, { faults: this.list() }, { headers: { 'cache-control': 'no-store' } });
      case 'POST /__sim/faults': {
        const body = parseJsonBody(request);
        if (!body.ok) return sendJson(request.raw, res, 400, { error: 'invalid_fault', error_description: body.reason });
        const spec = faultSchema.safeParse(body.value);
        if (!spec.success) {
          const issues = spec.error.issues.map((issue) => `${issue.path.join('.') || 'fault'}: ${issue.message}`);
          return sendJson(request.raw, res, 400, { error: 'invalid_fault', error_description: issues.join('; ') });
        }
        return sendJson(request.raw, res, 201, this.addFault(spec.data));
      }
      case 'DELETE /__sim/faults':
        this.clearFaults();
        return sendEmpty(res, 204);
      case 'POST /__sim/reset':
        this.reset();
        return sendEmpty(res, 204);
      default:
        return sendJson(request.raw, res, 404, {
          error: 'not_found',
          error_description: `No simulator control at ${request.method} ${request.path}.`,
        });
    }
  }
}
