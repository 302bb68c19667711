/**
 * A peer asked for a function or choreography it does not know may simply not have received
 * it yet (deployed at another peer a moment ago): before it answers "unknown", it pulls the
 * definitions from the other live peers once, and looks again. Concurrent misses share one
 * catch-up, there is at most one per `everyMs` (so asking for what does not exist stays
 * cheap), and a catch-up waits for slow peers at most `timeoutMs`.
 */
import { ChorusError } from '../errors.js'

export interface DefinitionsCatchUpInit {
  /** The other live peers. */
  readonly peers: () => readonly string[]
  /** Pulls the definitions `peer` has and this one lacks. */
  readonly syncWith: (peer: string) => Promise<unknown>
  /** Milliseconds on a monotonic clock. */
  readonly now: () => number
  /** At most one catch-up this often. Default 1 s. */
  readonly everyMs?: number
  /** How long a caller waits for it. Default 2 s. */
  readonly timeoutMs?: number
}

export class DefinitionsCatchUp {
  readonly #init: DefinitionsCatchUpInit
  readonly #everyMs: number
  readonly #timeoutMs: number
  #running: Promise<boolean> | undefined
  #startedAt = Number.NEGATIVE_INFINITY

  constructor(init: DefinitionsCatchUpInit) {
    this.#init = init
    this.#everyMs = init.everyMs ?? 1_000
    this.#timeoutMs = init.timeoutMs ?? 2_000
  }

  /**
   * Runs `look`; if it fails with a ChorusError of `code` (a name this peer does not have),
   * catches up and runs it once more. Other failures, and a miss when no catch-up may run
   * now, pass through.
   */
  async retry<T>(look: () => T | Promise<T>, code: ChorusError['code']): Promise<T> {
    try {
      return await look()
    } catch (err) {
      if (!(err instanceof ChorusError) || err.code !== code) throw err
      if (!(await this.catchUp())) throw err
      return await look()
    }
  }

  /** Syncs with every other live peer, bounded; false when none was started (too soon). */
  catchUp(): Promise<boolean> {
    if (this.#running) return this.#running
    const now = this.#init.now()
    if (now - this.#startedAt < this.#everyMs) return Promise.resolve(false)
    this.#startedAt = now
    const syncs = Promise.allSettled(this.#init.peers().map((peer) => this.#init.syncWith(peer)))
    let timer: ReturnType<typeof setTimeout> | undefined
    const deadline = new Promise<void>((resolve) => {
      timer = setTimeout(resolve, this.#timeoutMs)
    })
    this.#running = Promise.race([syncs, deadline]).then(() => {
      clearTimeout(timer)
      this.#running = undefined
      return true
    })
    return this.#running
  }
}
