/**
 * What a peer's logic takes from the world, as components: the time, timers, fresh ids and
 * randomness. Pure cores take `now` and an `Rng` as arguments; the shells around them take
 * these, so the deterministic simulator can hand every shell virtual ones and a real peer
 * hands them `systemEnvironment()` (in `../environment.ts`).
 */
import type { Rng } from '@chorus/scheduler-core'

export type { Rng } from '@chorus/scheduler-core'

/** Milliseconds on a monotonic clock (not wall time: it never steps back). */
export interface Clock {
  now(): number
}

/** A timer that can be cancelled; what `Timers.after` returns. */
export interface TimerHandle {
  cancel(): void
}

/** One-shot timers on the same clock. */
export interface Timers {
  /** Calls `fire` once, `ms` from now (unless cancelled first). */
  after(ms: number, fire: () => void): TimerHandle
  /** Settles `ms` from now. */
  sleep(ms: number): Promise<void>
}

/** Fresh identifiers, unique across the mesh (scheduler GUIDs, boot ids). */
export interface IdSource {
  next(): string
}

/** Everything a shell takes from the world. */
export interface Environment {
  readonly clock: Clock
  readonly timers: Timers
  readonly ids: IdSource
  readonly rng: Rng
}
