import { expect } from 'vitest'
import {
  Membership,
  seededRng,
  type MemberUpdate,
  type MembershipConfig,
  type MembershipEffect,
  type MembershipEvent,
  type MembershipSnapshot,
} from '../src/index.js'

/** Effects of one type, narrowed. */
export function effectsOf<T extends MembershipEffect['type']>(
  effects: readonly MembershipEffect[],
  type: T,
): Extract<MembershipEffect, { type: T }>[] {
  return effects.filter((e): e is Extract<MembershipEffect, { type: T }> => e.type === type)
}

/** The single effect of a type. */
export function onlyOf<T extends MembershipEffect['type']>(
  effects: readonly MembershipEffect[],
  type: T,
): Extract<MembershipEffect, { type: T }> {
  const found = effectsOf(effects, type)
  expect(found, `exactly one ${type} in ${JSON.stringify(effects)}`).toHaveLength(1)
  return found[0] as Extract<MembershipEffect, { type: T }>
}

export const addr = (id: string): string => `/ip4/127.0.0.1/tcp/4001/p2p/${id}`

/** A core `me` that has discovered `others` at time 0 (their syncs and joins are discarded). */
export function makeCore(
  others: readonly string[] = [],
  config: Partial<MembershipConfig> = {},
  seed = 1,
): Membership {
  const core = new Membership(
    { id: 'me', addrs: [addr('me')], ...config },
    { rng: seededRng(seed) },
  )
  core.handle({ type: 'tick' }, 0)
  for (const id of others) {
    const effects = core.handle({ type: 'peer-discovered', id, addrs: [addr(id)] }, 0)
    expect(effectsOf(effects, 'rejected')).toEqual([])
  }
  return core
}

/** The state part of a snapshot: what must not change when an event is rejected. */
export function stateOf(core: Membership): Omit<MembershipSnapshot, 'recentEvents'> {
  const { recentEvents, ...state } = core.snapshot()
  void recentEvents
  return state
}

/** Drives a core on a virtual clock: fires each deadline at its own instant up to `t`. */
export function advance(core: Membership, t: number): MembershipEffect[] {
  const out: MembershipEffect[] = []
  for (;;) {
    const next = core.nextDeadline()
    if (next === undefined || next > t) break
    out.push(...core.handle({ type: 'tick' }, next))
  }
  return out
}

/** Casts deliberately malformed input past the type checker, as bad wire input would come. */
export const raw = (event: unknown): MembershipEvent => event as MembershipEvent
export const rawUpdate = (u: unknown): MemberUpdate => u as MemberUpdate

export const alive = (id: string, incarnation: number): MemberUpdate => ({
  kind: 'alive',
  id,
  incarnation,
  addrs: [addr(id)],
})
export const suspect = (id: string, incarnation: number, from: string): MemberUpdate => ({
  kind: 'suspect',
  id,
  incarnation,
  from,
})
export const dead = (id: string, incarnation: number, from: string): MemberUpdate => ({
  kind: 'dead',
  id,
  incarnation,
  from,
})
export const left = (id: string, incarnation: number): MemberUpdate => ({
  kind: 'left',
  id,
  incarnation,
})

/** Member events in these effects as `kind:id`. */
export function memberEvents(effects: readonly MembershipEffect[]): string[] {
  return effectsOf(effects, 'member').map((e) => `${e.kind}:${e.id}`)
}
