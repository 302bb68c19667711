/**
 * Lifeguard's suspicion timeout (LHA-Suspicion): a suspicion starts with a long timeout that
 * shrinks, logarithmically, as independent members confirm it.
 */

/**
 * The timeout of a suspicion after `confirmations` independent confirmations out of the `k`
 * expected: `max(min, max − (max − min) · log(c + 1) / log(k + 1))`, whole milliseconds.
 * With k = 0 (too few members to expect any) it is `min` at once; from c = k on it is `min`.
 */
export function suspicionTimeout(
  confirmations: number,
  expected: number,
  minMs: number,
  maxMs: number,
): number {
  if (expected < 1 || confirmations >= expected) return minMs
  const fraction = Math.log(confirmations + 1) / Math.log(expected + 1)
  return Math.max(minMs, Math.floor(maxMs - (maxMs - minMs) * fraction))
}

/**
 * How many independent confirmations to expect for a suspicion in a mesh of `members`
 * (counting ourselves and the suspect): the configured number, but never more than the
 * members other than the suspect and its accuser.
 */
export function expectedConfirmations(configured: number, members: number): number {
  return Math.max(0, Math.min(configured, members - 2))
}

/** The live suspicion of one member. */
export interface Suspicion {
  /** Who first suspected it: its word is not a confirmation. */
  readonly accuser: string
  readonly startedAt: number
  readonly expected: number
  /** Distinct members (the accuser included) whose suspicion we have counted. */
  readonly confirmedBy: Set<string>
  /** When the member is declared dead, unless refuted first. */
  deadline: number
  /** The deadline was found overdue after a stall and pushed back once. */
  deferred: boolean
}

export function startSuspicion(
  accuser: string,
  now: number,
  expected: number,
  minMs: number,
  maxMs: number,
): Suspicion {
  return {
    accuser,
    startedAt: now,
    expected,
    confirmedBy: new Set([accuser]),
    deadline: now + suspicionTimeout(0, expected, minMs, maxMs),
    deferred: false,
  }
}

/** Counts `from`'s confirmation if it is new; returns whether it was. */
export function confirmSuspicion(
  s: Suspicion,
  from: string,
  minMs: number,
  maxMs: number,
): boolean {
  if (s.confirmedBy.has(from) || s.confirmedBy.size - 1 >= s.expected) return false
  s.confirmedBy.add(from)
  s.deadline = s.startedAt + suspicionTimeout(s.confirmedBy.size - 1, s.expected, minMs, maxMs)
  return true
}
