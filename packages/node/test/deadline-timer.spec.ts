import { afterEach, beforeEach, describe, expect, it, vi } from 'vitest'
import { DeadlineTimer, MAX_TIMER_MS } from '../src/deadline-timer.js'

describe('DeadlineTimer', () => {
  beforeEach(() => {
    vi.useFakeTimers()
  })
  afterEach(() => {
    vi.useRealTimers()
  })

  it('fires once at the deadline, measured from now on the caller clock', () => {
    const fired: number[] = []
    const timer = new DeadlineTimer(() => fired.push(Date.now()))
    const start = Date.now()
    timer.arm(1_000_100, 1_000_000)
    expect(timer.at).toBe(1_000_100)
    vi.advanceTimersByTime(99)
    expect(fired).toEqual([])
    vi.advanceTimersByTime(1)
    expect(fired).toEqual([start + 100])
    expect(timer.at).toBeUndefined()
    vi.advanceTimersByTime(10_000)
    expect(fired).toHaveLength(1)
  })

  it('fires at once for a deadline already past', () => {
    let fired = 0
    const timer = new DeadlineTimer(() => fired++)
    timer.arm(5, 10)
    vi.advanceTimersByTime(0)
    expect(fired).toBe(1)
  })

  it('keeps an earlier timer, and moves to an earlier deadline', () => {
    let fired = 0
    const timer = new DeadlineTimer(() => fired++)
    timer.arm(100, 0)
    timer.arm(500, 0)
    expect(timer.at).toBe(100)
    timer.arm(50, 0)
    expect(timer.at).toBe(50)
    vi.advanceTimersByTime(50)
    expect(fired).toBe(1)
    vi.advanceTimersByTime(1000)
    expect(fired).toBe(1)
  })

  it('can be armed again from its own callback', () => {
    const fired: number[] = []
    let now = 0
    const timer = new DeadlineTimer(() => {
      fired.push(now)
      if (fired.length < 3) timer.arm(now + 10, now)
    })
    timer.arm(10, 0)
    for (let i = 0; i < 5; i++) {
      now += 10
      vi.advanceTimersByTime(10)
    }
    expect(fired).toEqual([10, 20, 30])
  })

  it('disarms on an undefined deadline and on clear', () => {
    let fired = 0
    const timer = new DeadlineTimer(() => fired++)
    timer.arm(100, 0)
    timer.arm(undefined, 0)
    expect(timer.at).toBeUndefined()
    timer.arm(100, 0)
    timer.clear()
    vi.advanceTimersByTime(1000)
    expect(fired).toBe(0)
  })

  it("waits setTimeout's largest delay for a deadline beyond it, instead of firing at once", () => {
    let fired = 0
    const timer = new DeadlineTimer(() => fired++)
    timer.arm(MAX_TIMER_MS * 3, 0)
    vi.advanceTimersByTime(MAX_TIMER_MS - 1)
    expect(fired).toBe(0)
    vi.advanceTimersByTime(1)
    expect(fired).toBe(1)
  })

  it('does not keep the process alive', () => {
    vi.useRealTimers()
    const unref = vi.spyOn(globalThis, 'setTimeout')
    const timer = new DeadlineTimer(() => undefined)
    timer.arm(60_000, 0)
    const handle = unref.mock.results[0]?.value as NodeJS.Timeout
    expect(handle.hasRef()).toBe(false)
    timer.clear()
    unref.mockRestore()
  })
})
