/**
 * A tiny Prometheus registry: counters, gauges and histograms with labels, rendered in the
 * text exposition format (version 0.0.4) that `GET /metrics` serves.
 *
 * @example
 * ```ts
 * const metrics = new MetricsRegistry()
 * const requests = metrics.counter('chorus_http_requests_total', 'HTTP requests answered.', {
 *   labelNames: ['route', 'status'],
 * })
 * requests.inc(1, { route: '/v1/health', status: 200 })
 * metrics.text()
 * // # HELP chorus_http_requests_total HTTP requests answered.
 * // # TYPE chorus_http_requests_total counter
 * // chorus_http_requests_total{route="/v1/health",status="200"} 1
 * ```
 */

/** Label values by label name; numbers are rendered as decimal strings. */
export type LabelValues = Readonly<Record<string, string | number>>

export interface MetricOptions {
  /** The labels every sample of this metric carries, in exposition order. Default none. */
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

/** The content type of `MetricsRegistry.text()`. */
export const METRICS_CONTENT_TYPE = 'text/plain; version=0.0.4; charset=utf-8'

export interface Counter {
  /** Adds `by` (default 1, never negative). */
  inc(by?: number, labels?: LabelValues): void
  get(labels?: LabelValues): number
  /** Forgets one labelled series (say, of a scheduler that went away). */
  remove(labels: LabelValues): void
}

export interface Gauge {
  set(value: number, labels?: LabelValues): void
  inc(by?: number, labels?: LabelValues): void
  dec(by?: number, labels?: LabelValues): void
  get(labels?: LabelValues): number
  remove(labels: LabelValues): void
}

export interface Histogram {
  observe(value: number, labels?: LabelValues): void
  remove(labels: LabelValues): void
}

const METRIC_NAME = /^[a-zA-Z_:][a-zA-Z0-9_:]*$/
const LABEL_NAME = /^[a-zA-Z_][a-zA-Z0-9_]*$/

export class MetricsRegistry {
  readonly #families = new Map<string, Family<unknown>>()
  readonly #collectors = new Set<() => void>()

  counter(name: string, help: string, options: MetricOptions = {}): Counter {
    return this.#register(new CounterFamily(name, help, options.labelNames ?? []))
  }

  gauge(name: string, help: string, options: MetricOptions = {}): Gauge {
    return this.#register(new GaugeFamily(name, help, options.labelNames ?? []))
  }

  histogram(name: string, help: string, options: HistogramOptions = {}): Histogram {
    const buckets = options.buckets ?? DEFAULT_BUCKETS
    return this.#register(new HistogramFamily(name, help, options.labelNames ?? [], buckets))
  }

  /**
   * Runs `collect` before every exposition, to set gauges that are cheaper to read when asked
   * than to keep up to date. Returns the function that removes it.
   */
  onCollect(collect: () => void): () => void {
    this.#collectors.add(collect)
    return () => this.#collectors.delete(collect)
  }

  /** Every metric in the text exposition format, in the order they were registered. */
  text(): string {
    for (const collect of this.#collectors) collect()
    let out = ''
    for (const family of this.#families.values()) out += family.render()
    return out
  }

  #register<F extends Family<unknown>>(family: F): F {
    if (this.#families.has(family.name)) {
      throw new TypeError(`metric ${family.name} is already registered`)
    }
    this.#families.set(family.name, family)
    return family
  }
}

abstract class Family<S> {
  abstract readonly type: 'counter' | 'gauge' | 'histogram'
  readonly #series = new Map<string, { readonly labels: string; readonly state: S }>()

  constructor(
    readonly name: string,
    readonly help: string,
    readonly labelNames: readonly string[],
  ) {
    if (!METRIC_NAME.test(name)) throw new TypeError(`invalid metric name ${JSON.stringify(name)}`)
    const seen = new Set<string>()
    for (const label of labelNames) {
      if (!LABEL_NAME.test(label) || label.startsWith('__') || seen.has(label)) {
        throw new TypeError(`invalid or repeated label name ${JSON.stringify(label)} on ${name}`)
      }
      seen.add(label)
    }
  }

  protected abstract initial(): S
  protected abstract renderSeries(labels: string, state: S): string

  /** Unlabelled metrics show their zero before anything happens, as client libraries do. */
  protected init(): void {
    if (this.labelNames.length === 0) this.series(undefined)
  }

  protected series(labels: LabelValues | undefined): S {
    const values = this.#values(labels)
    const key = values.join('\u0000')
    let entry = this.#series.get(key)
    if (entry === undefined) {
      entry = { labels: renderLabels(this.labelNames, values), state: this.initial() }
      this.#series.set(key, entry)
    }
    return entry.state
  }

  protected peek(labels: LabelValues | undefined): S | undefined {
    return this.#series.get(this.#values(labels).join('\u0000'))?.state
  }

  remove(labels: LabelValues): void {
    this.#series.delete(this.#values(labels).join('\u0000'))
  }

