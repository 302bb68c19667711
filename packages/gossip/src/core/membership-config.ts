/**
 * Settings of the membership core and the arithmetic behind their defaults.
 *
 * Two targets, for a mesh of 20 peers on loopback:
 *
 * A. A killed peer is marked dead by every other within ~3 s (Serf, LAN profile: 6.6 s).
 * B. A peer whose event loop blocks for 400 ms every 2 s is never declared dead.
 *
 * Detection time of a killed peer = wait for the first probe of it + one probe round + the
 * suspicion timeout + one broadcast (gossipsub, ~3 ms):
 *
 * - Probes. Each peer starts a probe every `probeIntervalMs` = 200 ms, round-robin over the 19
 *   others, so the dead peer is probed 19 / (19 · 0.2 s) = 5 times a second mesh-wide: the first
 *   probe comes after 0.2 s on average and within 0.9 s with 99% probability (e^−4.5 ≈ 1%).
 * - Round. A probe waits `probeTimeoutMs` = 250 ms for a direct ack, then asks
 *   `indirectProbes` = 3 others to try, and gives up `indirectTimeoutMs` = 250 ms later: a round
 *   is 500 ms. Target B fixes its floor: a ping that lands at the start of a 400 ms stall is
 *   answered 400 ms + RTT later, and an ack counts until the round ends, so a 500 ms round
 *   keeps ~100 ms of slack and the stalled peer is not even suspected (the ping-req path gives
 *   it a second chance when a ping is lost).
 * - Suspicion. `suspicionMaxMs` = 5000 ms shrinking to `suspicionMinMs` = 1000 ms after
 *   `suspicionConfirmations` = 3 independent confirmations (Lifeguard: timeout =
 *   max(min, max − (max − min)·log(c + 1)/log(k + 1)); c = 1 → 3000 ms, c = 2 → 1830 ms).
 *   Confirmations come from the other probers at ~5 probe rounds a second, so the third lands
 *   ~0.6–0.8 s after the first suspicion and the timeout is at its 1000 ms floor by then.
 *   Total: 0.2 + 0.5 + ~1.1 s ≈ 1.8 s typical, ≈ 2.6 s at the 99th percentile (the simulation
 *   in test/membership-sim.spec.ts measures it).
 * - The floor of 1000 ms is what protects a live peer that *is* suspected (a lost ping during
 *   a stall): it hears the suspicion (gossipsub, or the next ping that carries it, Lifeguard's
 *   buddy system) and refutes within one stall, ≤ 400 ms + RTT; 1000 ms is 2.5× that. Without
 *   confirmations (an accusation nobody else shares) the timeout stays near 5000 ms.
 *
 * A connection is not a ping. Over TCP the first ping to a member waits for a dial and a Noise
 * handshake, which take seconds when twenty processes start at once on two cores: counted
 * against the 250 ms timeout, every joiner was suspected by every other (bench:gossip saw ~300
 * suspicions per join storm). So the shell says when a ping must wait for a connection
 * (`ping-connecting`) and when it left (`ping-sent`); the probe's clock starts then, and waits
 * at most `connectTimeoutMs` = 5 000 ms for it. A connection refused (`ping-unsent`: a killed
 * peer's port is closed) sends the ping-reqs at once, so a dead peer is found sooner, not later.
 *
 * The stalled peer's own view is protected by local health (Lifeguard's LHM): stalls it
 * measures (`local-health` events, deadlines it finds overdue) raise a score 0…`healthMax` = 8
 * that multiplies its probe interval and timeouts by (score + 1), and an overdue deadline is
 * pushed back once by `stallToleranceMs` so answers queued behind the stall are read before
 * it judges anyone.
 */
import { MEMBERSHIP_LIMITS, isValidAddrs, isValidId, isValidIncarnation } from './member-update.js'

