import { describe, expect, it } from 'vitest'
import { DEFAULT_BUCKETS, MetricsRegistry } from '../../src/observability/metrics.js'

describe('MetricsRegistry', () => {
  it('renders nothing when empty', () => {
    expect(new MetricsRegistry().text()).toBe('')
  })

  it('renders an unlabelled counter at zero before it counts, with HELP and TYPE', () => {
    const metrics = new MetricsRegistry()
    const c = metrics.counter('chorus_forwarded_total', 'Invocations forwarded to another peer.')
    expect(metrics.text()).toBe(
      '# HELP chorus_forwarded_total Invocations forwarded to another peer.\n' +
        '# TYPE chorus_forwarded_total counter\n' +
        'chorus_forwarded_total 0\n',
    )
    c.inc()
    c.inc(2.5)
    expect(c.get()).toBe(3.5)
    expect(metrics.text()).toContain('\nchorus_forwarded_total 3.5\n')
  })

  it('renders labelled series in label order, in the order they appeared', () => {
    const metrics = new MetricsRegistry()
    const c = metrics.counter('requests_total', 'Requests.', { labelNames: ['route', 'status'] })
    c.inc(1, { status: 200, route: '/b' })
    c.inc(1, { route: '/a', status: '404' })
    c.inc(1, { route: '/b', status: 200 })
    expect(metrics.text()).toBe(
      '# HELP requests_total Requests.\n' +
        '# TYPE requests_total counter\n' +
        'requests_total{route="/b",status="200"} 2\n' +
        'requests_total{route="/a",status="404"} 1\n',
    )
    expect(c.get({ route: '/b', status: 200 })).toBe(2)
    expect(c.get({ route: '/c', status: 200 })).toBe(0)
  })

  it('escapes label values and help text as the format asks', () => {
    const metrics = new MetricsRegistry()
    const g = metrics.gauge('odd', 'Help with a \\ backslash\nand a newline "quoted".', {
      labelNames: ['v'],
    })
    g.set(1, { v: 'a"b\\c\nd' })
    expect(metrics.text()).toBe(
      '# HELP odd Help with a \\\\ backslash\\nand a newline "quoted".\n' +
        '# TYPE odd gauge\n' +
        'odd{v="a\\"b\\\\c\\nd"} 1\n',
    )
  })

  it('sets, raises and lowers gauges, and forgets a removed series', () => {
    const metrics = new MetricsRegistry()
    const g = metrics.gauge('queue_depth', 'Queued invocations.', { labelNames: ['owner'] })
    g.set(5, { owner: 'acme' })
    g.inc(2, { owner: 'acme' })
    g.dec(1, { owner: 'acme' })
    g.dec(undefined, { owner: 'zeta' })
    expect(g.get({ owner: 'acme' })).toBe(6)
    expect(metrics.text()).toContain('queue_depth{owner="acme"} 6\nqueue_depth{owner="zeta"} -1\n')
    g.remove({ owner: 'acme' })
    expect(metrics.text()).not.toContain('acme')
  })

  it('renders special values as Prometheus spells them', () => {
    const metrics = new MetricsRegistry()
    const g = metrics.gauge('x', 'X.', { labelNames: ['k'] })
    g.set(NaN, { k: 'nan' })
    g.set(Infinity, { k: 'inf' })
    g.set(-Infinity, { k: 'minf' })
    g.set(1e-7, { k: 'small' })
    expect(metrics.text()).toContain(
      'x{k="nan"} NaN\nx{k="inf"} +Inf\nx{k="minf"} -Inf\nx{k="small"} 1e-7\n',
    )
  })

  it('renders histograms with cumulative buckets, +Inf, sum and count', () => {
    const metrics = new MetricsRegistry()
    const h = metrics.histogram('latency_seconds', 'Latency.', { buckets: [0.1, 1, 10] })
    for (const v of [0.05, 0.1, 0.5, 5, 50]) h.observe(v)
    expect(metrics.text()).toBe(
      '# HELP latency_seconds Latency.\n' +
        '# TYPE latency_seconds histogram\n' +
        'latency_seconds_bucket{le="0.1"} 2\n' +
        'latency_seconds_bucket{le="1"} 3\n' +
        'latency_seconds_bucket{le="10"} 4\n' +
        'latency_seconds_bucket{le="+Inf"} 5\n' +
        'latency_seconds_sum 55.65\n' +
        'latency_seconds_count 5\n',
    )
  })

  it('puts le after the labels of a labelled histogram, with the default buckets', () => {
    const metrics = new MetricsRegistry()
    const h = metrics.histogram('d', 'D.', { labelNames: ['route'] })
    expect(metrics.text()).toBe('# HELP d D.\n# TYPE d histogram\n')
    h.observe(0.3, { route: '/x' })
    const lines = metrics.text().split('\n')
    expect(lines).toContain('d_bucket{route="/x",le="0.25"} 0')
    expect(lines).toContain('d_bucket{route="/x",le="0.5"} 1')
    expect(lines).toContain('d_bucket{route="/x",le="+Inf"} 1')
    expect(lines).toContain('d_sum{route="/x"} 0.3')
    expect(lines).toContain('d_count{route="/x"} 1')
    expect(lines.filter((l) => l.startsWith('d_bucket'))).toHaveLength(DEFAULT_BUCKETS.length + 1)
  })

  it('renders families in registration order', () => {
    const metrics = new MetricsRegistry()
    metrics.gauge('b', 'B.')
    metrics.counter('a_total', 'A.')
    expect(metrics.text().match(/^# TYPE \S+/gm)).toEqual(['# TYPE b', '# TYPE a_total'])
  })

  it('runs collectors before each exposition until they are removed', () => {
    const metrics = new MetricsRegistry()
    const g = metrics.gauge('peers', 'Peers known.')
    let known = 3
    const stop = metrics.onCollect(() => g.set(known))
    expect(metrics.text()).toContain('peers 3\n')
    known = 4
    expect(metrics.text()).toContain('peers 4\n')
    stop()
    known = 5
    expect(metrics.text()).toContain('peers 4\n')
  })

  it('refuses what would render an invalid exposition', () => {
    const metrics = new MetricsRegistry()
    expect(() => metrics.counter('1bad', 'x')).toThrow(TypeError)
    expect(() => metrics.counter('has-dash', 'x')).toThrow(TypeError)
    expect(() => metrics.counter('ok', 'x', { labelNames: ['bad-label'] })).toThrow(TypeError)
    expect(() => metrics.counter('ok2', 'x', { labelNames: ['__reserved'] })).toThrow(TypeError)
    expect(() => metrics.counter('ok3', 'x', { labelNames: ['a', 'a'] })).toThrow(TypeError)
    expect(() => metrics.histogram('h1', 'x', { labelNames: ['le'] })).toThrow(/reserved/)
    expect(() => metrics.histogram('h2', 'x', { buckets: [1, 1] })).toThrow(/increasing/)
    expect(() => metrics.histogram('h3', 'x', { buckets: [2, 1] })).toThrow(/increasing/)
    expect(() => metrics.histogram('h4', 'x', { buckets: [NaN] })).toThrow(/finite/)
    metrics.counter('taken', 'x')
    expect(() => metrics.gauge('taken', 'x')).toThrow(/already registered/)
  })

  it('refuses wrong labels, a counter going down, and NaN observations', () => {
    const metrics = new MetricsRegistry()
    const c = metrics.counter('c_total', 'C.', { labelNames: ['a'] })
    expect(() => c.inc(1)).toThrow('c_total takes labels [a], got []')
    expect(() => c.inc(1, { a: 1, b: 2 })).toThrow(TypeError)
    expect(() => c.inc(1, { b: 1 })).toThrow(TypeError)
    expect(() => c.inc(-1, { a: 1 })).toThrow(/only goes up/)
    expect(() => c.inc(NaN, { a: 1 })).toThrow(/only goes up/)
    const h = metrics.histogram('h', 'H.')
    expect(() => h.observe(NaN)).toThrow(/NaN/)
    expect(metrics.text()).toContain('h_count 0\n')
  })
})
