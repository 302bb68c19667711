import fc from 'fast-check'
import { describe, expect, it } from 'vitest'
import {
  InvalidLoadViewConfigError,
  LOAD_LIMITS,
  LoadView,
  checkLoadSummary,
  newCoordinate,
  type LoadSummary,
  type SchedulerLoad,
} from '../src/index.js'

const sched = (guid: string, extra: Partial<SchedulerLoad> = {}): SchedulerLoad => ({
  guid,
  owner: 'acme',
  provider: 'mesh',
  capacity: 10,
  pending: 0,
  inflight: 0,
  epoch: 1,
  arrivalRatePerSec: 0,
  forwardedRatePerSec: 0,
  migrating: false,
  ...extra,
})

const summary = (peerId: string, seq: number, extra: Partial<LoadSummary> = {}): LoadSummary => ({
  peerId,
  seq,
  schedulers: [],
  workerCapacityMb: 2048,
  freeMemoryMb: 1024,
  warmFunctions: 3,
  coordinate: newCoordinate(),
  sentAt: 1_700_000_000_000,
  ...extra,
})

describe('LoadView merge', () => {
  it('keeps the newest seq per origin and ignores older or repeated ones', () => {
    const view = new LoadView()
    expect(view.merge(summary('a', 5), 'a', 0)).toEqual({ type: 'accepted', peerId: 'a' })
    expect(view.merge(summary('a', 5), 'a', 1)).toEqual({
      type: 'stale',
      peerId: 'a',
      seq: 5,
      newest: 5,
    })
    expect(view.merge(summary('a', 3), 'a', 2)).toMatchObject({ type: 'stale', newest: 5 })
    expect(view.merge(summary('a', 6, { freeMemoryMb: 7 }), 'a', 3)).toEqual({
      type: 'accepted',
      peerId: 'a',
      previousSeq: 5,
    })
    expect(view.get('a')).toMatchObject({ receivedAt: 3, summary: { seq: 6, freeMemoryMb: 7 } })
    expect(view.size).toBe(1)
  })

  it('refuses a summary about anyone but its authenticated origin', () => {
    const view = new LoadView()
    expect(view.merge(summary('a', 1), 'mallory', 0)).toMatchObject({
      type: 'rejected',
      reason: 'origin-mismatch',
    })
    expect(view.size).toBe(0)
  })

  it('keeps only the fields of a summary: garbage riding along is dropped', () => {
    const view = new LoadView()
    const padded = {
      ...summary('a', 1, { schedulers: [{ ...sched('g1'), secret: 'x' } as SchedulerLoad] }),
      extra: 'y'.repeat(10_000),
    }
    view.merge(padded, 'a', 0)
    const kept = view.get('a')?.summary as unknown as Record<string, unknown>
    expect(kept).not.toHaveProperty('extra')
    expect((kept.schedulers as object[])[0]).not.toHaveProperty('secret')
  })

  it('holds a copy it made itself as it is: one summary in many views is held once, frozen', () => {
    const original = summary('a', 1, { schedulers: [sched('g1')] })
    const first = new LoadView()
    first.merge(original, 'a', 0)
    const kept = first.get('a')?.summary as LoadSummary
    expect(kept).not.toBe(original) // what came in is copied
    expect(Object.isFrozen(kept) && Object.isFrozen(kept.schedulers[0])).toBe(true)
    const second = new LoadView()
    second.merge(kept, 'a', 5)
    expect(second.get('a')?.summary).toBe(kept) // a copy already made is not copied again
    expect(() => {
      ;(kept as { seq: number }).seq = 99
    }).toThrow(TypeError)
  })
})

