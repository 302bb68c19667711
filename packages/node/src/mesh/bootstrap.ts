/**
 * Joining the mesh through `--join` addresses: each is dialled in the background, retried
 * with jittered exponential backoff until it answers or the peer stops. Peers may start in
 * any order, and a dead bootstrap peer must not hold up this one. Once connected, identify
 * and membership do the rest.
 */
import { multiaddr, type Multiaddr } from '@multiformats/multiaddr'
import { background } from '../background.js'
import { silentLogger, type Logger } from '../observability/logger.js'

export interface BootstrapInit {
  /** Multiaddrs of peers to join through. */
  readonly addresses: readonly string[]
  /** The first wait before dialling again; it doubles up to `maxRetryMs`. Default 500 ms. */
  readonly firstRetryMs?: number
  /** Default 30 s. */
  readonly maxRetryMs?: number
  /** Default 10 s. */
  readonly dialTimeoutMs?: number
}

export const BOOTSTRAP_DEFAULTS: Required<Omit<BootstrapInit, 'addresses'>> = {
  firstRetryMs: 500,
  maxRetryMs: 30_000,
  dialTimeoutMs: 10_000,
}

export interface BootstrapComponents {
  readonly libp2p: { dial(address: Multiaddr, options: { signal: AbortSignal }): Promise<unknown> }
  /** Uniform in [0, 1): jitters the retries. */
  readonly rng: () => number
  readonly log?: Logger
}

export class Bootstrap {
  readonly #c: BootstrapComponents
  readonly #init: Required<BootstrapInit>
  readonly #log: Logger
  #stopping: AbortController | undefined

  constructor(components: BootstrapComponents, init: BootstrapInit) {
    this.#c = components
    this.#init = { ...BOOTSTRAP_DEFAULTS, ...init }
    this.#log = (components.log ?? silentLogger()).child({ component: 'mesh:bootstrap' })
  }

  /** Starts dialling every address in the background. */
  start(): void {
    if (this.#stopping) return
    const stopping = new AbortController()
    this.#stopping = stopping
    for (const address of this.#init.addresses) {
      background(this.#joinThrough(address, stopping.signal), (err) =>
        this.#log.error({ err, address }, 'bug: joining threw'),
      )
    }
  }

  /** Stops every dial and retry at once. */
  stop(): void {
    this.#stopping?.abort()
    this.#stopping = undefined
  }

  async #joinThrough(address: string, stopped: AbortSignal): Promise<void> {
    let target: Multiaddr
    try {
      target = multiaddr(address)
    } catch (err) {
      this.#log.warn({ err, address }, 'ignoring a --join address that is not a multiaddr')
      return
    }
    const { firstRetryMs, maxRetryMs, dialTimeoutMs } = this.#init
    for (
      let delayMs = firstRetryMs;
      !stopped.aborted;
      delayMs = Math.min(delayMs * 2, maxRetryMs)
    ) {
      try {
        const signal = AbortSignal.any([stopped, AbortSignal.timeout(dialTimeoutMs)])
        await this.#c.libp2p.dial(target, { signal })
        this.#log.info({ address }, 'joined through a bootstrap peer')
        return
      } catch (err) {
        if (stopped.aborted) return
        // Jitter, so joiners turned away together do not all come back together.
        const retryInMs = Math.round(delayMs * (0.5 + this.#c.rng()))
        this.#log.warn(
          { address, err: err instanceof Error ? err.message : String(err), retryInMs },
          'could not join through a bootstrap peer; retrying',
        )
        await abortableDelay(retryInMs, stopped)
      }
    }
  }
}

/** Resolves after `ms`, or at once when `signal` aborts. */
function abortableDelay(ms: number, signal: AbortSignal): Promise<void> {
  return new Promise((resolve) => {
    const done = () => {
      clearTimeout(timer)
      signal.removeEventListener('abort', done)
      resolve()
    }
    const timer = setTimeout(done, ms)
    signal.addEventListener('abort', done, { once: true })
  })
}