export interface MembershipConfig {
  /** The local peer id. */
  readonly id: string
  /** Where the local peer can be reached, carried in its alive updates. */
  readonly addrs?: readonly string[]
  /** Start above an incarnation persisted from a previous run. Default 0. */
  readonly incarnation?: number
  /** A new probe starts this often (× the health multiplier). Default 200. */
  readonly probeIntervalMs?: number
  /** How long a direct ping waits before others are asked to try (× multiplier). Default 250. */
  readonly probeTimeoutMs?: number
  /** How long after the ping-reqs the probe round ends (× multiplier). Default 250. */
  readonly indirectTimeoutMs?: number
  /**
   * How long a probe waits for the shell to open a connection before its ping can leave
   * (`ping-connecting`); past it the probe goes on as if the ping had gone unanswered. Default
   * 5 000.
   */
  readonly connectTimeoutMs?: number
  /** Members asked to ping a target that did not answer directly. Default 3. */
  readonly indirectProbes?: number
  /** A suspicion's timeout once confirmed by enough members. Default 1000. */
  readonly suspicionMinMs?: number
  /** A suspicion's timeout with no confirmation. Default 5000. */
  readonly suspicionMaxMs?: number
  /** Independent confirmations that bring the timeout down to the minimum. Default 3. */
  readonly suspicionConfirmations?: number
  /** The highest local health score (timeouts × (score + 1)). Default 8. */
  readonly healthMax?: number
  /** A deadline handled later than this after it fell due means the loop stalled. Default 50. */
  readonly stallToleranceMs?: number
  /** λ: each update is piggybacked λ·⌈log10(n + 1)⌉ times. Default 4. */
  readonly retransmitMult?: number
  /** Updates piggybacked on one ping or ack. Default 8. */
  readonly maxPiggyback?: number
  /** A full state exchange with one random member this often (push-pull). Default 30 000. */
  readonly syncIntervalMs?: number
  /** Dead and left members are remembered this long, then forgotten. Default 120 000. */
  readonly tombstoneMs?: number
  /** Members known at most; messages that would add more are refused. Default 10 000. */
  readonly maxMembers?: number
  /** Ping-reqs being relayed at most; more are refused. Default 1 024. */
  readonly maxRelays?: number
}

export type ResolvedMembershipConfig = Required<MembershipConfig>

export const MEMBERSHIP_DEFAULTS = {
  addrs: [],
  incarnation: 0,
  probeIntervalMs: 200,
  probeTimeoutMs: 250,
  indirectTimeoutMs: 250,
  connectTimeoutMs: 5_000,
  indirectProbes: 3,
  suspicionMinMs: 1_000,
  suspicionMaxMs: 5_000,
  suspicionConfirmations: 3,
  healthMax: 8,
  stallToleranceMs: 50,
  retransmitMult: 4,
  maxPiggyback: 8,
  syncIntervalMs: 30_000,
  tombstoneMs: 120_000,
  maxMembers: 10_000,
  maxRelays: 1_024,
} as const satisfies Omit<ResolvedMembershipConfig, 'id'>

/** The config with defaults filled in, or a message saying what is wrong with it. */
export function resolveMembershipConfig(
  config: MembershipConfig,
): ResolvedMembershipConfig | string {
  if (typeof config !== 'object' || config === null) return 'config must be an object'
  const c: ResolvedMembershipConfig = { ...MEMBERSHIP_DEFAULTS, ...config }
  if (!isValidId(c.id)) return 'id must be a non-empty string of at most 256 characters'
  if (!isValidAddrs(c.addrs)) {
    return `addrs must be at most ${MEMBERSHIP_LIMITS.maxAddrs} non-empty strings`
  }
  if (!isValidIncarnation(c.incarnation)) return 'incarnation must be a non-negative integer'
  for (const key of [
    'probeIntervalMs',
    'probeTimeoutMs',
    'indirectTimeoutMs',
    'connectTimeoutMs',
    'suspicionMinMs',
    'suspicionMaxMs',
    'stallToleranceMs',
    'syncIntervalMs',
    'tombstoneMs',
  ] as const) {
    const v = c[key]
    if (typeof v !== 'number' || !Number.isFinite(v) || v <= 0) {
      return `${key} must be a positive number`
    }
  }
  if (c.suspicionMaxMs < c.suspicionMinMs) return 'suspicionMaxMs must be ≥ suspicionMinMs'
  for (const key of [
    'indirectProbes',
    'suspicionConfirmations',
    'healthMax',
    'retransmitMult',
    'maxPiggyback',
  ] as const) {
    const v = c[key]
    if (!Number.isInteger(v) || v < 0) return `${key} must be a non-negative integer`
  }
  for (const key of ['maxMembers', 'maxRelays'] as const) {
    const v = c[key]
    if (!Number.isInteger(v) || v < 1) return `${key} must be a positive integer`
  }
  return { ...c, addrs: [...c.addrs] }
}
