/** A source of uniform numbers in [0, 1). Pure cores take one; they never draw their own. */
export interface Rng {
  next(): number
  /** An independent copy that continues from the current state, if the source can fork. */
  clone?(): Rng
  /** The generator's whole state as a number, if it can be serialised: `seededRng(state)` continues it. */
  state?(): number
}

/** A seeded, forkable generator (mulberry32): the same seed gives the same sequence. */
export interface SeededRng extends Rng {
  /** An independent copy that continues from the current state. */
  clone(): SeededRng
  /** The current state: `seededRng(rng.state())` continues exactly where this one is. */
  state(): number
}

export function seededRng(seed: number): SeededRng {
  let state = seed >>> 0
  return {
    next() {
      state = (state + 0x6d2b79f5) >>> 0
      let t = state
      t = Math.imul(t ^ (t >>> 15), t | 1)
      t ^= t + Math.imul(t ^ (t >>> 7), t | 61)
      return ((t ^ (t >>> 14)) >>> 0) / 4294967296
    },
    clone() {
      return seededRng(state)
    },
    state() {
      return state
    },
  }
}
