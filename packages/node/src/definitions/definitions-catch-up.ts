/**
 * A peer asked for a function or choreography it does not know may simply not have received
 * it yet (deployed at another peer a moment ago): before it answers "unknown", it pulls the
 * definitions from the other live peers once, and looks again. Concurrent misses share one
 * catch-up, there is at most one per `everyMs` (so asking for what does not exist stays
 * cheap), and a catch-up waits for slow peers at most `timeoutMs`. A dispatch that names a
 * function revision this peer lacks pulls from the peer that sent it (`pullRevision`).
 *
 * Between `start()` and `stop()` only: a stopped catch-up pulls nothing (a miss is final)
 * and holds no timer; stopping ends a catch-up in progress at once.
 */
import { ChorusError } from '../errors.js'
import { silentLogger, type Logger } from '../observability/logger.js'

export interface DefinitionsCatchUpInit {
  /** The other live peers. */
  readonly peers: () => readonly string[]
  /** Pulls the definitions `peer` has and this one lacks. */
  readonly syncWith: (peer: string) => Promise<unknown>
  /** The revision of `owner`'s function `fn` here, if there is one. */
  readonly revisionOf?: (owner: string, fn: string) => string | undefined
  /** Milliseconds on a monotonic clock. */
  readonly now: () => number
  /** At most one catch-up this often. Default 1 s. */
  readonly everyMs?: number
  /** How long a caller waits for it. Default 2 s. */
  readonly timeoutMs?: number
  readonly log?: Logger
}

export class DefinitionsCatchUp {
  readonly #init: DefinitionsCatchUpInit
  readonly #everyMs: number
  readonly #timeoutMs: number
  #running: Promise<boolean> | undefined
  /** Ends the running catch-up's wait (its deadline, or stop()). */
  #finish: (() => void) | undefined
  #startedAt = Number.NEGATIVE_INFINITY
  #started = false
  readonly #log: Logger

  constructor(init: DefinitionsCatchUpInit) {
    this.#init = init
    this.#log = (init.log ?? silentLogger()).child({ component: 'definitions:catch-up' })
    this.#everyMs = init.everyMs ?? 1_000
    this.#timeoutMs = init.timeoutMs ?? 2_000
  }

  start(): void {
    this.#started = true
  }

  stop(): void {
    this.#started = false
    this.#finish?.()
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

  /**
   * Unless `owner`'s `fn` is at `revision` here, pulls the definitions from `from` (which
   * has it: its scheduler dispatched it). Never fails: a failed pull is logged, and running
   * the dispatch reports what is missing.
   */
  async pullRevision(owner: string, fn: string, revision: string, from: string): Promise<void> {
    if (this.#init.revisionOf?.(owner, fn) === revision) return
    await this.#init.syncWith(from).catch((err: unknown) => {
      this.#log.warn({ err, peer: from, owner, fn }, 'pulling definitions for a dispatch failed')
    })
  }

  /**
   * Syncs with every other live peer, bounded; false when none was started (too soon, or
   * stopped).
   */
  catchUp(): Promise<boolean> {
    if (this.#running) return this.#running
    if (!this.#started) return Promise.resolve(false)
    const now = this.#init.now()
    if (now - this.#startedAt < this.#everyMs) return Promise.resolve(false)
    this.#startedAt = now
    const syncs = Promise.allSettled(this.#init.peers().map((peer) => this.#init.syncWith(peer)))
    const ended = new Promise<void>((resolve) => {
      const timer = setTimeout(() => this.#finish?.(), this.#timeoutMs)
      this.#finish = () => {
        clearTimeout(timer)
        this.#finish = undefined
        resolve()
      }
    })
    this.#running = Promise.race([syncs, ended]).then(() => {
      this.#finish?.()
      this.#running = undefined
      return true
    })
    return this.#running
  }
}
