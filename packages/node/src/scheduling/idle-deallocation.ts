/**
 * Idle deallocation: a scheduler with nothing queued or running for `idleMs` is freed (its
 * directory entry released), and the next invocation for its key creates a new one. The
 * host sweeps for them at SWEEP_EVERY of the idle time, within bounds.
 */

/** What idleness is judged on: a scheduler's counts, and when it last had work. */
export interface IdleCandidate {
  readonly scheduler: { readonly inflight: number; readonly queued: number }
  readonly lastActive: number
  /** A draining scheduler is removed when its work is done, not for idleness. */
  readonly draining: boolean
}

/** How often the host sweeps: a quarter of the idle time, from 50 ms to 1 s. */
export function sweepEveryMs(idleMs: number): number {
  return Math.max(50, Math.min(1000, idleMs / 4))
}

/** Whether the scheduler has nothing queued or running. */
export function isIdle(candidate: Pick<IdleCandidate, 'scheduler'>): boolean {
  return candidate.scheduler.inflight === 0 && candidate.scheduler.queued === 0
}

/** The candidates that have been idle for `idleMs` at `now`, to free. */
export function idleExpired<C extends IdleCandidate>(
  candidates: Iterable<C>,
  now: number,
  idleMs: number,
): C[] {
  const expired: C[] = []
  for (const c of candidates) {
    if (!c.draining && isIdle(c) && now - c.lastActive >= idleMs) expired.push(c)
  }
  return expired
}
