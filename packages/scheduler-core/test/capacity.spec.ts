import { describe, expect, it } from 'vitest'
import { complete, dispatchedIds, effectsOf, makeScheduler, submit } from './helpers.js'

describe('the capacity ledger', () => {
  it('never has more in flight than the capacity', () => {
    const s = makeScheduler({ capacity: 3, workers: { w1: 4096 } })
    const dispatched: string[] = []
    for (let i = 0; i < 10; i++) dispatched.push(...dispatchedIds(submit(s, i, `i${i}`)))
    expect(dispatched).toEqual(['i0', 'i1', 'i2'])
    expect(s.inflight).toBe(3)
    expect(dispatchedIds(complete(s, 20, 'i1'))).toEqual(['i3'])
    expect(s.inflight).toBe(3)
  })

  it('grows at runtime and dispatches what waits', () => {
    const s = makeScheduler({ capacity: 1, workers: { w1: 4096 } })
    for (let i = 0; i < 4; i++) submit(s, i, `i${i}`)
    expect(dispatchedIds(s.handle({ type: 'capacity-changed', capacity: 3 }, 10))).toEqual([
      'i1',
      'i2',
    ])
    expect(s.capacity).toBe(3)
  })

  it('drains rather than cancels when shrunk below in-flight', () => {
    const s = makeScheduler({ capacity: 3, workers: { w1: 4096 } })
    for (let i = 0; i < 5; i++) submit(s, i, `i${i}`)
    const shrink = s.handle({ type: 'capacity-changed', capacity: 1 }, 10)
    expect(shrink).toEqual([])
    expect(s.inflight).toBe(3)
    expect(dispatchedIds(complete(s, 11, 'i0'))).toEqual([])
    expect(dispatchedIds(complete(s, 12, 'i1'))).toEqual([])
    expect(dispatchedIds(complete(s, 13, 'i2'))).toEqual(['i3'])
    expect(s.inflight).toBe(1)
  })

  it('caps a function within the shard when its spec says so', () => {
    const s = makeScheduler({
      capacity: 10,
      workers: { w1: 4096 },
      functions: [
        { name: 'capped', memoryMb: 64, maxConcurrent: 2 },
        { name: 'free', memoryMb: 64 },
      ],
    })
    const order = [
      ...dispatchedIds(submit(s, 0, 'c1', { fn: 'capped' })),
      ...dispatchedIds(submit(s, 1, 'c2', { fn: 'capped' })),
      ...dispatchedIds(submit(s, 2, 'c3', { fn: 'capped' })),
      ...dispatchedIds(submit(s, 3, 'f1', { fn: 'free' })),
    ]
    // c3 waits for the cap, and does not hold up the other function behind it.
    expect(order).toEqual(['c1', 'c2', 'f1'])
    expect(dispatchedIds(complete(s, 4, 'c1'))).toEqual(['c3'])
  })

  it('rejects negative, fractional and NaN capacities and keeps the old one', () => {
    const s = makeScheduler({ capacity: 2 })
    const before = s.snapshot()
    for (const capacity of [-1, 1.5, Number.NaN, Number.POSITIVE_INFINITY]) {
      const effects = s.handle({ type: 'capacity-changed', capacity }, 1)
      expect(effectsOf(effects, 'rejected')[0]?.reason).toBe('invalid-capacity')
    }
    expect(s.snapshot()).toEqual(before)
  })
})
