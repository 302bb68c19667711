/**
 * Hybrid logical clocks (Kulkarni et al., 2014): a wall-clock time in milliseconds and a
 * counter that orders events within one millisecond. A clock never runs backwards, and an
 * event stamped after a peer has seen another's stamp is stamped later than it, whatever
 * the two machines' clocks say. Pure: the wall time is always an argument.
 */

export interface Hlc {
  /** Milliseconds since the epoch, as the clock knows them (at least the local wall time). */
  readonly wall: number
  /** Orders stamps within one `wall` millisecond. */
  readonly counter: number
}

/** The highest counter a stamp may carry. */
export const MAX_HLC_COUNTER = 0x7fffffff

export const HLC_ZERO: Hlc = { wall: 0, counter: 0 }

export function compareHlc(a: Hlc, b: Hlc): number {
  return a.wall !== b.wall ? a.wall - b.wall : a.counter - b.counter
}

/** Why `value` is not a well-formed stamp, or undefined. */
export function hlcProblem(value: unknown): string | undefined {
  if (typeof value !== 'object' || value === null) return 'hlc must be an object'
  const { wall, counter } = value as { wall?: unknown; counter?: unknown }
  if (!Number.isSafeInteger(wall) || (wall as number) < 0) {
    return 'hlc.wall must be a non-negative integer'
  }
  if (!Number.isSafeInteger(counter) || (counter as number) < 0) {
    return 'hlc.counter must be a non-negative integer'
  }
  if ((counter as number) > MAX_HLC_COUNTER) return `hlc.counter exceeds ${MAX_HLC_COUNTER}`
  return undefined
}

/** The stamp of a local event at wall time `now`: later than `clock` and than `now`. */
export function tickHlc(clock: Hlc, now: number): Hlc {
  const wall = Math.max(clock.wall, Math.floor(now))
  if (wall > clock.wall) return { wall, counter: 0 }
  // Counter overflow within one millisecond: borrow the next one.
  if (clock.counter >= MAX_HLC_COUNTER) return { wall: wall + 1, counter: 0 }
  return { wall, counter: clock.counter + 1 }
}

/** The clock after receiving `remote` at wall time `now`: later than both. */
export function receiveHlc(clock: Hlc, remote: Hlc, now: number): Hlc {
  const wall = Math.max(clock.wall, remote.wall, Math.floor(now))
  let counter: number
  if (wall === clock.wall && wall === remote.wall) {
    counter = Math.max(clock.counter, remote.counter) + 1
  } else if (wall === clock.wall) counter = clock.counter + 1
  else if (wall === remote.wall) counter = remote.counter + 1
  else counter = 0
  if (counter > MAX_HLC_COUNTER) return { wall: wall + 1, counter: 0 }
  return { wall, counter }
}
