import { describe, expect, it } from 'vitest'
import { ARRIVAL_RATE_WINDOW_MS, OwnerScheduler } from '../src/index.js'
import { seededRng } from '../src/testing.js'
import { makeScheduler, submit } from './helpers.js'

describe('summary', () => {
  it('reports pending by priority, in-flight, capacity and the oldest wait', () => {
    const s = makeScheduler({ capacity: 1, workers: { w1: 1024, w2: 1024 } })
    submit(s, 100, 'run', { priority: 0 })
    submit(s, 200, 'h', { priority: 0 })
    submit(s, 300, 'l1', { priority: 1 })
    submit(s, 400, 'l2', { priority: 1 })
    expect(s.summary(1000)).toMatchObject({
      owner: 'acme',
      provider: 'mesh',
      capacity: 1,
      inflight: 1,
      pending: { high: 1, low: 2 },
      oldestWaitMs: 800,
      warmHosts: 1,
      workers: { total: 2, eligible: 2 },
    })
  })

  it('has a zero wait and rate when idle', () => {
    const s = makeScheduler()
    expect(s.summary(5000)).toMatchObject({ oldestWaitMs: 0, arrivalRatePerSec: 0 })
  })

  it('tracks the recent arrival rate and lets it decay', () => {
    const s = makeScheduler({ capacity: 0 })
    // 100 per second for 30 s: the weighted rate approaches 100/s.
    for (let i = 0; i < 3000; i++) submit(s, i * 10, `i${i}`)
    const busy = s.summary(30_000).arrivalRatePerSec
    expect(busy).toBeGreaterThan(90)
    expect(busy).toBeLessThan(101)
    // After a long quiet spell it falls towards zero.
    const quiet = s.summary(30_000 + 5 * ARRIVAL_RATE_WINDOW_MS).arrivalRatePerSec
    expect(quiet).toBeLessThan(busy / 100)
  })

  it('counts the arrivals forwarded by other peers apart, and carries them through a snapshot', () => {
    const s = makeScheduler({ capacity: 0 })
    // 100 per second for 30 s, every fourth one forwarded from another peer.
    for (let i = 0; i < 3000; i++) submit(s, i * 10, `i${i}`, { forwarded: i % 4 === 0 })
    const { arrivalRatePerSec, forwardedRatePerSec } = s.summary(30_000)
    expect(forwardedRatePerSec / arrivalRatePerSec).toBeCloseTo(0.25, 2)
    const restored = OwnerScheduler.restore(s.snapshot(), { rng: seededRng(1) })
    expect(restored.summary(31_000)).toEqual(s.summary(31_000))
  })
})
