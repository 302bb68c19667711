/**
 * Shared helpers for tests, simulations and benchmarks of the scheduler core.
 */
import type { SchedulerEffect, SchedulerEffectType } from './effects.js'

export { seededRng } from './rng.js'
export type { SeededRng } from './rng.js'

/** Effects of one type, narrowed. */
export function effectsOf<T extends SchedulerEffectType>(
  effects: readonly SchedulerEffect[],
  type: T,
): Extract<SchedulerEffect, { type: T }>[] {
  return effects.filter((e): e is Extract<SchedulerEffect, { type: T }> => e.type === type)
}
