/**
 * Notices that this peer was not running — SIGSTOP, a frozen VM, an event loop blocked — for
 * longer than the mesh waits before it may declare a silent peer dead and let another take its
 * schedulers. Such a peer must not serve what reached it while it was gone before it has asked
 * the directory whether its schedulers are still its own: the shell fences them and
 * re-registers first (the simulator's `stall` scenario found an invocation run twice without
 * this: once by the paused peer after it resumed, once by the peer that took over).
 *
 * The shell calls `observe` on a heartbeat (a timer every `limitMs / 4` or more often) and
 * before it serves a request: a gap of more than `limitMs` since the previous call is a pause,
 * whichever of the two comes first after it. Pure: `now` comes in.
 */

/**
 * The default limit: below the fastest a silent peer can be declared dead (a probe timeout of
 * 250 ms plus a confirmed suspicion of 1,000 ms in the default membership config), above what
 * a busy event loop lags.
 */
export const PAUSE_LIMIT_MS = 750

export class PauseDetector {
  readonly limitMs: number
  #last: number | undefined

  constructor(limitMs = PAUSE_LIMIT_MS) {
    if (!(limitMs > 0)) throw new RangeError(`the pause limit must be positive, not ${limitMs}`)
    this.limitMs = limitMs
  }

  /**
   * The pause's length (ms) when more than `limitMs` passed since the previous call; undefined
   * otherwise (and on the first call).
   */
  observe(now: number): number | undefined {
    const last = this.#last
    this.#last = last === undefined ? now : Math.max(last, now)
    return last !== undefined && now - last > this.limitMs ? now - last : undefined
  }
}
