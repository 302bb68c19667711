import fc from 'fast-check'
import { describe, expect, it } from 'vitest'
import {
  decidePublish,
  publishIntervals,
  significantChange,
  suggestedExpiryMs,
  type PublishedLoad,
  type SchedulerLoad,
} from '../src/index.js'

const sched = (guid: string, pending = 10, inflight = 10, extra: Partial<SchedulerLoad> = {}) => ({
  guid,
  owner: 'acme',
  provider: 'mesh',
  capacity: 20,
  pending,
  inflight,
  epoch: 1,
  arrivalRatePerSec: 0,
  forwardedRatePerSec: 0,
  migrating: false,
  ...extra,
})

const load = (schedulers: SchedulerLoad[], freeMemoryMb = 1000): PublishedLoad => ({
  schedulers,
  workerCapacityMb: 2000,
  freeMemoryMb,
})

describe('publishIntervals: the mesh-wide budget', () => {
  it('stays within [min, max] for a small mesh and grows with it beyond', () => {
    expect(publishIntervals(1)).toEqual({ minMs: 250, maxMs: 3_000 })
    expect(publishIntervals(20)).toEqual({ minMs: 950, maxMs: 3_000 }) // 19 others / 20 per s
    expect(publishIntervals(61)).toEqual({ minMs: 3_000, maxMs: 3_000 })
    expect(publishIntervals(101)).toEqual({ minMs: 5_000, maxMs: 5_000 }) // the budget wins
  })

  it('suggests a view expiry that survives two lost summaries', () => {
    expect(suggestedExpiryMs(20)).toBe(10_000)
    expect(suggestedExpiryMs(101)).toBe(16_000)
  })

  it('refuses an unusable config', () => {
    expect(() => publishIntervals(5, { meshRatePerSec: 0 })).toThrow(RangeError)
    expect(() => publishIntervals(5, { minIntervalMs: NaN })).toThrow(RangeError)
  })
})

describe('significantChange', () => {
  const base = load([sched('g1'), sched('g2')])
  it.each([
    ['a scheduler appeared', load([sched('g1'), sched('g2'), sched('g3')]), /g3 appeared/],
    ['a scheduler went away', load([sched('g1')]), /g2 went away/],
    ['an epoch changed', load([sched('g1', 10, 10, { epoch: 2 }), sched('g2')]), /epoch/],
    ['a move began', load([sched('g1', 10, 10, { migrating: true }), sched('g2')]), /migrating/],
    ['a capacity changed', load([sched('g1', 10, 10, { capacity: 5 }), sched('g2')]), /capacity/],
    ['pending +30%', load([sched('g1', 13), sched('g2')]), /pending 10 → 13/],
    ['pending −25%', load([sched('g1', 7.5), sched('g2')]), /pending/],
    ['in-flight +50%', load([sched('g1', 10, 15), sched('g2')]), /in-flight/],
    ['free memory −25% of the worker', load([sched('g1'), sched('g2')], 500), /free memory/],
  ])('%s', (_what, current, pattern) => {
    expect(significantChange(base, current)).toMatch(pattern)
  })

  it.each([
    ['nothing', base],
    ['pending +20%', load([sched('g1', 12), sched('g2')])],
    ['in-flight −10%', load([sched('g1', 10, 9), sched('g2')])],
    ['free memory −10%', load([sched('g1'), sched('g2')], 800)],
    ['the same schedulers in another order', load([sched('g2'), sched('g1')])],
  ])('not %s', (_what, current) => {
    expect(significantChange(base, current)).toBeUndefined()
  })

  it('treats 0 → 1 as significant (idle to busy)', () => {
    expect(significantChange(load([sched('g', 0, 0)]), load([sched('g', 1, 0)]))).toBeDefined()
  })
})

describe('decidePublish', () => {
  const quiet = load([sched('g1')])
  const busy = load([sched('g1', 100)])

  it('publishes first, then at least every maxIntervalMs', () => {
    expect(decidePublish({ now: 0, aliveMembers: 20, current: quiet })).toEqual({
      publish: true,
      reason: 'first',
    })
    const last = { at: 0, load: quiet }
    expect(decidePublish({ now: 2_999, aliveMembers: 20, last, current: quiet })).toEqual({
      publish: false,
      reason: 'unchanged',
      nextCheckAt: 3_000,
    })
    expect(decidePublish({ now: 3_000, aliveMembers: 20, last, current: quiet })).toEqual({
      publish: true,
      reason: 'max-interval',
    })
  })

  it('publishes a significant change early, but not before the budget allows', () => {
    const last = { at: 0, load: quiet }
    expect(decidePublish({ now: 100, aliveMembers: 20, last, current: busy })).toMatchObject({
      publish: false,
      reason: 'budget',
      nextCheckAt: 950,
    })
    const early = decidePublish({ now: 950, aliveMembers: 20, last, current: busy })
    expect(early).toMatchObject({ publish: true, reason: 'significant-change' })
    expect(early.change).toMatch(/pending/)
    // Alone, only minIntervalMs holds it back.
    expect(decidePublish({ now: 250, aliveMembers: 1, last, current: busy })).toMatchObject({
      publish: true,
    })
  })

  it('keeps every peer under meshRatePerSec received, however the load churns', () => {
    fc.assert(
      fc.property(
        fc.integer({ min: 2, max: 300 }),
        fc.array(fc.nat(50), { minLength: 50, maxLength: 200 }),
        (n, pendings) => {
          // A peer asked every 50 ms, its load changing wildly each time.
          let last: { at: number; load: PublishedLoad } | undefined
          let published = 0
          pendings.forEach((pending, i) => {
            const now = i * 50
            const current = load([sched('g', pending, pending)])
            if (decidePublish({ now, aliveMembers: n, last, current }).publish) {
              published++
              last = { at: now, load: current }
            }
          })
          const seconds = (pendings.length * 50) / 1000
          // What one peer publishes, times the n − 1 others doing the same, per receiver.
          const receivedPerSec = ((published - 1) * (n - 1)) / seconds
          expect(receivedPerSec).toBeLessThanOrEqual(20 + 1e-9)
        },
      ),
      { numRuns: 300, seed: 11 },
    )
  })
})
