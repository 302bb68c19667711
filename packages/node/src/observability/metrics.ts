/**
 * The peer's metrics, on prom-client: one registry per peer (tests run several peers in one
 * process), with prom-client's default process metrics (CPU, memory, event-loop lag, GC),
 * rendered in the text exposition format that `GET /metrics` serves.
 *
 * The instruments keep call sites short (`counter.inc(1, { fn })`); everything else —
 * series, escaping, buckets, exposition — is prom-client's.
 *
 * @example
 * ```ts
 * const metrics = new MetricsRegistry()
 * const requests = metrics.counter('chorus_http_requests_total', 'HTTP requests answered.', {
 *   labelNames: ['route', 'status'],
 * })
 * requests.inc(1, { route: '/v1/health', status: 200 })
 * await metrics.text()
 * // # HELP chorus_http_requests_total HTTP requests answered.
 * // # TYPE chorus_http_requests_total counter
 * // chorus_http_requests_total{route="/v1/health",status="200"} 1
 * ```
 */
import {
  Counter as PromCounter,
  Gauge as PromGauge,
  Histogram as PromHistogram,
  Registry,
  collectDefaultMetrics,
} from 'prom-client'

/** Label values by label name; numbers are rendered as decimal strings. */
export type LabelValues = Readonly<Record<string, string | number>>

export interface MetricOptions {
  /** The labels every sample of this metric carries. Default none. */
  readonly labelNames?: readonly string[]
}

export interface HistogramOptions extends MetricOptions {
  /** Upper bounds, strictly increasing; `+Inf` is always added. Default `DEFAULT_BUCKETS`. */
  readonly buckets?: readonly number[]
}

/** Prometheus' default buckets, in seconds: a web request's latency. */
export const DEFAULT_BUCKETS: readonly number[] = [
  0.005, 0.01, 0.025, 0.05, 0.1, 0.25, 0.5, 1, 2.5, 5, 10,
]

/**
 * Buckets for an invocation or a forward, in seconds: a warm round trip on a LAN is well
 * under a millisecond, a cold start about a tenth of a second, a long function minutes.
 */
export const LATENCY_BUCKETS: readonly number[] = [
  0.0005, 0.001, 0.0025, 0.005, 0.01, 0.025, 0.05, 0.1, 0.25, 0.5, 1, 2.5, 5, 10, 30, 60, 300,
]

/** The content type of `MetricsRegistry.text()`. */
export const METRICS_CONTENT_TYPE = Registry.PROMETHEUS_CONTENT_TYPE

export interface Counter {
  /** Adds `by` (default 1, never negative). */
  inc(by?: number, labels?: LabelValues): void
  /** Forgets one labelled series (say, of a scheduler that went away). */
  remove(labels: LabelValues): void
}

export interface Gauge {
  set(value: number, labels?: LabelValues): void
  inc(by?: number, labels?: LabelValues): void
  dec(by?: number, labels?: LabelValues): void
  remove(labels: LabelValues): void
}

export interface Histogram {
  observe(value: number, labels?: LabelValues): void
  remove(labels: LabelValues): void
}

export interface MetricsRegistryInit {
  /** prom-client's default process metrics (`process_*`, `nodejs_*`). Default true. */
  readonly processMetrics?: boolean
}

export class MetricsRegistry {
  readonly #registry = new Registry()
  readonly #collectors = new Set<() => void>()

  constructor(init: MetricsRegistryInit = {}) {
    if (init.processMetrics ?? true) collectDefaultMetrics({ register: this.#registry })
  }

  counter(name: string, help: string, options: MetricOptions = {}): Counter {
    const counter = new PromCounter({ ...this.#common(name, help, options) })
    return {
      inc: (by = 1, labels) => (labels ? counter.inc(labels, by) : counter.inc(by)),
      remove: (labels) => counter.remove(labels),
    }
  }

  gauge(name: string, help: string, options: MetricOptions = {}): Gauge {
    const gauge = new PromGauge({ ...this.#common(name, help, options) })
    return {
      set: (value, labels) => (labels ? gauge.set(labels, value) : gauge.set(value)),
      inc: (by = 1, labels) => (labels ? gauge.inc(labels, by) : gauge.inc(by)),
      dec: (by = 1, labels) => (labels ? gauge.dec(labels, by) : gauge.dec(by)),
      remove: (labels) => gauge.remove(labels),
    }
  }

  histogram(name: string, help: string, options: HistogramOptions = {}): Histogram {
    const histogram = new PromHistogram({
      ...this.#common(name, help, options),
      buckets: [...(options.buckets ?? DEFAULT_BUCKETS)],
    })
    return {
      observe: (value, labels) =>
        labels ? histogram.observe(labels, value) : histogram.observe(value),
      remove: (labels) => histogram.remove(labels),
    }
  }

  /**
   * Runs `collect` before every exposition, to set gauges that are cheaper to read when asked
   * than to keep up to date. Returns the function that removes it.
   */
  onCollect(collect: () => void): () => void {
    this.#collectors.add(collect)
    return () => this.#collectors.delete(collect)
  }

  /** Every metric in the text exposition format. */
  async text(): Promise<string> {
    for (const collect of this.#collectors) collect()
    return this.#registry.metrics()
  }

  #common(name: string, help: string, options: MetricOptions) {
    return {
      name,
      help,
      labelNames: [...(options.labelNames ?? [])],
      registers: [this.#registry],
    }
  }
}
