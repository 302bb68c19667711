/**
 * The real environment every shell of a running peer uses: the monotonic clock of
 * `performance.now()`, Node's timers (unref'd: a pending one never keeps a stopping peer
 * alive), random UUIDs, and a seeded rng whose seed is drawn once from `crypto`, so a
 * peer's random choices can still be replayed from that seed (`core/environment.ts` says what
 * each part is; the simulator gives virtual ones).
 */
import { randomInt, randomUUID } from 'node:crypto'
import { performance } from 'node:perf_hooks'
import { seededRng } from '@chorus/scheduler-core'
import type { Environment, Timers } from './core/environment.js'

export const systemTimers: Timers = {
  after(ms, fire) {
    const timer = setTimeout(fire, Math.max(0, ms))
    timer.unref()
    return { cancel: () => clearTimeout(timer) }
  },
  sleep: (ms) => new Promise((resolve) => setTimeout(resolve, Math.max(0, ms))),
}

/** A peer's environment; `seed` fixes its rng (drawn from `crypto` when omitted). */
export function systemEnvironment(seed: number = randomInt(0, 2 ** 32)): Environment {
  return {
    clock: { now: () => performance.now() },
    timers: systemTimers,
    ids: { next: () => randomUUID() },
    rng: seededRng(seed),
  }
}
