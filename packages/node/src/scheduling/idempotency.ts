/**
 * Idempotency keys: a client that submits again with the key of an earlier submit (its
 * answer lost) gets the earlier invocation, not a second one. Keys are per owner, and the
 * last KEYS_KEPT are remembered.
 */
import { BoundedMap } from '../bounded-map.js'
import { RESULTS_KEPT } from './result-store.js'

/** Keys remembered, at most: as many as results are kept, since a key leads to a result. */
export const KEYS_KEPT = RESULTS_KEPT

export class IdempotencyKeys {
  readonly #ids: BoundedMap<string, string>

  constructor(capacity = KEYS_KEPT) {
    this.#ids = new BoundedMap(capacity)
  }

  /**
   * The invocation an earlier submit of `owner` with `key` got; when there was none, `id`
   * takes the key and undefined is returned.
   */
  claim(owner: string, key: string, id: string): string | undefined {
    const entry = `${owner}\u0000${key}`
    const earlier = this.#ids.get(entry)
    if (earlier !== undefined) return earlier
    this.#ids.set(entry, id)
    return undefined
  }
}
