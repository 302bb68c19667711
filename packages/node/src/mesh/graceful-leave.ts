/**
 * Leaving the mesh gracefully: announce it (others mark this peer `left`, not dead, and
 * stop naming it responsible), take no new dispatches from other peers' schedulers, hand
 * each scheduler — same GUID, epoch + 1, its queue and ledger — to another live peer
 * (`scheduler-handover.ts`), and let what runs here finish, for at most `drainMs`. Should a
 * handover fail, that scheduler's queue goes invocation by invocation to another live peer,
 * which looks up or becomes the new responsible (`route/1`), idempotency keys included.
 * Callers waiting through this peer retry with the same invocation id and find it at the
 * new responsible.
 *
 * It waits on a signal, not a clock: `work.idle()` settles when nothing this peer owes is
 * pending (invocations served here, outcomes on their way to entry peers, dispatches run
 * for others), or the deadline passes, or `stop()` ends the wait.
 */
import { background } from '../background.js'
import { silentLogger, type Logger } from '../observability/logger.js'
import type { InvocationView } from '../peer-api.js'
import type { SchedulerHost, SubmitRequest } from '../scheduling/scheduler-host.js'

export interface GracefulLeaveInit {
  /** How long a leaving peer lets running invocations finish. Default 10 s. */
  readonly drainMs?: number
}

export const GRACEFUL_LEAVE_DEFAULTS: Required<GracefulLeaveInit> = { drainMs: 10_000 }

export interface GracefulLeaveComponents {
  readonly selfId: string
  readonly membership: {
    /** Tells everyone this peer is leaving. */
    leave(): Promise<void>
    liveIds(): string[]
  }
  /** This peer's worker, as other peers' schedulers use it: it takes no new dispatch. */
  readonly remote: { drain(): void }
  readonly host: Pick<SchedulerHost, 'entries' | 'drainInto'>
  /** Hands scheduler `key` to `successor`; false if it could not (this peer still holds it). */
  readonly handOver: (
    key: string,
    successor: string,
    forward: (request: SubmitRequest) => Promise<InvocationView>,
  ) => Promise<boolean>
  /** Asks live peer `via` to route a queued invocation of scheduler `key` (`route/1`). */
  readonly handOff: (via: string, key: string, request: SubmitRequest) => Promise<InvocationView>
  /** What this peer still owes; `idle()` settles when none of it is pending. */
  readonly work: { idle(): Promise<void> }
  /** Uniform in [0, 1): picks the peer each queued invocation goes to. */
  readonly rng: () => number
  readonly log?: Logger
}

export class GracefulLeave {
  readonly #c: GracefulLeaveComponents
  readonly #drainMs: number
  readonly #log: Logger
  #leaving = false
  /** Ends the wait for work to drain, if one is under way. */
  #endWait: ((why: 'idle' | 'deadline' | 'stopped') => void) | undefined

  constructor(components: GracefulLeaveComponents, init: GracefulLeaveInit = {}) {
    this.#c = components
    this.#drainMs = init.drainMs ?? GRACEFUL_LEAVE_DEFAULTS.drainMs
    this.#log = (components.log ?? silentLogger()).child({ component: 'mesh:leave' })
  }

  /** Whether leave() has begun (this peer takes no new work). */
  get leaving(): boolean {
    return this.#leaving
  }

  /** Leaves; settles once the work here drained or `drainMs` passed. Runs once. */
  async leave(): Promise<void> {
    if (this.#leaving) return
    this.#leaving = true
    const { remote, membership, host, selfId, handOff, handOver, rng } = this.#c
    remote.drain()
    await membership.leave()
    const others = membership.liveIds().filter((id) => id !== selfId)
    const pick = () => others[Math.floor(rng() * others.length)] as string
    let handedOver = 0
    if (others.length > 0) {
      await Promise.all(
        host.entries().map(async ({ key }) => {
          const forward = (request: SubmitRequest) => handOff(pick(), key, request)
          if (await handOver(key, pick(), forward)) handedOver++
          else host.drainInto(key, forward)
        }),
      )
    }
    const ended = await this.#drained()
    if (ended === 'deadline') {
      this.#log.warn({ drainMs: this.#drainMs }, 'leaving with work still running')
    }
    this.#log.info({ handedTo: others.length, handedOver, ended }, 'left the mesh')
  }

  /** Ends a leave that still waits for work to drain (the peer stops now). */
  stop(): void {
    this.#endWait?.('stopped')
  }

  #drained(): Promise<'idle' | 'deadline' | 'stopped'> {
    return new Promise((resolve) => {
      const end = (why: 'idle' | 'deadline' | 'stopped') => {
        if (this.#endWait !== end) return
        this.#endWait = undefined
        clearTimeout(timer)
        resolve(why)
      }
      const timer = setTimeout(() => end('deadline'), this.#drainMs)
      this.#endWait = end
      background(
        async () => {
          await this.#c.work.idle()
          end('idle')
        },
        (err) => {
          this.#log.error({ err }, 'bug: waiting for work to drain threw')
          end('idle')
        },
      )
    })
  }
}