describe('LoadView expiry', () => {
  it('forgets a peer expiryMs after its last summary, and tells when', () => {
    const view = new LoadView({ expiryMs: 10_000 })
    view.merge(summary('a', 1), 'a', 0)
    view.merge(summary('b', 1), 'b', 4_000)
    expect(view.nextDeadline()).toBe(10_000)
    view.merge(summary('a', 2), 'a', 5_000) // refreshed
    expect(view.nextDeadline()).toBe(14_000)
    expect(view.expire(13_999)).toEqual([])
    expect(view.get('b', 14_000)).toBeUndefined() // already hidden by a read at a later time
    expect(view.entries(14_000).map((e) => e.summary.peerId)).toEqual(['a'])
    expect(view.expire(14_000)).toEqual(['b'])
    expect(view.expire(15_000)).toEqual(['a'])
    expect(view.size).toBe(0)
    expect(view.nextDeadline()).toBeUndefined()
  })

  it('keeps replays of expired origins stale, for the most recent maxOrigins of them', () => {
    const view = new LoadView({ expiryMs: 1_000, maxOrigins: 2 })
    for (const id of ['a', 'b', 'c']) view.merge(summary(id, 5), id, 0)
    expect(view.expire(1_000)).toEqual(['a', 'b', 'c'])
    // b and c are remembered: their old summaries replayed are stale. a was forgotten first.
    expect(view.merge(summary('b', 5), 'b', 1_500)).toMatchObject({ type: 'stale', newest: 5 })
    expect(view.merge(summary('c', 4), 'c', 1_500)).toMatchObject({ type: 'stale', newest: 5 })
    expect(view.merge(summary('a', 5), 'a', 1_500)).toEqual({ type: 'accepted', peerId: 'a' })
    // A newer one from a remembered origin is taken.
    expect(view.merge(summary('b', 6), 'b', 1_600)).toEqual({ type: 'accepted', peerId: 'b' })
  })

  it('never holds a summary as received before one that came earlier (a clock stepping back)', () => {
    const view = new LoadView({ expiryMs: 10_000 })
    view.merge(summary('a', 1), 'a', 5_000)
    view.merge(summary('b', 1), 'b', 3_000) // the caller's clock went back
    expect(view.get('b')?.receivedAt).toBe(5_000)
    expect(view.nextDeadline()).toBe(15_000)
    expect(view.expire(15_000)).toEqual(['a', 'b'])
  })

  it('judges the entries it holds by the expiry set later, as the mesh grows', () => {
    const view = new LoadView({ expiryMs: 10_000 })
    view.merge(summary('a', 1), 'a', 0)
    view.merge(summary('b', 1), 'b', 6_000)
    // The mesh grew: peers publish less often, so what was received stays longer.
    view.expiryMs = 31_000
    expect(view.nextDeadline()).toBe(31_000)
    expect(view.expire(20_000)).toEqual([])
    expect(view.ages(20_000)).toEqual([14_000, 20_000])
    // And it shrank again.
    view.expiryMs = 12_000
    expect(view.expire(20_000)).toEqual(['a', 'b'])
    expect(() => {
      view.expiryMs = 0
    }).toThrow(InvalidLoadViewConfigError)
  })

  it('still treats an old seq as stale after its entry expired (no replay)', () => {
    const view = new LoadView({ expiryMs: 1_000 })
    view.merge(summary('a', 9), 'a', 0)
    view.expire(2_000)
    expect(view.merge(summary('a', 9), 'a', 2_001)).toMatchObject({ type: 'stale' })
    expect(view.merge(summary('a', 10), 'a', 2_002)).toMatchObject({ type: 'accepted' })
  })

  it('removes a peer at once when membership says it died', () => {
    const view = new LoadView()
    view.merge(summary('a', 1, { schedulers: [sched('g1')] }), 'a', 0)
    expect(view.remove('a')).toBe(true)
    expect(view.remove('a')).toBe(false)
    expect(view.responsibles('acme', 'mesh')).toEqual([])
    expect(view.nextDeadline()).toBeUndefined()
  })

  it('refuses an unusable config', () => {
    expect(() => new LoadView({ expiryMs: 0 })).toThrow(InvalidLoadViewConfigError)
    expect(() => new LoadView({ dimensionality: 1.5 })).toThrow(InvalidLoadViewConfigError)
  })
})

describe('who is responsible for what, as gossip tells it', () => {
  const view = new LoadView()
  view.merge(
    summary('a', 1, {
      schedulers: [sched('g1', { epoch: 3 }), sched('g2', { provider: 'lambda' })],
    }),
    'a',
    0,
  )
  view.merge(summary('b', 1, { schedulers: [sched('g3', { capacity: 5 })] }), 'b', 0)
  view.merge(summary('c', 1, { schedulers: [sched('g1', { epoch: 4 })] }), 'c', 0)

  it('lists every claim for an (owner, provider), highest epoch first', () => {
    expect(view.responsibles('acme', 'mesh').map((c) => [c.peerId, c.guid, c.epoch])).toEqual([
      ['c', 'g1', 4],
      ['a', 'g1', 3],
      ['b', 'g3', 1],
    ])
    expect(view.responsibles('acme', 'lambda').map((c) => c.peerId)).toEqual(['a'])
    expect(view.responsibles('other', 'mesh')).toEqual([])
  })

  it('finds schedulers claimed by more than one peer', () => {
    expect(view.duplicates()).toEqual([
      {
        guid: 'g1',
        claims: [
          expect.objectContaining({ peerId: 'c', epoch: 4 }),
          expect.objectContaining({ peerId: 'a', epoch: 3 }),
        ],
      },
    ])
    expect(view.claimsOf('g3')).toEqual([expect.objectContaining({ peerId: 'b', capacity: 5 })])
  })

  it('follows a newer summary that drops a scheduler', () => {
    const v = new LoadView()
    v.merge(summary('a', 1, { schedulers: [sched('g1')] }), 'a', 0)
    v.merge(summary('b', 1, { schedulers: [sched('g1', { epoch: 2 })] }), 'b', 0)
    expect(v.duplicates()).toHaveLength(1)
    v.merge(summary('a', 2), 'a', 1)
    expect(v.duplicates()).toEqual([])
    expect(v.claimsOf('g1').map((c) => c.peerId)).toEqual(['b'])
  })
})

