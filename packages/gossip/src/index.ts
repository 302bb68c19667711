/**
 * @packageDocumentation
 *
 * The local view of the Chorus mesh, as pure deterministic cores: membership and failure
 * detection (SWIM with Lifeguard's local health, suspicion confirmations and buddy system),
 * each peer's view of the others' load summaries, when to publish the local one, and Vivaldi
 * network coordinates. Events in, effects out; no clock, no randomness of their own, no I/O.
 * The libp2p shell (gossipsub for broadcasts and summaries, direct streams for probes) carries
 * the effects and feeds what arrives back in.
 *
 * @example
 * ```ts
 * import { Membership, seededRng } from '@chorus/gossip'
 *
 * const addrs = ['/ip4/10.0.0.1/tcp/4001']
 * const a = new Membership({ id: 'peer-a', addrs }, { rng: seededRng(1) })
 * a.handle({ type: 'peer-discovered', id: 'peer-b', addrs: ['/ip4/10.0.0.2/tcp/4001'] }, 0)
 * // [{ type: 'member', kind: 'joined', id: 'peer-b', ... },
 * //  { type: 'send-sync', to: 'peer-b', updates: [...], reply: true },
 * //  { type: 'broadcast', updates: [{ kind: 'alive', id: 'peer-a', incarnation: 0, ... }] }]
 * const wakeAt = a.nextDeadline() // ≤ 200: the first probe
 * a.handle({ type: 'tick' }, wakeAt!)
 * // [{ type: 'send-ping', to: 'peer-b', probeId: 1, updates: [...] }]
 * a.handle({ type: 'ack-received', from: 'peer-b', probeId: 1, updates: [] }, wakeAt! + 1)
 * // [] — peer-b answered; with no ack it would be asked about via ping-req, then suspected
 * ```
 */
export { Membership, InvalidMembershipConfigError } from './core/membership.js'
export type {
  HandledMembershipEvent,
  MembershipDeps,
  MembershipSnapshot,
} from './core/membership.js'
export { MEMBERSHIP_DEFAULTS, resolveMembershipConfig } from './core/membership-config.js'
export type { MembershipConfig, ResolvedMembershipConfig } from './core/membership-config.js'
export type { MembershipEvent, MembershipEventType } from './core/membership-events.js'
export type {
  MemberEventKind,
  MembershipEffect,
  MembershipEffectType,
  MembershipRejectionReason,
} from './core/membership-effects.js'
export {
  MEMBERSHIP_LIMITS,
  MEMBER_STATES,
  MEMBER_UPDATE_KINDS,
  checkUpdate,
  isValidId,
  judgeUpdate,
} from './core/member-update.js'
export type {
  AliveUpdate,
  DeadUpdate,
  LeftUpdate,
  Member,
  MemberState,
  MemberUpdate,
  MemberUpdateKind,
  SuspectUpdate,
} from './core/member-update.js'
export { expectedConfirmations, suspicionTimeout } from './core/suspicion.js'
export { TransmitQueue, retransmitLimit } from './core/transmit-queue.js'
export { LOAD_LIMITS, checkLoadSummary, normalizeLoadSummary } from './core/load-summary.js'
export type { LoadSummary, SchedulerLoad } from './core/load-summary.js'
export { LOAD_VIEW_DEFAULTS, InvalidLoadViewConfigError, LoadView } from './core/load-view.js'
export type {
  HandledLoadSummary,
  LoadEntry,
  LoadMergeResult,
  LoadRejectionReason,
  LoadViewConfig,
  SchedulerClaim,
} from './core/load-view.js'
export {
  PUBLISH_POLICY_DEFAULTS,
  decidePublish,
  publishIntervals,
  resolvePublishPolicy,
  significantChange,
  suggestedExpiryMs,
} from './core/publish-policy.js'
export type {
  PublishDecision,
  PublishInput,
  PublishPolicyConfig,
  PublishReason,
  PublishedLoad,
} from './core/publish-policy.js'
/** `vivaldi.update(local, remote, rttMs, rng)` and `vivaldi.distance(a, b)`, and the rest. */
export * as vivaldi from './core/vivaldi.js'
export {
  MAX_COORDINATE_MS,
  VIVALDI_DEFAULTS,
  VivaldiClient,
  isValidCoordinate,
  newCoordinate,
} from './core/vivaldi.js'
export type { Coordinate, VivaldiClientDeps, VivaldiConfig } from './core/vivaldi.js'
export { seededRng } from '@chorus/scheduler-core'
export type { Rng, SchedulerSummary } from '@chorus/scheduler-core'
