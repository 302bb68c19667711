import type { MembershipEventType } from './membership-events.js'
import type { MemberUpdate } from './member-update.js'

/** The transitions the shell (and the node) hear about, each exactly once. */
export type MemberEventKind = 'joined' | 'alive' | 'suspect' | 'dead' | 'left'

export type MembershipRejectionReason =
  | 'invalid-time'
  | 'invalid-event'
  | 'invalid-update'
  | 'implausible-incarnation'
  | 'too-many-updates'
  | 'too-many-members'
  | 'too-many-relays'
  | 'from-self'
  | 'unexpected-ack'
  | 'unexpected-nack'
  | 'already-left'

/** What the shell must carry out, in order. */
export type MembershipEffect =
  /** Send a ping; the target answers with an ack carrying `probeId`. */
  | {
      readonly type: 'send-ping'
      readonly to: string
      readonly probeId: number
      readonly updates: readonly MemberUpdate[]
    }
  /** Ask `to` to ping `target` for us and relay the ack (with our `probeId`). */
  | {
      readonly type: 'send-ping-req'
      readonly to: string
      readonly target: string
      readonly probeId: number
    }
  /** Answer a ping (or relay an ack) to `to`. */
  | {
      readonly type: 'send-ack'
      readonly to: string
      readonly probeId: number
      readonly updates: readonly MemberUpdate[]
    }
  /** Tell a ping-req's requester that its target did not answer us in time. */
  | { readonly type: 'send-nack'; readonly to: string; readonly probeId: number }
  /** Send our whole table to `to` (push-pull); it answers with its own when `reply` is set. */
  | {
      readonly type: 'send-sync'
      readonly to: string
      readonly updates: readonly MemberUpdate[]
      readonly reply: boolean
    }
  /** Publish to every peer (gossipsub): updates this peer originated. */
  | { readonly type: 'broadcast'; readonly updates: readonly MemberUpdate[] }
  /** A member changed state, as this peer sees it. */
  | {
      readonly type: 'member'
      readonly kind: MemberEventKind
      readonly id: string
      readonly incarnation: number
      readonly addrs: readonly string[]
    }
  /** The event was refused; the core's state did not change. */
  | {
      readonly type: 'rejected'
      readonly event: MembershipEventType | 'unknown'
      readonly reason: MembershipRejectionReason
      readonly message: string
    }

export type MembershipEffectType = MembershipEffect['type']
