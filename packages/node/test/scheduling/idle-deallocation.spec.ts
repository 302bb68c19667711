import { describe, expect, it } from 'vitest'
import {
  idleExpired,
  isIdle,
  sweepEveryMs,
  type IdleCandidate,
} from '../../src/scheduling/idle-deallocation.js'

const candidate = (
  name: string,
  lastActive: number,
  counts: { inflight?: number; queued?: number } = {},
  draining = false,
): IdleCandidate & { name: string } => ({
  name,
  lastActive,
  draining,
  scheduler: { inflight: counts.inflight ?? 0, queued: counts.queued ?? 0 },
})

describe('idle deallocation', () => {
  it('is idle with nothing queued and nothing running', () => {
    expect(isIdle(candidate('a', 0))).toBe(true)
    expect(isIdle(candidate('a', 0, { inflight: 1 }))).toBe(false)
    expect(isIdle(candidate('a', 0, { queued: 1 }))).toBe(false)
  })

  it('frees the idle ones whose last work is idleMs old or older, and no draining one', () => {
    const expired = idleExpired(
      [
        candidate('old', 0),
        candidate('exactly', 500),
        candidate('recent', 501),
        candidate('busy', 0, { inflight: 1 }),
        candidate('queued', 0, { queued: 3 }),
        candidate('draining', 0, {}, true),
      ],
      1000,
      500,
    )
    expect(expired.map((c) => c.name)).toEqual(['old', 'exactly'])
  })

  it('sweeps at a quarter of the idle time, from 50 ms to 1 s', () => {
    expect(sweepEveryMs(10)).toBe(50)
    expect(sweepEveryMs(2000)).toBe(500)
    expect(sweepEveryMs(600_000)).toBe(1000)
  })
})
