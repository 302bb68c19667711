/**
 * What membership gossip says about one member, how a message of such updates is checked,
 * and SWIM/memberlist's rules for which update wins.
 */

export type MemberState = 'alive' | 'suspect' | 'dead' | 'left'

export const MEMBER_STATES: readonly MemberState[] = ['alive', 'suspect', 'dead', 'left']

/** One member as this peer sees it. */
export interface Member {
  /** The libp2p peer id (as a string). */
  readonly id: string
  readonly addrs: readonly string[]
  readonly state: MemberState
  /** Only the member itself raises its incarnation: to refute a suspicion, or when it restarts. */
  readonly incarnation: number
  /** The local time of the last change of `state`, as given to `handle`. */
  readonly stateChangedAt: number
}

/** A member says it is alive at this incarnation (and where it can be reached). */
export interface AliveUpdate {
  readonly kind: 'alive'
  readonly id: string
  readonly incarnation: number
  readonly addrs: readonly string[]
}

/** `from` could not reach the member at this incarnation. */
export interface SuspectUpdate {
  readonly kind: 'suspect'
  readonly id: string
  readonly incarnation: number
  readonly from: string
}

/** `from` declared the member dead at this incarnation: it stayed suspect too long. */
export interface DeadUpdate {
  readonly kind: 'dead'
  readonly id: string
  readonly incarnation: number
  readonly from: string
}

/** The member left gracefully. */
export interface LeftUpdate {
  readonly kind: 'left'
  readonly id: string
  readonly incarnation: number
}

export type MemberUpdate = AliveUpdate | SuspectUpdate | DeadUpdate | LeftUpdate

export type MemberUpdateKind = MemberUpdate['kind']

export const MEMBER_UPDATE_KINDS: readonly MemberUpdateKind[] = ['alive', 'suspect', 'dead', 'left']

/** Bounds on what a membership message may carry; anything beyond is refused. */
export const MEMBERSHIP_LIMITS = {
  /** Peer ids (libp2p's are about 52 characters). */
  maxIdLength: 256,
  maxAddrs: 16,
  maxAddrLength: 512,
  /** Incarnations are non-negative safe integers. */
  maxIncarnation: Number.MAX_SAFE_INTEGER,
  /**
   * An update about a known member (or about ourselves) may not run further ahead of the
   * incarnation we know than this. A forged `dead(x, 2^53 − 1)` would otherwise leave x no
   * higher incarnation to refute with; a real member moves a few steps at a time.
   */
  maxIncarnationLead: 65_536,
  /** Updates in a ping, an ack or a broadcast (a sync may carry up to `maxMembers`). */
  maxUpdatesPerMessage: 1_024,
} as const

export function isValidId(id: unknown): id is string {
  return typeof id === 'string' && id.length > 0 && id.length <= MEMBERSHIP_LIMITS.maxIdLength
}

export function isValidIncarnation(incarnation: unknown): incarnation is number {
  return (
    typeof incarnation === 'number' &&
    Number.isInteger(incarnation) &&
    incarnation >= 0 &&
    incarnation <= MEMBERSHIP_LIMITS.maxIncarnation
  )
}

export function isValidAddrs(addrs: unknown): addrs is readonly string[] {
  return (
    Array.isArray(addrs) &&
    addrs.length <= MEMBERSHIP_LIMITS.maxAddrs &&
    addrs.every(
      (a) => typeof a === 'string' && a.length > 0 && a.length <= MEMBERSHIP_LIMITS.maxAddrLength,
    )
  )
}

/** Why `update` is not a well-formed member update, or undefined if it is. */
export function checkUpdate(update: unknown): string | undefined {
  if (typeof update !== 'object' || update === null) return 'an update must be an object'
  const u = update as Record<string, unknown>
  if (!MEMBER_UPDATE_KINDS.includes(u.kind as MemberUpdateKind)) {
    return `unknown update kind ${JSON.stringify(u.kind) ?? 'undefined'}`
  }
  if (!isValidId(u.id)) return 'update id must be a non-empty string of at most 256 characters'
  if (!isValidIncarnation(u.incarnation)) {
    return `incarnation must be a non-negative safe integer, got ${String(u.incarnation)}`
  }
  switch (u.kind) {
    case 'alive':
      return isValidAddrs(u.addrs)
        ? undefined
        : 'alive addrs must be at most 16 non-empty strings of at most 512 characters'
    case 'suspect':
    case 'dead':
      return isValidId(u.from) ? undefined : `${u.kind} update needs a valid "from"`
    default:
      return undefined
  }
}

/** A copy holding only the fields of its kind: garbage riding along is not kept or relayed. */
export function normalizeUpdate(u: MemberUpdate): MemberUpdate {
  switch (u.kind) {
    case 'alive':
      return { kind: 'alive', id: u.id, incarnation: u.incarnation, addrs: [...u.addrs] }
    case 'suspect':
    case 'dead':
      return { kind: u.kind, id: u.id, incarnation: u.incarnation, from: u.from }
    case 'left':
      return { kind: 'left', id: u.id, incarnation: u.incarnation }
  }
}

/**
 * What to do with `update` about another member, given what is known of it (c: its incarnation):
 *
 * | update     | unknown | alive        | suspect        | dead         | left         |
 * | ---------- | ------- | ------------ | -------------- | ------------ | ------------ |
 * | alive(i)   | apply   | apply if i>c | apply if i>c   | apply if i>c | apply if i>c |
 * | suspect(i) | ignore  | apply if i≥c | confirm if i≥c | ignore       | ignore       |
 * | dead(i)    | ignore  | apply if i≥c | apply if i≥c   | apply if i>c | apply if i>c |
 * | left(i)    | ignore  | apply if i≥c | apply if i≥c   | apply if i≥c | apply if i>c |
 *
 * These are memberlist's rules (`aliveNode`, `suspectNode`, `deadNode`), with two additions: a
 * dead or left member at a higher incarnation takes that incarnation, so a stale alive between
 * the two cannot revive it; and a graceful leave outranks a failure verdict at the same
 * incarnation (the member said goodbye; it did not crash). Updates about the local member are
 * not judged here: the core refutes them.
 */
export function judgeUpdate(
  current: { readonly state: MemberState; readonly incarnation: number } | undefined,
  update: MemberUpdate,
): 'apply' | 'confirm' | 'ignore' {
  if (current === undefined) return update.kind === 'alive' ? 'apply' : 'ignore'
  const i = update.incarnation
  const cur = current.incarnation
  switch (update.kind) {
    case 'alive':
      return i > cur ? 'apply' : 'ignore'
    case 'suspect':
      if (i < cur) return 'ignore'
      if (current.state === 'alive') return 'apply'
      return current.state === 'suspect' ? 'confirm' : 'ignore'
    case 'dead':
      if (current.state === 'alive' || current.state === 'suspect')
        return i >= cur ? 'apply' : 'ignore'
      return i > cur ? 'apply' : 'ignore'
    case 'left':
      if (current.state === 'left') return i > cur ? 'apply' : 'ignore'
      return i >= cur ? 'apply' : 'ignore'
  }
}
