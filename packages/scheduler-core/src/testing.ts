/**
 * Shared helpers for tests, simulations and benchmarks of the scheduler core.
 */
import type { SchedulerEffect, SchedulerEffectType } from './effects.js'
import type { SchedulerEvent } from './events.js'
import type { OwnerScheduler } from './owner-scheduler.js'

export { seededRng } from './rng.js'
export type { SeededRng } from './rng.js'

/** Effects of one type, narrowed. */
export function effectsOf<T extends SchedulerEffectType>(
  effects: readonly SchedulerEffect[],
  type: T,
): Extract<SchedulerEffect, { type: T }>[] {
  return effects.filter((e): e is Extract<SchedulerEffect, { type: T }> => e.type === type)
}

/**
 * Drives a scheduler on a virtual clock: `at(t, event)` handles an event at time t,
 * first firing every deadline due before t, so the effects come out in time order.
 */
export class VirtualClockDriver {
  now = 0
  readonly log: { at: number; effects: SchedulerEffect[] }[] = []

  constructor(readonly scheduler: OwnerScheduler) {}

  at(time: number, event: SchedulerEvent): SchedulerEffect[] {
    const before = this.advanceTo(time)
    const effects = this.scheduler.handle(event, this.now)
    this.log.push({ at: this.now, effects })
    return [...before, ...effects]
  }

  /** Fires each deadline up to `time` at its own instant. */
  advanceTo(time: number): SchedulerEffect[] {
    const out: SchedulerEffect[] = []
    for (;;) {
      const next = this.scheduler.nextDeadline()
      if (next === undefined || next > time) break
      this.now = Math.max(this.now, next)
      const effects = this.scheduler.handle({ type: 'tick' }, this.now)
      this.log.push({ at: this.now, effects })
      out.push(...effects)
    }
    this.now = Math.max(this.now, time)
    return out
  }
}
