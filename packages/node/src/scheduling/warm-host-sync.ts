/**
 * Keeps every scheduler's table of warm hosts true to the worker pools that run them. A
 * scheduler names each host it places on (`hostLabel(guid, hostId)`: unique in the mesh,
 * since a GUID is); the worker runs a dispatch on the host it names. Both ways after that:
 * - the scheduler evicts a host (idle, or room needed) → the worker stops it
 *   (`worker.evict-host/1` when the worker is another peer);
 * - the worker's pool drops a named host on its own (reaped, exited, evicted for memory) →
 *   the scheduler that named it hears `host-lost` (`worker.host-gone/1` to the peer that
 *   sent its dispatches), and places the next invocation knowing it.
 * Messages are one-way and best effort: a lost one leaves the scheduler with a host the
 * pool no longer has, which its next dispatch there starts again under the same name.
 */
import { z } from 'zod'
import { BoundedMap } from '../bounded-map.js'
import type { HostGoneReason } from '../function-host/index.js'
import { silentLogger, type Logger } from '../observability/logger.js'
import type { PeerChannels } from '../transport/peer-channels.js'
import { WORKER_METHODS } from '../transport/protocols.js'
import { parseMessage } from '../transport/rpc-message.js'
import { answerMethods, type MethodHandler } from '../transport/answer-methods.js'

/** Named hosts whose scheduler's peer is remembered, at most. */
const SENDERS_KEPT = 10_000

/** The mesh-wide name of scheduler `guid`'s host `hostId`. */
export function hostLabel(guid: string, hostId: string): string {
  return `${guid}/${hostId}`
}

/**
 * The scheduler GUID and its own host id in a label, if it is one. A GUID has no `/`; the
 * scheduler's host ids do (`<worker>/h<n>`), so the first `/` ends the GUID.
 */
export function parseHostLabel(label: string): { guid: string; hostId: string } | undefined {
  const cut = label.indexOf('/')
  if (cut <= 0 || cut === label.length - 1) return undefined
  return { guid: label.slice(0, cut), hostId: label.slice(cut + 1) }
}

const label = z.string().min(3).max(300)

export const WARM_HOST_MESSAGES = {
  /** `worker.evict-host/1`. */
  evictHost: z.object({ hostId: label }),
  /** `worker.host-gone/1`. */
  hostGone: z.object({ hostId: label, reason: z.enum(['reaped', 'exited', 'evicted']) }),
} as const

export interface WarmHostSyncComponents {
  readonly selfId: string
  readonly channels: Pick<PeerChannels, 'handle' | 'unhandle' | 'send'>
  /** This peer's pool: stops a named host unless an invocation holds it. */
  readonly pool: { evict(hostId: string): boolean }
  /** A host that scheduler `guid` here named is gone: it must hear `host-lost`. */
  readonly hostLost: (guid: string, hostId: string, reason: HostGoneReason) => void
  readonly log?: Logger
}

export class WarmHostSync {
  readonly #c: WarmHostSyncComponents
  readonly #log: Logger
  /** Named hosts here run for another peer's scheduler: label → that peer. */
  readonly #senders = new BoundedMap<string, string>(SENDERS_KEPT)
  #unanswer: (() => void) | undefined

  constructor(components: WarmHostSyncComponents) {
    this.#c = components
    this.#log = (components.log ?? silentLogger()).child({ component: 'scheduling:warm-hosts' })
  }

  readonly #handlers: Readonly<Record<string, MethodHandler>> = {
    [WORKER_METHODS.evictHost]: (body) => {
      const { hostId } = parseMessage(WARM_HOST_MESSAGES.evictHost, body, WORKER_METHODS.evictHost)
      return this.#c.pool.evict(hostId)
    },
    [WORKER_METHODS.hostGone]: (body) => {
      const m = parseMessage(WARM_HOST_MESSAGES.hostGone, body, WORKER_METHODS.hostGone)
      this.#tell(m.hostId, m.reason)
      return true
    },
  }

  start(): void {
    this.#unanswer ??= answerMethods(this.#c.channels, this.#handlers)
  }

  stop(): void {
    this.#unanswer?.()
    this.#unanswer = undefined
  }

  /** A dispatch from `from`'s scheduler runs here on the host named `label`. */
  ranFor(label: string, from: string): void {
    if (from !== this.#c.selfId) this.#senders.set(label, from)
  }

  /** A scheduler here evicted its host `label` on `worker`. */
  evict(worker: string, label: string): void {
    if (worker === this.#c.selfId) this.#c.pool.evict(label)
    else this.#c.channels.send(worker, WORKER_METHODS.evictHost, { hostId: label })
  }

  /** This peer's pool dropped the named host `label` on its own. */
  hostGone(label: string, reason: HostGoneReason): void {
    const sender = this.#senders.get(label)
    this.#senders.delete(label)
    if (sender === undefined) this.#tell(label, reason)
    else this.#c.channels.send(sender, WORKER_METHODS.hostGone, { hostId: label, reason })
  }

  #tell(label: string, reason: HostGoneReason): void {
    const parsed = parseHostLabel(label)
    if (parsed === undefined) {
      this.#log.debug({ label }, 'a host that no scheduler named is gone')
      return
    }
    this.#c.hostLost(parsed.guid, parsed.hostId, reason)
  }
}
