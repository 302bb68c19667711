/**
 * Work a peer still owes, counted as it starts and settles, with a promise for the moment
 * none is left: what a leaving peer awaits (with a deadline) instead of polling.
 *
 * ```ts
 * const work = new Activity()
 * work.track(done)      // an invocation served here
 * await work.idle()     // settles once `done` (and everything else tracked) has
 * ```
 */
import { background } from './background.js'

/** Requests to peers and the handlers that answer them (PeerChannels, narrowed). */
export interface Rpc {
  handle(method: string, handler: (body: unknown, from: string) => unknown): void
  request(peerId: string, method: string, body: unknown, timeoutMs?: number): Promise<unknown>
}

export class Activity {
  #pending = 0
  #waiters: (() => void)[] = []

  /** Work tracked and not settled yet. */
  get pending(): number {
    return this.#pending
  }

  /**
   * Counts `work` until it settles. Its outcome is its owner's to handle: a rejection is
   * only counted here, never reported.
   */
  track(work: PromiseLike<unknown>): void {
    this.#pending++
    background(
      async () => {
        try {
          await work
        } finally {
          this.#settled()
        }
      },
      () => undefined,
    )
  }

  /** Settles as soon as nothing tracked is pending (at once if nothing is). */
  idle(): Promise<void> {
    if (this.#pending === 0) return Promise.resolve()
    return new Promise((resolve) => this.#waiters.push(resolve))
  }

  #settled(): void {
    this.#pending--
    if (this.#pending > 0) return
    const waiters = this.#waiters
    this.#waiters = []
    for (const resolve of waiters) resolve()
  }
}

/**
 * `rpc`, with every request its handlers answer counted as work in `work` until answered:
 * how the dispatches other peers' schedulers run on this worker hold up a graceful leave.
 */
export function trackedRpc(rpc: Rpc, work: Activity): Rpc {
  return {
    handle: (method, handler) =>
      rpc.handle(method, (body, from) => {
        const answering = Promise.resolve().then(() => handler(body, from))
        work.track(answering)
        return answering
      }),
    request: (peerId, method, body, timeoutMs) => rpc.request(peerId, method, body, timeoutMs),
  }
}
