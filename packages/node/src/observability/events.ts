/**
 * The peer's one event stream: what membership and the scheduler host tell a dashboard or a
 * test, as `GET /v1/events` streams it (one JSON object per event, its `type` the SSE event
 * name). One payload type per event type; every event says when (`at`, ms since the epoch)
 * and which peer saw it (`peerId`).
 *
 * ```ts
 * const events = new PeerEvents()
 * const off = events.onEvent((e) => {
 *   if (e.type === 'member-dead') console.log(`${e.member} died at incarnation ${e.incarnation}`)
 * })
 * events.emit({ type: 'member-dead', at: Date.now(), peerId: self, member: id, incarnation: 3 })
 * ```
 */
import { silentLogger, type Logger } from './logger.js'

interface EventBase {
  /** When it happened here, ms since the epoch. */
  readonly at: number
  /** The peer that saw it (this one). */
  readonly peerId: string
}

/** A change in how this peer sees another member (SWIM). */
export interface MemberEvent extends EventBase {
  readonly type: 'member-joined' | 'member-suspect' | 'member-alive' | 'member-dead' | 'member-left'
  /** The member's peer id. */
  readonly member: string
  readonly incarnation: number
}

/** This peer became responsible for `key` (owner/provider). */
export interface SchedulerCreatedEvent extends EventBase {
  readonly type: 'scheduler-created'
  readonly key: string
  readonly owner: string
  readonly provider: string
  readonly guid: string
  readonly epoch: number
}

/** A scheduler here went away: freed for idleness, or merged into the one that won its key. */
export interface SchedulerDeallocatedEvent extends EventBase {
  readonly type: 'scheduler-deallocated'
  readonly key: string
  readonly guid: string
  readonly epoch: number
  readonly reason: 'idle' | 'merged'
}

/** A scheduler here lost its key to another and handed its queue over. */
export interface SchedulerOwnershipChangedEvent extends EventBase {
  readonly type: 'scheduler-ownership-changed'
  readonly key: string
  readonly guid: string
  /** Queued invocations handed to the winner. */
  readonly handedOff: number
}

/** Something worth telling a dashboard or a test, as `GET /v1/events` streams it. */
export type PeerEvent =
  MemberEvent | SchedulerCreatedEvent | SchedulerDeallocatedEvent | SchedulerOwnershipChangedEvent

export type PeerEventType = PeerEvent['type']

/** The event of one type: `PeerEventOf<'member-dead'>` is a `MemberEvent`. */
export type PeerEventOf<T extends PeerEventType> = Extract<PeerEvent, { type: T }>

/** Fans events out to listeners; a listener that throws is logged and the others still hear. */
export class PeerEvents {
  readonly #listeners = new Set<(event: PeerEvent) => void>()
  readonly #log: Logger

  constructor(init: { log?: Logger } = {}) {
    this.#log = (init.log ?? silentLogger()).child({ component: 'events' })
  }

  emit(event: PeerEvent): void {
    for (const listener of this.#listeners) {
      try {
        listener(event)
      } catch (err) {
        this.#log.warn({ err, event: event.type }, 'an event listener threw')
      }
    }
  }

  /** Subscribes; returns the unsubscribe function. */
  onEvent(listener: (event: PeerEvent) => void): () => void {
    this.#listeners.add(listener)
    return () => this.#listeners.delete(listener)
  }
}
