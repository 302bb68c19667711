import { describe, expect, it } from 'vitest'
import { PauseDetector } from '../../src/core/pause-detector.js'

describe('PauseDetector', () => {
  it('calls a gap longer than the limit a pause, once, whichever call sees it first', () => {
    const detector = new PauseDetector(500)
    expect(detector.observe(1_000)).toBeUndefined() // the first call has nothing to compare with
    expect(detector.observe(1_100)).toBeUndefined()
    expect(detector.observe(1_600)).toBeUndefined() // exactly the limit is not a pause
    expect(detector.observe(2_101)).toBe(501) // the pause, as long as it was
    expect(detector.observe(2_102)).toBeUndefined() // measured from the call that saw it
  })

  it('is not fooled by a clock that steps back', () => {
    const detector = new PauseDetector(500)
    detector.observe(5_000)
    expect(detector.observe(4_000)).toBeUndefined()
    expect(detector.observe(5_400)).toBeUndefined() // measured from 5,000, the latest seen
    expect(detector.observe(6_000)).toBe(600)
  })

  it('refuses a limit that is not positive', () => {
    expect(() => new PauseDetector(0)).toThrow(/positive/)
    expect(() => new PauseDetector(Number.NaN)).toThrow(/positive/)
  })
})
