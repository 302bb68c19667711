/**
 * A virtual clock with its timers: time moves only when `advanceTo` or `runFor` moves it, and
 * timers fire in deadline order (ties in the order they were set). What unit tests of a shell
 * and the simulator hand a component instead of the real clock.
 */
import { IndexedHeap } from '@chorus/scheduler-core'
import type { Clock, TimerHandle, Timers } from './environment.js'

interface Pending {
  readonly at: number
  readonly order: number
  readonly fire: () => void
}

export class VirtualTime implements Clock, Timers {
  #now: number
  #order = 0
  readonly #pending = new IndexedHeap<Pending>((a, b) =>
    a.at === b.at ? a.order < b.order : a.at < b.at,
  )

  constructor(start = 0) {
    this.#now = start
  }

  now(): number {
    return this.#now
  }

  after(ms: number, fire: () => void): TimerHandle {
    const timer: Pending = { at: this.#now + Math.max(0, ms), order: this.#order++, fire }
    this.#pending.push(timer)
    return {
      cancel: () => {
        if (this.#pending.has(timer)) this.#pending.remove(timer)
      },
    }
  }

  sleep(ms: number): Promise<void> {
    return new Promise((resolve) => this.after(ms, resolve))
  }

  /** When the next timer fires, if any. */
  nextAt(): number | undefined {
    return this.#pending.peek()?.at
  }

  /** Timers set and not yet fired or cancelled. */
  get pendingCount(): number {
    return this.#pending.size
  }

  /** Fires every timer due by `at` (those they set too), then stands at `at`. */
  advanceTo(at: number): void {
    for (;;) {
      const next = this.#pending.peek()
      if (next === undefined || next.at > at) break
      this.#pending.remove(next)
      this.#now = Math.max(this.#now, next.at)
      next.fire()
    }
    this.#now = Math.max(this.#now, at)
  }

  runFor(ms: number): void {
    this.advanceTo(this.#now + ms)
  }
}
