import { describe, expect, it } from 'vitest'
import { PauseFence } from '../../src/mesh/pause-fence.js'

/** A clock the test moves, and timers it fires by hand (so a pause is a gap between beats). */
function fixture(confirm: () => Promise<void>) {
  let t = 0
  let beat: (() => void) | undefined
  const fence = new PauseFence({
    clock: { now: () => t },
    timers: {
      after: (_ms, fire) => {
        beat = fire
        return { cancel: () => (beat = undefined) }
      },
    },
    confirm,
    limitMs: 500,
  })
  return {
    fence,
    /** Time passes by `ms`; then the heartbeat fires (as it would, late, after a pause). */
    pass(ms: number, thenBeat = true) {
      t += ms
      if (thenBeat) beat?.()
    },
    get armed() {
      return beat !== undefined
    },
  }
}

describe('PauseFence', () => {
  it('lets requests through while the heartbeat keeps time, and holds them after a pause until confirmed', async () => {
    let confirms = 0
    let finish: () => void = () => undefined
    const f = fixture(() => {
      confirms++
      return new Promise<void>((resolve) => (finish = resolve))
    })
    f.fence.start()
    for (let i = 0; i < 20; i++) f.pass(100)
    expect(f.fence.ready()).toBeUndefined()
    expect(confirms).toBe(0)
    // SIGSTOP for 3 s: the first request after it, before any heartbeat, notices.
    f.pass(3_000, false)
    const held = f.fence.ready()
    expect(held).toBeInstanceOf(Promise)
    expect(confirms).toBe(1)
    // Another request and the late heartbeat wait on the same confirmation.
    f.pass(1)
    expect(f.fence.ready()).toBe(held)
    expect(confirms).toBe(1)
    const outcome = await Promise.race([held, Promise.resolve('still held')])
    expect(outcome).toBe('still held')
    finish()
    await expect(held).resolves.toBeUndefined()
    expect(f.fence.ready()).toBeUndefined()
  })

  it('never rejects when a confirmation throws, and stops beating when stopped', async () => {
    const f = fixture(() => Promise.reject(new Error('boom')))
    f.fence.start()
    f.pass(2_000, false)
    await expect(f.fence.ready()).resolves.toBeUndefined()
    expect(f.fence.ready()).toBeUndefined()
    f.fence.stop()
    expect(f.armed).toBe(false)
  })
})
