import { describe, expect, it } from 'vitest'
import { LATENCY_BUCKETS, MetricsRegistry } from '../../src/observability/metrics.js'

const bare = (): MetricsRegistry => new MetricsRegistry({ processMetrics: false })

describe('MetricsRegistry (prom-client)', () => {
  it('renders nothing when empty, without process metrics', async () => {
    expect((await bare().text()).trim()).toBe('')
  })

  it('carries prom-client default process metrics by default', async () => {
    const text = await new MetricsRegistry().text()
    expect(text).toContain('# TYPE process_cpu_seconds_total counter')
    expect(text).toContain('# TYPE nodejs_eventloop_lag_seconds gauge')
    expect(text).toContain('process_resident_memory_bytes')
  })

  it('counts by labels, with HELP and TYPE', async () => {
    const metrics = bare()
    const c = metrics.counter('chorus_forwards_total', 'Forwarded.', { labelNames: ['route'] })
    c.inc(1, { route: '/a' })
    c.inc(2.5, { route: '/a' })
    c.inc(undefined, { route: '/b' })
    const text = await metrics.text()
    expect(text).toContain('# HELP chorus_forwards_total Forwarded.\n')
    expect(text).toContain('# TYPE chorus_forwards_total counter\n')
    expect(text).toContain('chorus_forwards_total{route="/a"} 3.5\n')
    expect(text).toContain('chorus_forwards_total{route="/b"} 1\n')
  })

  it('sets, raises and lowers gauges, and forgets a removed series', async () => {
    const metrics = bare()
    const g = metrics.gauge('queue_depth', 'Q.', { labelNames: ['owner'] })
    g.set(5, { owner: 'acme' })
    g.inc(2, { owner: 'acme' })
    g.dec(1, { owner: 'acme' })
    g.dec(1, { owner: 'zeta' })
    expect(await metrics.text()).toContain(
      'queue_depth{owner="acme"} 6\nqueue_depth{owner="zeta"} -1\n',
    )
    g.remove({ owner: 'acme' })
    expect(await metrics.text()).not.toContain('acme')
  })

  it('puts observations in cumulative latency buckets', async () => {
    const metrics = bare()
    const h = metrics.histogram('d_seconds', 'D.', { buckets: LATENCY_BUCKETS })
    h.observe(0.0004)
    h.observe(0.003)
    h.observe(400)
    const text = await metrics.text()
    expect(text).toContain('d_seconds_bucket{le="0.0005"} 1\n')
    expect(text).toContain('d_seconds_bucket{le="0.005"} 2\n')
    expect(text).toContain('d_seconds_bucket{le="300"} 2\n')
    expect(text).toContain('d_seconds_bucket{le="+Inf"} 3\n')
    expect(text).toContain('d_seconds_count 3\n')
  })

  it('runs collectors before each exposition until they are removed', async () => {
    const metrics = bare()
    const g = metrics.gauge('peers', 'P.')
    let n = 3
    const stop = metrics.onCollect(() => g.set(n))
    expect(await metrics.text()).toContain('peers 3\n')
    n = 4
    expect(await metrics.text()).toContain('peers 4\n')
    stop()
    n = 5
    expect(await metrics.text()).toContain('peers 4\n')
  })

  it('refuses a name taken, bad names, wrong labels and a counter going down', () => {
    const metrics = bare()
    metrics.counter('taken', 'x')
    expect(() => metrics.gauge('taken', 'x')).toThrow(/already been registered/)
    expect(() => metrics.counter('has-dash', 'x')).toThrow(/Invalid metric name/)
    const c = metrics.counter('c_total', 'C.', { labelNames: ['a'] })
    expect(() => c.inc(1, { b: 1 })).toThrow(/label/)
    expect(() => c.inc(-1, { a: 1 })).toThrow(/not possible to decrease/)
  })

  it('keeps two peers in one process apart', async () => {
    const one = bare()
    const two = bare()
    one.counter('same_total', 'S.').inc(2)
    two.counter('same_total', 'S.').inc(5)
    expect(await one.text()).toContain('same_total 2\n')
    expect(await two.text()).toContain('same_total 5\n')
  })
})
