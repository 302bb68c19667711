import fc from 'fast-check'
import { describe, expect, it } from 'vitest'
import {
  HLC_ZERO,
  MAX_HLC_COUNTER,
  compareHlc,
  hlcProblem,
  receiveHlc,
  tickHlc,
  type Hlc,
} from '../../src/definitions/hlc.js'

describe('hybrid logical clock', () => {
  it('ticks forward with the wall clock, and by the counter when the wall clock stalls or goes back', () => {
    let clock = tickHlc(HLC_ZERO, 100)
    expect(clock).toEqual({ wall: 100, counter: 0 })
    clock = tickHlc(clock, 100)
    expect(clock).toEqual({ wall: 100, counter: 1 })
    clock = tickHlc(clock, 50)
    expect(clock).toEqual({ wall: 100, counter: 2 })
    expect(tickHlc(clock, 101.7)).toEqual({ wall: 101, counter: 0 })
  })

  it('moves to the next millisecond when the counter would overflow', () => {
    expect(tickHlc({ wall: 5, counter: MAX_HLC_COUNTER }, 5)).toEqual({ wall: 6, counter: 0 })
    expect(receiveHlc({ wall: 5, counter: 0 }, { wall: 5, counter: MAX_HLC_COUNTER }, 0)).toEqual({
      wall: 6,
      counter: 0,
    })
  })

  it('after receiving a stamp, is later than it and than itself', () => {
    const hlc = fc.record({ wall: fc.nat({ max: 1000 }), counter: fc.nat({ max: 5 }) })
    fc.assert(
      fc.property(hlc, hlc, fc.nat({ max: 1000 }), (local: Hlc, remote: Hlc, now) => {
        const next = receiveHlc(local, remote, now)
        expect(compareHlc(next, local)).toBeGreaterThan(0)
        expect(compareHlc(next, remote)).toBeGreaterThan(0)
        expect(next.wall).toBeGreaterThanOrEqual(now)
        expect(compareHlc(tickHlc(next, now), next)).toBeGreaterThan(0)
      }),
    )
  })

  it.each([
    [null, 'hlc must be an object'],
    [{ wall: -1, counter: 0 }, 'hlc.wall'],
    [{ wall: 1.5, counter: 0 }, 'hlc.wall'],
    [{ wall: 1, counter: -1 }, 'hlc.counter'],
    [{ wall: 1, counter: MAX_HLC_COUNTER + 1 }, 'exceeds'],
  ])('refuses %j', (value, message) => {
    expect(hlcProblem(value)).toContain(message)
  })
})
