/**
 * Routing one invocation to its responsible — serve here, forward, or become — as a pure
 * state machine: the router shell (`mesh/router.ts`) feeds it what happened and carries out
 * the step it answers; the simulator does the same on a virtual clock. Each step is one of:
 * - `serve-here`: this peer hosts the key;
 * - `ask-directory`: nothing known (or it expired): claim at the key's directory peer
 *   (lookup-or-become), answered by `directory-answered` or `directory-failed`;
 * - `become`: the directory made this peer responsible: create the scheduler, then `created`;
 * - `forward`: send it to the responsible with the epoch this peer knows, answered by
 *   `forwarded` or `forward-failed`;
 * - `back-off`: wait until `until`, then `backed-off`;
 * - `done` / `give-up`: the end.
 * A refusal that means the knowledge was stale (`stale-epoch`, `not-responsible`), a lost
 * peer, or a garbled answer forgets the location and tries again after a back-off, at most
 * `attempts` times; any other refusal ends the route with that error. Pure.
 */
import type { DirectoryEntry } from './directory-table.js'
import type { LocationCache } from './location-cache.js'

/** Refusals after which routing looks the responsible up again. */
export const RETRYABLE_CODES: readonly string[] = [
  'not-responsible',
  'stale-epoch',
  'peer-unreachable',
  'protocol-error',
  'unknown-method',
  'unsupported-version',
]

export interface RouteOptions {
  /** Rounds, at most. */
  readonly attempts: number
  /** The wait before round `n` (n ≥ 1). Default: 5 ms × 2ⁿ, at most 200 ms. */
  readonly backoffMs?: (round: number) => number
}

export interface RouteError {
  readonly code: string
  readonly message: string
}

export type RouteStep =
  | { readonly type: 'serve-here' }
  | { readonly type: 'ask-directory' }
  | { readonly type: 'become'; readonly entry: DirectoryEntry }
  | { readonly type: 'forward'; readonly entry: DirectoryEntry }
  | { readonly type: 'back-off'; readonly until: number }
  | { readonly type: 'done' }
  | { readonly type: 'give-up'; readonly error: RouteError }

export type RouteEvent =
  | { readonly type: 'begin' }
  | { readonly type: 'backed-off' }
  | { readonly type: 'created' }
  | { readonly type: 'directory-answered'; readonly entry: DirectoryEntry }
  | { readonly type: 'directory-failed'; readonly error: RouteError }
  /** The responsible took it. `final`: false when it answered for a wait it handed off. */
  | { readonly type: 'forwarded'; readonly final: boolean }
  | { readonly type: 'forward-failed'; readonly error: RouteError }

/** What the shell knows of this peer when it feeds an event. */
export interface RouteFacts {
  /** This peer hosts the key now. */
  readonly hostsKey: boolean
}

const defaultBackoff = (round: number): number => Math.min(200, 5 * 2 ** round)

export class Route {
  readonly key: string
  readonly #self: string
  readonly #cache: LocationCache
  readonly #attempts: number
  readonly #backoffMs: (round: number) => number
  #round = 0
  #target: DirectoryEntry | undefined
  #lastError: RouteError | undefined
  #ended = false

  constructor(key: string, self: string, cache: LocationCache, options: RouteOptions) {
    this.key = key
    this.#self = self
    this.#cache = cache
    this.#attempts = options.attempts
    this.#backoffMs = options.backoffMs ?? defaultBackoff
  }

  /** The responsible the last `forward` went to. */
  get target(): DirectoryEntry | undefined {
    return this.#target
  }

  handle(event: RouteEvent, now: number, facts: RouteFacts): RouteStep {
    if (this.#ended) return { type: 'give-up', error: { code: 'internal', message: 'route ended' } }
    switch (event.type) {
      case 'begin':
      case 'backed-off':
        return this.#decide(now, facts)
      case 'created':
        // Created, yet not hosted (it was going away): a round, not a loop.
        if (!facts.hostsKey) {
          return this.#retry(now, { code: 'not-responsible', message: 'could not become it' })
        }
        return this.#decide(now, facts)
      case 'directory-answered':
        if (event.entry.key !== this.key) {
          return this.#retry(now, { code: 'protocol-error', message: 'an entry of another key' })
        }
        if (event.entry.peerId === this.#self) return { type: 'become', entry: event.entry }
        return this.#forward(event.entry)
      case 'directory-failed':
        // The directory peer may be dying: membership will move the key.
        return this.#retry(now, event.error)
      case 'forwarded':
        if (!event.final) {
          // The responsible handed it off while this peer waited (it left): follow it by id.
          this.#cache.forget(this.key)
          return this.#retry(now, {
            code: 'not-responsible',
            message: `${this.#target?.peerId ?? '?'} handed it off`,
          })
        }
        if (this.#target !== undefined) this.#cache.learn(this.#target, now)
        return this.#end({ type: 'done' })
      case 'forward-failed':
        this.#cache.forget(this.key)
        if (!RETRYABLE_CODES.includes(event.error.code)) {
          return this.#end({ type: 'give-up', error: event.error })
        }
        return this.#retry(now, event.error)
    }
  }

  #decide(now: number, facts: RouteFacts): RouteStep {
    if (facts.hostsKey) return this.#end({ type: 'serve-here' })
    const known = this.#cache.get(this.key, now)
    if (known !== undefined && known.peerId !== this.#self) return this.#forward(known)
    return { type: 'ask-directory' }
  }

  #forward(entry: DirectoryEntry): RouteStep {
    this.#target = entry
    return { type: 'forward', entry }
  }

  #retry(now: number, error: RouteError): RouteStep {
    this.#lastError = error
    this.#round++
    if (this.#round >= this.#attempts) {
      return this.#end({
        type: 'give-up',
        error: {
          code: 'peer-unreachable',
          message: `could not reach the responsible for ${this.key}: ${this.#lastError.message}`,
        },
      })
    }
    return { type: 'back-off', until: now + this.#backoffMs(this.#round) }
  }

  #end(step: RouteStep): RouteStep {
    this.#ended = true
    return step
  }
}
