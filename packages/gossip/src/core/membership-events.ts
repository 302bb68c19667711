import type { MemberUpdate } from './member-update.js'

/** Everything that can happen to the membership core. The shell feeds these in with the time. */
export type MembershipEvent =
  /** Time passed: fire what fell due (call at `nextDeadline()`). */
  | { readonly type: 'tick' }
  /**
   * A connection or bootstrap found this peer: unknown peers join as alive(0), and each is sent
   * our table (push-pull). With the local id, `addrs` are where we listen.
   */
  | { readonly type: 'peer-discovered'; readonly id: string; readonly addrs: readonly string[] }
  /** A ping from `from`: answered with an ack carrying the same probe id. */
  | {
      readonly type: 'ping-received'
      readonly from: string
      readonly probeId: number
      readonly updates: readonly MemberUpdate[]
    }
  /** `from` asks us to ping `target` and relay its ack. */
  | {
      readonly type: 'ping-req-received'
      readonly from: string
      readonly target: string
      readonly probeId: number
    }
  /** An ack for one of our probe ids, from the target itself or relayed by a member we asked. */
  | {
      readonly type: 'ack-received'
      readonly from: string
      readonly probeId: number
      readonly updates: readonly MemberUpdate[]
      /** Measured by the shell; the core does not need it (the shell may feed Vivaldi with it). */
      readonly rttMs?: number
    }
  /**
   * A ping of ours could not leave yet: the shell is opening a connection to its target. The
   * probe's clock waits (at most `connectTimeoutMs`) — a handshake slowed by a busy machine is
   * not the target failing to answer.
   */
  | { readonly type: 'ping-connecting'; readonly probeId: number }
  /** That ping left once the connection opened: the probe's timeouts count from now. */
  | { readonly type: 'ping-sent'; readonly probeId: number }
  /** That ping could not leave (the connection failed): the others are asked to try at once. */
  | { readonly type: 'ping-unsent'; readonly probeId: number }
  /** A member we asked to relay could not reach the target in time (Lifeguard). */
  | { readonly type: 'nack-received'; readonly from: string; readonly probeId: number }
  /** Updates that arrived by broadcast (gossipsub) from `from`. */
  | {
      readonly type: 'updates-received'
      readonly from: string
      readonly updates: readonly MemberUpdate[]
    }
  /** `from`'s whole membership table (push-pull); answered with ours when `reply` is set. */
  | {
      readonly type: 'sync-received'
      readonly from: string
      readonly updates: readonly MemberUpdate[]
      readonly reply: boolean
    }
  /** The shell measured the event loop running this late (ms). */
  | { readonly type: 'local-health'; readonly lagMs: number }
  /** The local peer leaves gracefully: others mark it left, not dead. */
  | { readonly type: 'leave' }

export type MembershipEventType = MembershipEvent['type']
