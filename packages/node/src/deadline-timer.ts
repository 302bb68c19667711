/**
 * One timer for a state machine's next deadline: the shell of a pure core calls
 * `arm(core.nextDeadline(), now)` after every event it fed in, and sends `tick` when it
 * fires. Unref'd: a pending deadline never keeps the process alive.
 *
 * ```ts
 * const timer = new DeadlineTimer(() => handle({ type: 'tick' }))
 * timer.arm(core.nextDeadline(), performance.now())
 * ```
 *
 * A timer already armed for an earlier time is kept: firing early is harmless (the core
 * finds nothing due, and the shell arms again from its next deadline), and it spares a
 * clear-and-set on every event. Delays beyond setTimeout's largest fire at that largest
 * delay instead of at once, for the same reason.
 */

/** setTimeout's largest delay; a larger one fires at once. */
export const MAX_TIMER_MS = 2 ** 31 - 1

export class DeadlineTimer {
  readonly #onDeadline: () => void
  #timer: ReturnType<typeof setTimeout> | undefined
  #at = Number.POSITIVE_INFINITY

  constructor(onDeadline: () => void) {
    this.#onDeadline = onDeadline
  }

  /** When the timer fires next, on the caller's clock; undefined when it is not armed. */
  get at(): number | undefined {
    return this.#timer === undefined ? undefined : this.#at
  }

  /** Fires at `at` (on the clock `now` reads), or never when `at` is undefined. */
  arm(at: number | undefined, now: number): void {
    if (at === undefined) {
      this.clear()
      return
    }
    if (this.#timer !== undefined && this.#at <= at) return
    clearTimeout(this.#timer)
    this.#at = at
    this.#timer = setTimeout(
      () => {
        this.#timer = undefined
        this.#at = Number.POSITIVE_INFINITY
        this.#onDeadline()
      },
      Math.min(Math.max(0, at - now), MAX_TIMER_MS),
    )
    this.#timer.unref()
  }

  clear(): void {
    clearTimeout(this.#timer)
    this.#timer = undefined
    this.#at = Number.POSITIVE_INFINITY
  }
}