  render(): string {
    let out = `# HELP ${this.name} ${escapeHelp(this.help)}\n# TYPE ${this.name} ${this.type}\n`
    for (const { labels, state } of this.#series.values()) out += this.renderSeries(labels, state)
    return out
  }

  #values(labels: LabelValues | undefined): string[] {
    const given = labels ?? {}
    const keys = Object.keys(given)
    if (keys.length !== this.labelNames.length || keys.some((k) => !this.labelNames.includes(k))) {
      throw new TypeError(
        `${this.name} takes labels [${this.labelNames.join(', ')}], got [${keys.join(', ')}]`,
      )
    }
    return this.labelNames.map((name) => String(given[name]))
  }
}

class CounterFamily extends Family<{ value: number }> implements Counter {
  readonly type = 'counter'

  constructor(name: string, help: string, labelNames: readonly string[]) {
    super(name, help, labelNames)
    this.init()
  }

  protected initial(): { value: number } {
    return { value: 0 }
  }

  inc(by = 1, labels?: LabelValues): void {
    if (!(by >= 0)) throw new TypeError(`${this.name}: a counter only goes up (inc by ${by})`)
    this.series(labels).value += by
  }

  get(labels?: LabelValues): number {
    return this.peek(labels)?.value ?? 0
  }

  protected renderSeries(labels: string, state: { value: number }): string {
    return `${this.name}${labels} ${formatNumber(state.value)}\n`
  }
}

class GaugeFamily extends Family<{ value: number }> implements Gauge {
  readonly type = 'gauge'

  constructor(name: string, help: string, labelNames: readonly string[]) {
    super(name, help, labelNames)
    this.init()
  }

  protected initial(): { value: number } {
    return { value: 0 }
  }

  set(value: number, labels?: LabelValues): void {
    this.series(labels).value = value
  }

  inc(by = 1, labels?: LabelValues): void {
    this.series(labels).value += by
  }

  dec(by = 1, labels?: LabelValues): void {
    this.series(labels).value -= by
  }

  get(labels?: LabelValues): number {
    return this.peek(labels)?.value ?? 0
  }

  protected renderSeries(labels: string, state: { value: number }): string {
    return `${this.name}${labels} ${formatNumber(state.value)}\n`
  }
}

interface HistogramState {
  /** Observations per bucket (not cumulative); the last one is `+Inf`. */
  readonly counts: number[]
  sum: number
  count: number
}

class HistogramFamily extends Family<HistogramState> implements Histogram {
  readonly type = 'histogram'
  readonly #bounds: readonly number[]
  readonly #le: readonly string[]

  constructor(
    name: string,
    help: string,
    labelNames: readonly string[],
    buckets: readonly number[],
  ) {
    super(name, help, labelNames)
    if (labelNames.includes('le')) throw new TypeError(`${name}: 'le' is reserved for buckets`)
    const bounds = buckets.filter((b) => b !== Infinity)
    bounds.forEach((b, i) => {
      if (!Number.isFinite(b) || (i > 0 && !(b > (bounds[i - 1] ?? -Infinity)))) {
        throw new TypeError(`${name}: buckets must be finite and strictly increasing`)
      }
    })
    this.#bounds = [...bounds, Infinity]
    this.#le = this.#bounds.map((b) => escapeLabelValue(formatNumber(b)))
    this.init()
  }

  protected initial(): HistogramState {
    return { counts: this.#bounds.map(() => 0), sum: 0, count: 0 }
  }

  observe(value: number, labels?: LabelValues): void {
    if (Number.isNaN(value)) throw new TypeError(`${this.name}: cannot observe NaN`)
    const state = this.series(labels)
    const i = this.#bounds.findIndex((bound) => value <= bound)
    state.counts[i] = (state.counts[i] ?? 0) + 1
    state.sum += value
    state.count += 1
  }

  protected renderSeries(labels: string, state: HistogramState): string {
    // `le` goes last, after the metric's own labels.
    const open = labels === '' ? '{' : `${labels.slice(0, -1)},`
    let out = ''
    let cumulative = 0
    state.counts.forEach((n, i) => {
      cumulative += n
      out += `${this.name}_bucket${open}le="${this.#le[i]}"} ${cumulative}\n`
    })
    out += `${this.name}_sum${labels} ${formatNumber(state.sum)}\n`
    out += `${this.name}_count${labels} ${state.count}\n`
    return out
  }
}

function renderLabels(names: readonly string[], values: readonly string[]): string {
  if (names.length === 0) return ''
  return `{${names.map((name, i) => `${name}="${escapeLabelValue(values[i] ?? '')}"`).join(',')}}`
}

function formatNumber(n: number): string {
  if (Number.isNaN(n)) return 'NaN'
  if (n === Infinity) return '+Inf'
  if (n === -Infinity) return '-Inf'
  return String(n)
}

function escapeHelp(text: string): string {
  return text.replace(/\\/g, '\\\\').replace(/\n/g, '\\n')
}

function escapeLabelValue(text: string): string {
  return text.replace(/\\/g, '\\\\').replace(/"/g, '\\"').replace(/\n/g, '\\n')
}