describe('malformed summaries are rejected and change nothing', () => {
  const long = 'x'.repeat(LOAD_LIMITS.maxStringLength + 1)
  const many = Array.from({ length: LOAD_LIMITS.maxSchedulers + 1 }, (_, i) => sched(`g${i}`))
  const cases: [string, unknown][] = [
    ['null', null],
    ['an array', []],
    ['no peerId', { ...summary('a', 1), peerId: undefined }],
    ['an over-long peerId', summary(long, 1)],
    ['a NaN seq', summary('a', NaN)],
    ['a negative seq', summary('a', -1)],
    ['a fractional seq', summary('a', 1.5)],
    ['schedulers not an array', { ...summary('a', 1), schedulers: {} }],
    ['too many schedulers', summary('a', 1, { schedulers: many })],
    ['a scheduler that is not an object', { ...summary('a', 1), schedulers: [7] }],
    ['an empty guid', summary('a', 1, { schedulers: [sched('')] })],
    ['an over-long owner', summary('a', 1, { schedulers: [sched('g', { owner: long })] })],
    ['a negative pending', summary('a', 1, { schedulers: [sched('g', { pending: -1 })] })],
    ['a NaN inflight', summary('a', 1, { schedulers: [sched('g', { inflight: NaN })] })],
    ['a fractional capacity', summary('a', 1, { schedulers: [sched('g', { capacity: 0.5 })] })],
    ['a string epoch', { ...summary('a', 1), schedulers: [{ ...sched('g'), epoch: '1' }] }],
    [
      'a negative arrival rate',
      summary('a', 1, { schedulers: [sched('g', { arrivalRatePerSec: -1 })] }),
    ],
    [
      'an infinite forwarded rate',
      summary('a', 1, { schedulers: [sched('g', { forwardedRatePerSec: Infinity })] }),
    ],
    [
      'no migrating flag',
      { ...summary('a', 1), schedulers: [{ ...sched('g'), migrating: undefined }] },
    ],
    ['a duplicated guid', summary('a', 1, { schedulers: [sched('g'), sched('g')] })],
    ['an infinite free memory', summary('a', 1, { freeMemoryMb: Infinity })],
    ['a negative worker memory', summary('a', 1, { workerCapacityMb: -1 })],
    ['a non-integer warm count', summary('a', 1, { warmFunctions: 1.5 })],
    [
      'a coordinate of the wrong dimension',
      summary('a', 1, { coordinate: newCoordinate({ dimensionality: 2 }) }),
    ],
    ['a NaN coordinate', summary('a', 1, { coordinate: { ...newCoordinate(), error: NaN } })],
    ['no sentAt', { ...summary('a', 1), sentAt: undefined }],
  ]

  it.each(cases)('%s', (_what, bad) => {
    const view = new LoadView()
    view.merge(summary('a', 0, { schedulers: [sched('g0')] }), 'a', 0)
    const before = view.entries()
    const from = (bad as { peerId?: unknown } | null)?.peerId
    const result = view.merge(bad, typeof from === 'string' ? from : 'a', 1)
    expect(result).toMatchObject({ type: 'rejected', reason: 'invalid-summary' })
    expect(checkLoadSummary(bad)).toEqual(expect.any(String))
    expect(view.entries()).toEqual(before)
    expect(view.recentEvents().at(-1)).toMatchObject({
      result: 'rejected',
      reason: 'invalid-summary',
    })
  })

  it('a non-finite time', () => {
    expect(new LoadView().merge(summary('a', 1), 'a', NaN)).toMatchObject({
      reason: 'invalid-time',
    })
  })

  it('garbage of any shape never throws and never changes the view', () => {
    const view = new LoadView()
    view.merge(summary('a', 1, { schedulers: [sched('g')] }), 'a', 0)
    const before = view.entries()
    fc.assert(
      fc.property(
        fc.oneof(
          fc.anything(),
          fc.record({
            peerId: fc.constant('a'),
            seq: fc.oneof(fc.nat(), fc.double(), fc.anything()),
            schedulers: fc.oneof(fc.array(fc.anything(), { maxLength: 3 }), fc.anything()),
            workerCapacityMb: fc.oneof(fc.double(), fc.anything()),
            freeMemoryMb: fc.oneof(fc.double(), fc.anything()),
            warmFunctions: fc.anything(),
            coordinate: fc.oneof(fc.constant(newCoordinate()), fc.anything()),
            sentAt: fc.anything(),
          }),
        ),
        (garbage) => {
          const result = view.merge(garbage, 'a', 5)
          if (result.type === 'accepted') return // a well-formed newer summary is fine
          expect(view.entries()).toEqual(before)
        },
      ),
      { numRuns: 1_000, seed: 3 },
    )
  })
})
