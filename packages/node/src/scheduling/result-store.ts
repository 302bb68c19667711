/**
 * The outcomes of invocations, kept for whoever waits for them or asks later (`status`):
 * the last RESULTS_KEPT results, and the waiters of invocations that have none yet.
 */
import { BoundedMap } from '../bounded-map.js'
import type { InvocationView } from '../peer-api.js'

/** Results kept, at most: the oldest are forgotten first. */
export const RESULTS_KEPT = 100_000

type Waiter = (view: InvocationView) => void

export class ResultStore {
  readonly #results: BoundedMap<string, InvocationView>
  readonly #waiters = new Map<string, Waiter[]>()

  constructor(capacity = RESULTS_KEPT) {
    this.#results = new BoundedMap(capacity)
  }

  has(id: string): boolean {
    return this.#results.has(id)
  }

  /** The invocation's result, if it has one (and it was not forgotten). */
  get(id: string): InvocationView | undefined {
    return this.#results.get(id)
  }

  /** Settles when the invocation has a result (at once if it has one already). */
  wait(id: string): Promise<InvocationView> {
    const result = this.#results.get(id)
    if (result) return Promise.resolve(result)
    return new Promise((resolve) => {
      const list = this.#waiters.get(id)
      if (list) list.push(resolve)
      else this.#waiters.set(id, [resolve])
    })
  }

  /** Records the invocation's result and gives it to its waiters. */
  settle(view: InvocationView): void {
    this.#results.set(view.id, view)
    this.#wake(view)
  }

  /** Tells waiters the invocation now lives elsewhere (`view` says where), keeping no result. */
  handOver(view: InvocationView): void {
    this.#wake(view)
  }

  /** Answers every waiter with `view` (its id set to theirs): nothing will settle them now. */
  failWaiters(view: Omit<InvocationView, 'id'>): void {
    const waiting = [...this.#waiters]
    this.#waiters.clear()
    for (const [id, waiters] of waiting) for (const w of waiters) w({ ...view, id })
  }

  #wake(view: InvocationView): void {
    const waiters = this.#waiters.get(view.id)
    if (!waiters) return
    this.#waiters.delete(view.id)
    for (const w of waiters) w(view)
  }
}
