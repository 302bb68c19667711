import fc from 'fast-check'
import { describe, expect, it } from 'vitest'
import {
  InvalidMembershipConfigError,
  MEMBERSHIP_DEFAULTS,
  Membership,
  seededRng,
  type MemberUpdate,
  type MembershipEffect,
  type MembershipEvent,
  type MembershipRejectionReason,
} from '../src/index.js'
import {
  addr,
  advance,
  alive,
  dead,
  effectsOf,
  left,
  makeCore,
  memberEvents,
  onlyOf,
  raw,
  rawUpdate,
  stateOf,
  suspect,
} from './helpers.js'

const FIVE = ['a', 'b', 'c', 'd', 'e']
/** One probe at a time in the window a test looks at. */
const SLOW = { probeIntervalMs: 60_000 }

/** Advances to the first ping the core sends. */
function firstPing(core: Membership): { to: string; probeId: number; at: number } {
  for (;;) {
    const at = core.nextDeadline()
    if (at === undefined) throw new Error('no deadline')
    const ping = effectsOf(core.handle({ type: 'tick' }, at), 'send-ping')[0]
    if (ping) return { to: ping.to, probeId: ping.probeId, at }
  }
}

/** Runs until `until`, answering every ping at once, and returns whom it pinged in order. */
function probeWithAcks(core: Membership, until: number): string[] {
  const targets: string[] = []
  for (;;) {
    const at = core.nextDeadline()
    if (at === undefined || at > until) return targets
    for (const ping of effectsOf(core.handle({ type: 'tick' }, at), 'send-ping')) {
      targets.push(ping.to)
      core.handle(
        { type: 'ack-received', from: ping.to, probeId: ping.probeId, updates: [] },
        at + 1,
      )
    }
  }
}

describe('the example in the package doc', () => {
  it('works as written', () => {
    const a = new Membership(
      { id: 'peer-a', addrs: ['/ip4/10.0.0.1/tcp/4001'] },
      { rng: seededRng(1) },
    )
    const effects = a.handle(
      { type: 'peer-discovered', id: 'peer-b', addrs: ['/ip4/10.0.0.2/tcp/4001'] },
      0,
    )
    expect(effects.map((e) => e.type)).toEqual(['member', 'send-sync', 'broadcast'])
    expect(onlyOf(effects, 'broadcast').updates).toEqual([
      { kind: 'alive', id: 'peer-a', incarnation: 0, addrs: ['/ip4/10.0.0.1/tcp/4001'] },
    ])
    const wakeAt = a.nextDeadline() as number
    expect(wakeAt).toBeLessThanOrEqual(200)
    const ping = onlyOf(a.handle({ type: 'tick' }, wakeAt), 'send-ping')
    expect(ping).toMatchObject({ to: 'peer-b', probeId: 1 })
    expect(
      a.handle({ type: 'ack-received', from: 'peer-b', probeId: 1, updates: [] }, wakeAt + 1),
    ).toEqual([])
  })
})

describe('discovery and announcement', () => {
  it('announces the local member on its first event and joins discovered peers once', () => {
    const core = new Membership({ id: 'me', addrs: [addr('me')] }, { rng: seededRng(1) })
    expect(core.nextDeadline()).toBeUndefined()
    expect(core.handle({ type: 'tick' }, 0)).toEqual([
      { type: 'broadcast', updates: [alive('me', 0)] },
    ])
    const first = core.handle({ type: 'peer-discovered', id: 'a', addrs: [addr('a')] }, 5)
    expect(memberEvents(first)).toEqual(['joined:a'])
    const sync = onlyOf(first, 'send-sync')
    expect(sync).toMatchObject({ to: 'a', reply: true })
    expect(sync.updates).toEqual([alive('me', 0), alive('a', 0)])
    // Rediscovering within a second: no second join, no second sync.
    expect(core.handle({ type: 'peer-discovered', id: 'a', addrs: [addr('a')] }, 6)).toEqual([])
    expect(core.member('a')).toMatchObject({ state: 'alive', incarnation: 0, stateChangedAt: 5 })
    expect(core.aliveCount()).toBe(2)
    expect(core.members().map((m) => m.id)).toEqual(['me', 'a'])
  })

  it('takes its own addresses from a peer-discovered of the local id', () => {
    const core = new Membership({ id: 'me' }, { rng: seededRng(1) })
    // The first event tells the addresses: announced at incarnation 0.
    expect(core.handle({ type: 'peer-discovered', id: 'me', addrs: ['/x'] }, 0)).toEqual([
      { type: 'broadcast', updates: [{ kind: 'alive', id: 'me', incarnation: 0, addrs: ['/x'] }] },
    ])
    expect(core.handle({ type: 'peer-discovered', id: 'me', addrs: ['/x'] }, 1)).toEqual([])
    // Later changes need a higher incarnation to supersede what others heard.
    expect(core.handle({ type: 'peer-discovered', id: 'me', addrs: ['/y'] }, 2)).toEqual([
      { type: 'broadcast', updates: [{ kind: 'alive', id: 'me', incarnation: 1, addrs: ['/y'] }] },
    ])
    expect(core.member('me')).toMatchObject({ state: 'alive', incarnation: 1, addrs: ['/y'] })
  })

  it('learns members from alive updates and from syncs, and answers a sync asking for one', () => {
    const core = makeCore(['a'])
    const fromGossip = core.handle(
      { type: 'updates-received', from: 'a', updates: [alive('f', 2)] },
      10,
    )
    expect(memberEvents(fromGossip)).toEqual(['joined:f'])
    expect(core.member('f')?.incarnation).toBe(2)
    const asked = core.handle(
      {
        type: 'sync-received',
        from: 'a',
        updates: [alive('g', 0), dead('h', 0, 'a')],
        reply: true,
      },
      20,
    )
    expect(memberEvents(asked)).toEqual(['joined:g'])
    const reply = onlyOf(asked, 'send-sync')
    expect(reply).toMatchObject({ to: 'a', reply: false })
    expect(reply.updates.map((u) => u.id)).toEqual(['me', 'a', 'f', 'g'])
    // A dead member we never knew is not recorded; a sync not asking for a reply gets none.
    expect(core.member('h')).toBeUndefined()
    expect(
      effectsOf(
        core.handle({ type: 'sync-received', from: 'a', updates: [], reply: false }, 30),
        'send-sync',
      ),
    ).toEqual([])
  })
})

describe('catching up after joining', () => {
  it('push-pulls twice more soon after the first table arrives, then at the regular interval', () => {
    const core = makeCore([], { ...SLOW, syncIntervalMs: 30_000 })
    core.handle(
      { type: 'sync-received', from: 'a', updates: [alive('a', 0), alive('b', 0)], reply: false },
      100,
    )
    const syncsAt: number[] = []
    for (let t = 100; t <= 40_000; t += 50) {
      for (const sync of effectsOf(advance(core, t), 'send-sync')) {
        expect(['a', 'b']).toContain(sync.to)
        expect(sync.reply).toBe(true)
        syncsAt.push(t)
      }
    }
    // ~1 s and ~3 s after joining (×0.75…1.25), then not before the regular 30 s round.
    expect(syncsAt.length).toBeGreaterThanOrEqual(3)
    const [first, second, third] = syncsAt as [number, number, number]
    expect(first - 100).toBeGreaterThanOrEqual(750)
    expect(first - 100).toBeLessThanOrEqual(1_300)
    expect(second - 100).toBeGreaterThanOrEqual(2_250)
    expect(second - 100).toBeLessThanOrEqual(3_800)
    expect(third - second).toBeGreaterThanOrEqual(30_000 - 50)
  })
})

describe('probing', () => {
  it('probes every member once per round, reshuffling between rounds', () => {
    const core = makeCore(FIVE)
    const targets = probeWithAcks(core, 4_000)
    expect(targets.length).toBeGreaterThanOrEqual(15)
    const rounds = [targets.slice(0, 5), targets.slice(5, 10), targets.slice(10, 15)]
    for (const round of rounds) expect([...round].sort()).toEqual(FIVE)
    expect(new Set(rounds.map((r) => r.join())).size).toBeGreaterThan(1)
    expect(core.health).toBe(0)
  })

  it('starts a probe every probeIntervalMs with deterministic probe ids', () => {
    const core = makeCore(FIVE)
    const starts: number[] = []
    const ids: number[] = []
    for (;;) {
      const at = core.nextDeadline() as number
      if (at > 2_000) break
      for (const ping of effectsOf(core.handle({ type: 'tick' }, at), 'send-ping')) {
        starts.push(at)
        ids.push(ping.probeId)
        core.handle({ type: 'ack-received', from: ping.to, probeId: ping.probeId, updates: [] }, at)
      }
    }
    expect(starts.slice(1).map((t, i) => t - (starts[i] as number))).toEqual(
      Array(starts.length - 1).fill(200),
    )
    expect(ids).toEqual(ids.map((_, i) => i + 1))
  })

  it('answers a ping with an ack carrying the same probe id and piggybacked updates', () => {
    const core = makeCore(['a'])
    const effects = core.handle({ type: 'ping-received', from: 'b', probeId: 42, updates: [] }, 1)
    const ack = onlyOf(effects, 'send-ack')
    expect(ack).toMatchObject({ to: 'b', probeId: 42 })
    expect(ack.updates).toEqual(expect.arrayContaining([alive('me', 0), alive('a', 0)]))
  })

  it('asks 3 alive members to ping a target that did not answer; a relayed ack saves it', () => {
    const core = makeCore(FIVE, SLOW)
    const ping = firstPing(core)
    expect(advance(core, ping.at + 249)).toEqual([])
    const reqs = effectsOf(advance(core, ping.at + 250), 'send-ping-req')
    expect(reqs).toHaveLength(3)
    const relayers = reqs.map((r) => r.to)
    expect(new Set(relayers).size).toBe(3)
    expect(relayers).not.toContain(ping.to)
    for (const r of reqs) expect(r).toMatchObject({ target: ping.to, probeId: ping.probeId })
    // Someone who was not asked cannot answer for the target.
    const outsider = FIVE.find((id) => id !== ping.to && !relayers.includes(id)) as string
    const before = stateOf(core)
    const forged = core.handle(
      { type: 'ack-received', from: outsider, probeId: ping.probeId, updates: [] },
      ping.at + 300,
    )
    expect(forged).toEqual([
      expect.objectContaining({ type: 'rejected', reason: 'unexpected-ack' }),
    ])
    expect(stateOf(core)).toEqual(before)
    core.handle(
      { type: 'ack-received', from: relayers[0] as string, probeId: ping.probeId, updates: [] },
      ping.at + 300,
    )
    expect(memberEvents(advance(core, ping.at + 10_000))).toEqual([])
    expect(core.member(ping.to)?.state).toBe('alive')
  })

  it('counts a late direct ack until the round ends', () => {
    const core = makeCore(FIVE, SLOW)
    const ping = firstPing(core)
    advance(core, ping.at + 499)
    core.handle(
      { type: 'ack-received', from: ping.to, probeId: ping.probeId, updates: [] },
      ping.at + 499,
    )
    expect(memberEvents(advance(core, ping.at + 10_000))).toEqual([])
  })

  it('suspects a target that stays silent for the whole round, once, and broadcasts it', () => {
    const core = makeCore(FIVE, SLOW)
    const ping = firstPing(core)
    const effects = advance(core, ping.at + 500)
    expect(memberEvents(effects)).toEqual([`suspect:${ping.to}`])
    expect(onlyOf(effects, 'broadcast').updates).toEqual([suspect(ping.to, 0, 'me')])
    expect(core.member(ping.to)).toMatchObject({ state: 'suspect', stateChangedAt: ping.at + 500 })
  })
})

describe('pings that wait for a connection', () => {
  it('times the probe from when the ping left, not from the dial', () => {
    const core = makeCore(FIVE, SLOW)
    const ping = firstPing(core)
    core.handle({ type: 'ping-connecting', probeId: ping.probeId }, ping.at)
    // A 3 s dial: without the notice the round would have ended (and suspected) at +500.
    expect(effectsOf(advance(core, ping.at + 3_000), 'send-ping-req')).toEqual([])
    expect(core.snapshot().probes[0]).toMatchObject({ probeId: ping.probeId, connecting: true })
    core.handle({ type: 'ping-sent', probeId: ping.probeId }, ping.at + 3_000)
    expect(advance(core, ping.at + 3_249)).toEqual([])
    expect(effectsOf(advance(core, ping.at + 3_250), 'send-ping-req')).toHaveLength(3)
    expect(memberEvents(advance(core, ping.at + 3_500))).toEqual([`suspect:${ping.to}`])
  })

  it('waits at most connectTimeoutMs for the connection', () => {
    const core = makeCore(FIVE, { ...SLOW, connectTimeoutMs: 2_000 })
    const ping = firstPing(core)
    core.handle({ type: 'ping-connecting', probeId: ping.probeId }, ping.at)
    expect(effectsOf(advance(core, ping.at + 1_999), 'send-ping-req')).toEqual([])
    expect(effectsOf(advance(core, ping.at + 2_000), 'send-ping-req')).toHaveLength(3)
    expect(memberEvents(advance(core, ping.at + 2_250))).toEqual([`suspect:${ping.to}`])
  })

  it('asks the others at once when the connection fails', () => {
    const core = makeCore(FIVE, SLOW)
    const ping = firstPing(core)
    core.handle({ type: 'ping-connecting', probeId: ping.probeId }, ping.at)
    const reqs = effectsOf(
      core.handle({ type: 'ping-unsent', probeId: ping.probeId }, ping.at + 10),
      'send-ping-req',
    )
    expect(reqs).toHaveLength(3)
    expect(memberEvents(advance(core, ping.at + 260))).toEqual([`suspect:${ping.to}`])
  })

  it('ignores notices for probes it does not hold or that moved on', () => {
    const core = makeCore(FIVE, SLOW)
    const ping = firstPing(core)
    const before = stateOf(core)
    expect(core.handle({ type: 'ping-sent', probeId: ping.probeId }, ping.at)).toEqual([])
    expect(core.handle({ type: 'ping-connecting', probeId: 999 }, ping.at)).toEqual([])
    expect(core.handle({ type: 'ping-unsent', probeId: 999 }, ping.at)).toEqual([])
    expect(stateOf(core)).toEqual(before)
    // In the indirect phase a late connecting notice changes nothing.
    advance(core, ping.at + 250)
    core.handle({ type: 'ping-connecting', probeId: ping.probeId }, ping.at + 260)
    expect(memberEvents(advance(core, ping.at + 500))).toEqual([`suspect:${ping.to}`])
  })
})

describe('suspicion', () => {
  function suspectedAt(core: Membership) {
    const ping = firstPing(core)
    advance(core, ping.at + 500)
    return { target: ping.to, since: ping.at + 500 }
  }

  it('declares the suspect dead after suspicionMaxMs when nobody confirms', () => {
    const core = makeCore(FIVE, SLOW)
    const { target, since } = suspectedAt(core)
    expect(memberEvents(advance(core, since + 4_999))).toEqual([])
    const effects = advance(core, since + 5_000)
    expect(memberEvents(effects)).toEqual([`dead:${target}`])
    expect(onlyOf(effects, 'broadcast').updates).toEqual([dead(target, 0, 'me')])
  })

  it('shrinks the timeout towards suspicionMinMs as others confirm', () => {
    const core = makeCore(FIVE, SLOW)
    const { target, since } = suspectedAt(core)
    const confirmers = FIVE.filter((id) => id !== target)
    const confirm = (from: string, at: number) =>
      core.handle({ type: 'updates-received', from, updates: [suspect(target, 0, from)] }, at)
    // A confirmation raises no second member event.
    expect(memberEvents(confirm(confirmers[0] as string, since + 100))).toEqual([])
    expect(core.snapshot().suspicions[0]).toMatchObject({
      confirmations: 1,
      deadline: since + 3000,
    })
    confirm(confirmers[0] as string, since + 150) // the same confirmer counts once
    confirm(confirmers[1] as string, since + 200)
    expect(core.snapshot().suspicions[0]).toMatchObject({
      confirmations: 2,
      deadline: since + 1830,
    })
    confirm(confirmers[2] as string, since + 300)
    expect(memberEvents(advance(core, since + 999))).toEqual([])
    expect(memberEvents(advance(core, since + 1000))).toEqual([`dead:${target}`])
  })

  it('a confirmation that brings the deadline into the past fires it at once', () => {
    const core = makeCore(FIVE, SLOW)
    const { target, since } = suspectedAt(core)
    const [c1, c2, c3] = FIVE.filter((id) => id !== target) as [string, string, string]
    core.handle(
      { type: 'updates-received', from: c1, updates: [suspect(target, 0, c1)] },
      since + 10,
    )
    core.handle(
      { type: 'updates-received', from: c2, updates: [suspect(target, 0, c2)] },
      since + 20,
    )
    core.handle(
      { type: 'updates-received', from: c3, updates: [suspect(target, 0, c3)] },
      since + 1500,
    )
    expect(core.nextDeadline()).toBe(since + 1500)
    expect(memberEvents(core.handle({ type: 'tick' }, since + 1500))).toEqual([`dead:${target}`])
  })

  it('an alive at a higher incarnation refutes the suspicion', () => {
    const core = makeCore(FIVE, SLOW)
    const { target, since } = suspectedAt(core)
    const effects = core.handle(
      { type: 'updates-received', from: target, updates: [alive(target, 1)] },
      since + 100,
    )
    expect(memberEvents(effects)).toEqual([`alive:${target}`])
    expect(core.snapshot().suspicions).toEqual([])
    expect(memberEvents(advance(core, since + 20_000))).not.toContain(`dead:${target}`)
  })

  it('a ping to a suspect carries its suspicion first (buddy system)', () => {
    const core = makeCore(FIVE)
    core.handle({ type: 'updates-received', from: 'a', updates: [suspect('b', 0, 'a')] }, 1)
    for (;;) {
      const at = core.nextDeadline() as number
      const pings = effectsOf(core.handle({ type: 'tick' }, at), 'send-ping')
      for (const p of pings) {
        core.handle({ type: 'ack-received', from: p.to, probeId: p.probeId, updates: [] }, at)
      }
      const toB = pings.find((p) => p.to === 'b')
      if (toB) {
        expect(toB.updates[0]).toEqual(suspect('b', 0, 'a'))
        expect(toB.updates.filter((u) => u.id === 'b')).toHaveLength(1)
        return
      }
    }
  })
})

describe('healing after a partition', () => {
  it('an ack to a member held dead carries its death first, so it refutes at once', () => {
    const core = makeCore(FIVE)
    core.handle({ type: 'updates-received', from: 'a', updates: [dead('b', 0, 'a')] }, 1)
    // Long after its death stopped being gossiped, b (which never heard of it) pings us.
    advance(core, 60_000)
    const ack = onlyOf(
      core.handle({ type: 'ping-received', from: 'b', probeId: 7, updates: [] }, 60_000),
      'send-ack',
    )
    expect(ack.updates[0]).toEqual(dead('b', 0, 'a'))
    // And b, hearing it, refutes.
    const b = new Membership({ id: 'b', addrs: [addr('b')] }, { rng: seededRng(2) })
    b.handle({ type: 'peer-discovered', id: 'me', addrs: [addr('me')] }, 0)
    const refuted = effectsOf(
      b.handle({ type: 'ack-received', from: 'me', probeId: 1, updates: ack.updates }, 10),
      'broadcast',
    )
    expect(refuted.flatMap((e) => e.updates)).toContainEqual(
      expect.objectContaining({ id: 'b', kind: 'alive', incarnation: 1 }),
    )
  })

  it('now and then pushes and pulls its table with a member it holds dead (Serf reconnect)', () => {
    const core = makeCore(FIVE, { syncIntervalMs: 1_000 })
    for (const id of ['a', 'b'])
      core.handle({ type: 'updates-received', from: 'c', updates: [dead(id, 0, 'c')] }, 1)
    const syncsTo = new Map<string, number>()
    // c, d and e answer every ping; a and b are gone.
    for (
      let at = core.nextDeadline() as number;
      at <= 100_000;
      at = core.nextDeadline() as number
    ) {
      for (const e of core.handle({ type: 'tick' }, at)) {
        if (e.type === 'send-sync') syncsTo.set(e.to, (syncsTo.get(e.to) ?? 0) + 1)
        if (e.type === 'send-ping' && !['a', 'b'].includes(e.to))
          core.handle({ type: 'ack-received', from: e.to, probeId: e.probeId, updates: [] }, at)
      }
    }
    expect(core.aliveCount()).toBe(4)
    // Two dead among three alive: about 2/3 of the 100 rounds try one of them.
    const toDead = (syncsTo.get('a') ?? 0) + (syncsTo.get('b') ?? 0)
    expect(toDead).toBeGreaterThan(40)
    expect(toDead).toBeLessThan(95)
    expect(syncsTo.get('a')).toBeGreaterThan(10)
    expect(syncsTo.get('b')).toBeGreaterThan(10)
  })
})

describe('the local member', () => {
  it('refutes suspicion, death or a forged leave at its incarnation or later, not older', () => {
    const core = makeCore(['a'])
    const say = (u: MemberUpdate, at: number) =>
      core.handle({ type: 'updates-received', from: 'a', updates: [u] }, at)
    expect(say(suspect('me', 0, 'a'), 1)).toEqual([
      { type: 'broadcast', updates: [alive('me', 1)] },
    ])
    expect(core.health).toBe(1)
    expect(say(suspect('me', 0, 'a'), 2)).toEqual([])
    expect(onlyOf(say(dead('me', 1, 'a'), 3), 'broadcast').updates).toEqual([alive('me', 2)])
    expect(onlyOf(say(left('me', 5), 4), 'broadcast').updates).toEqual([alive('me', 6)])
    expect(say(alive('me', 6), 5)).toEqual([])
    // Someone claims a newer life of ours (from before a restart): we go above it.
    expect(onlyOf(say(alive('me', 9), 6), 'broadcast').updates).toEqual([alive('me', 10)])
    expect(core.member('me')).toMatchObject({ state: 'alive', incarnation: 10 })
    expect(memberEvents(core.handle({ type: 'tick' }, 7))).toEqual([])
  })

  it('leaves gracefully: broadcasts left, stops probing, still answers pings', () => {
    const core = makeCore(['a'])
    expect(core.handle({ type: 'leave' }, 10)).toEqual([
      { type: 'broadcast', updates: [left('me', 0)] },
    ])
    expect(core.member('me')).toMatchObject({ state: 'left', stateChangedAt: 10 })
    expect(core.aliveCount()).toBe(1)
    expect(core.nextDeadline()).toBeUndefined()
    expect(core.handle({ type: 'leave' }, 11)).toEqual([
      expect.objectContaining({ type: 'rejected', reason: 'already-left' }),
    ])
    expect(
      onlyOf(
        core.handle({ type: 'ping-received', from: 'a', probeId: 3, updates: [] }, 12),
        'send-ack',
      ).probeId,
    ).toBe(3)
    // Gone is gone: accusations are no longer refuted.
    expect(
      core.handle({ type: 'updates-received', from: 'a', updates: [dead('me', 0, 'a')] }, 13),
    ).toEqual([])
  })
})

describe('relaying ping-reqs', () => {
  it('pings the target with its own probe id and relays the ack under the requester’s', () => {
    const core = makeCore(['a', 'b'])
    const ping = onlyOf(
      core.handle({ type: 'ping-req-received', from: 'a', target: 'b', probeId: 42 }, 100),
      'send-ping',
    )
    expect(ping.to).toBe('b')
    const relayed = core.handle(
      { type: 'ack-received', from: 'b', probeId: ping.probeId, updates: [] },
      105,
    )
    expect(onlyOf(relayed, 'send-ack')).toMatchObject({ to: 'a', probeId: 42 })
    expect(advance(core, 10_000).filter((e) => e.type === 'send-nack')).toEqual([])
  })

  it('nacks the requester when the target stays silent (Lifeguard)', () => {
    const core = makeCore(['a', 'b'], SLOW)
    const ping = onlyOf(
      core.handle({ type: 'ping-req-received', from: 'a', target: 'b', probeId: 42 }, 100),
      'send-ping',
    )
    expect(effectsOf(advance(core, 299), 'send-nack')).toEqual([])
    expect(effectsOf(advance(core, 300), 'send-nack')).toEqual([
      { type: 'send-nack', to: 'a', probeId: 42 },
    ])
    expect(core.snapshot().relays).toHaveLength(1)
    advance(core, 350)
    expect(core.snapshot().relays).toEqual([])
    // A very late ack is no longer relayed.
    const late = core.handle(
      { type: 'ack-received', from: 'b', probeId: ping.probeId, updates: [] },
      400,
    )
    expect(effectsOf(late, 'send-ack')).toEqual([])
  })
})

describe('local health (Lifeguard LHM)', () => {
  it('rises by the relays that did not even nack, not when they all did', () => {
    const withNacks = makeCore(FIVE, SLOW)
    const p1 = firstPing(withNacks)
    const reqs = effectsOf(advance(withNacks, p1.at + 250), 'send-ping-req')
    for (const r of reqs) {
      withNacks.handle({ type: 'nack-received', from: r.to, probeId: p1.probeId }, p1.at + 450)
    }
    advance(withNacks, p1.at + 500)
    expect(withNacks.health).toBe(0)

    const silent = makeCore(FIVE, SLOW)
    const p2 = firstPing(silent)
    advance(silent, p2.at + 500)
    expect(silent.health).toBe(3)
  })

  it('stretches the probe interval and timeouts, and successful probes bring it down', () => {
    const core = makeCore(FIVE)
    core.handle({ type: 'local-health', lagMs: 400 }, 1)
    expect(core.health).toBe(2) // enough that 250 ms × (2 + 1) covers a 400 ms stall
    core.handle({ type: 'local-health', lagMs: 10 }, 2) // within tolerance: no signal
    expect(core.health).toBe(2)
    const ping = firstPing(core)
    const next = core.nextDeadline() as number
    // Direct timeout 750 ms; the next probe in 600 ms.
    expect(effectsOf(advance(core, ping.at + 749), 'send-ping-req')).toEqual([])
    expect(next).toBe(ping.at + 600)
    core.handle(
      { type: 'ack-received', from: ping.to, probeId: ping.probeId, updates: [] },
      ping.at + 760,
    )
    expect(core.health).toBe(1)
  })

  it('counts one stall once, however many report it', () => {
    const core = makeCore(FIVE, SLOW)
    const ping = firstPing(core)
    core.handle({ type: 'tick' }, ping.at + 650) // the direct deadline is 400 ms overdue
    expect(core.health).toBe(2)
    core.handle({ type: 'local-health', lagMs: 400 }, ping.at + 650) // the shell saw it too
    expect(core.health).toBe(2)
    advance(core, ping.at + 5_000)
    const before = core.health
    core.handle({ type: 'local-health', lagMs: 400 }, ping.at + 5_000) // a new stall
    expect(core.health).toBe(Math.min(8, Math.max(before + 1, 2)))
  })

  it('puts off a verdict found overdue after a stall, so a queued ack still counts', () => {
    const core = makeCore(FIVE, SLOW)
    const ping = firstPing(core)
    // The loop was blocked for 900 ms: the direct deadline (+250) and round end (+500) are overdue.
    const atWake = core.handle({ type: 'tick' }, ping.at + 900)
    expect(effectsOf(atWake, 'send-ping-req')).toEqual([])
    expect(core.health).toBeGreaterThanOrEqual(3)
    // The ack that queued up behind the stall is handled next, and counts.
    core.handle(
      { type: 'ack-received', from: ping.to, probeId: ping.probeId, updates: [] },
      ping.at + 900,
    )
    expect(memberEvents(advance(core, ping.at + 20_000))).toEqual([])
  })

  it('gives ping-reqs sent late after a stall their whole window', () => {
    const core = makeCore(FIVE, SLOW)
    const ping = firstPing(core)
    core.handle({ type: 'tick' }, ping.at + 900)
    const health = core.health
    const reqs = effectsOf(advance(core, ping.at + 950), 'send-ping-req')
    expect(reqs).toHaveLength(3)
    const window = 250 * (health + 1)
    expect(memberEvents(advance(core, ping.at + 950 + window - 1))).toEqual([])
    expect(memberEvents(advance(core, ping.at + 950 + window))).toEqual([`suspect:${ping.to}`])
  })
})

describe('merge rules, applied by the core', () => {
  /** A core where `x` has been brought to `state` at incarnation 5 by gossip from `a`. */
  function withX(state: 'alive' | 'suspect' | 'dead' | 'left'): Membership {
    const core = makeCore(['a', 'b', 'c'], SLOW)
    const setup: Record<typeof state, MemberUpdate[]> = {
      alive: [alive('x', 5)],
      suspect: [alive('x', 5), suspect('x', 5, 'a')],
      dead: [alive('x', 5), dead('x', 5, 'a')],
      left: [alive('x', 5), left('x', 5)],
    }
    core.handle({ type: 'updates-received', from: 'a', updates: setup[state] }, 1)
    expect(core.member('x')).toMatchObject({ state, incarnation: 5 })
    return core
  }

  it.each([
    ['alive', alive('x', 6), 'alive', 6, []],
    ['alive', alive('x', 5), 'alive', 5, []],
    ['alive', suspect('x', 5, 'b'), 'suspect', 5, ['suspect:x']],
    ['alive', suspect('x', 4, 'b'), 'alive', 5, []],
    ['alive', dead('x', 5, 'b'), 'dead', 5, ['dead:x']],
    ['alive', left('x', 5), 'left', 5, ['left:x']],
    ['suspect', alive('x', 5), 'suspect', 5, []],
    ['suspect', alive('x', 6), 'alive', 6, ['alive:x']],
    ['suspect', suspect('x', 6, 'b'), 'suspect', 6, []],
    ['suspect', dead('x', 5, 'b'), 'dead', 5, ['dead:x']],
    ['dead', alive('x', 5), 'dead', 5, []],
    ['dead', alive('x', 6), 'alive', 6, ['alive:x']],
    ['dead', suspect('x', 9, 'b'), 'dead', 5, []],
    ['dead', dead('x', 7, 'b'), 'dead', 7, []],
    ['dead', left('x', 5), 'left', 5, ['left:x']],
    ['left', dead('x', 5, 'b'), 'left', 5, []],
    ['left', alive('x', 6), 'alive', 6, ['alive:x']],
  ] as const)('x %s + %j → %s@%d, events %j', (state, update, after, inc, events) => {
    const core = withX(state)
    const effects = core.handle({ type: 'updates-received', from: 'b', updates: [update] }, 2)
    expect(memberEvents(effects)).toEqual(events)
    expect(core.member('x')).toMatchObject({ state: after, incarnation: inc })
  })

  it('reports each transition exactly once, however often the news arrives', () => {
    const core = makeCore(['a', 'b', 'c'], SLOW)
    const seen: string[] = []
    const news: MemberUpdate[] = [
      alive('x', 0),
      alive('x', 0),
      suspect('x', 0, 'a'),
      suspect('x', 0, 'b'),
      suspect('x', 0, 'a'),
      alive('x', 1),
      alive('x', 1),
      dead('x', 1, 'a'),
      dead('x', 1, 'b'),
      dead('x', 2, 'c'),
      left('x', 2),
      left('x', 2),
    ]
    news.forEach((u, i) => {
      for (const from of ['a', 'b']) {
        seen.push(
          ...memberEvents(core.handle({ type: 'updates-received', from, updates: [u] }, i + 1)),
        )
      }
    })
    expect(seen).toEqual(['joined:x', 'suspect:x', 'alive:x', 'dead:x', 'left:x'])
  })

  it('forgets dead members after tombstoneMs; a later alive joins them afresh', () => {
    const core = makeCore(['a'], { ...SLOW, tombstoneMs: 1_000 })
    core.handle(
      { type: 'updates-received', from: 'a', updates: [alive('x', 0), dead('x', 0, 'a')] },
      1,
    )
    advance(core, 1_001)
    expect(core.member('x')).toBeUndefined()
    expect(
      memberEvents(
        core.handle({ type: 'updates-received', from: 'a', updates: [alive('x', 0)] }, 1_002),
      ),
    ).toEqual(['joined:x'])
  })

  it('sends a rediscovered dead member our table, so it can refute', () => {
    const core = makeCore(['a', 'x'], SLOW)
    core.handle({ type: 'updates-received', from: 'a', updates: [dead('x', 0, 'a')] }, 1)
    const effects = core.handle({ type: 'peer-discovered', id: 'x', addrs: [addr('x')] }, 2_000)
    expect(memberEvents(effects)).toEqual([])
    const toX = effectsOf(effects, 'send-sync').filter((e) => e.to === 'x')
    expect(toX).toHaveLength(1)
    expect(toX[0]?.updates).toContainEqual(dead('x', 0, 'a'))
  })
})

describe('dissemination', () => {
  it('piggybacks each update λ·⌈log10(n + 1)⌉ times', () => {
    const core = makeCore(FIVE, SLOW) // n = 7 with z below: 4 · 1 = 4 times
    core.handle({ type: 'updates-received', from: 'a', updates: [alive('z', 3)] }, 1)
    let carried = 0
    for (let i = 0; i < 10; i++) {
      const ack = onlyOf(
        core.handle({ type: 'ping-received', from: 'a', probeId: i, updates: [] }, 2 + i),
        'send-ack',
      )
      expect(ack.updates.length).toBeLessThanOrEqual(MEMBERSHIP_DEFAULTS.maxPiggyback)
      if (ack.updates.some((u) => u.id === 'z')) carried++
    }
    expect(carried).toBe(4)
  })

  it('broadcasts only what it originates, not what it merely heard', () => {
    const core = makeCore(FIVE, SLOW)
    const heard = core.handle(
      { type: 'updates-received', from: 'a', updates: [suspect('b', 0, 'a')] },
      1,
    )
    expect(effectsOf(heard, 'broadcast')).toEqual([])
  })
})

describe('bad input is rejected and changes nothing', () => {
  const core = makeCore(FIVE, { ...SLOW, maxMembers: 8 })
  const ping = firstPing(core)
  advance(core, ping.at + 260) // in the indirect phase, with relayers asked

  const huge = Array.from({ length: 1_025 }, (_, i) => alive(`n${i}`, 0))
  const cases: [string, MembershipEvent, MembershipRejectionReason][] = [
    ['not an object', raw(null), 'invalid-event'],
    ['an unknown type', raw({ type: 'explode' }), 'invalid-event'],
    ['no type', raw({}), 'invalid-event'],
    [
      'a ping from ourselves',
      raw({ type: 'ping-received', from: 'me', probeId: 1, updates: [] }),
      'from-self',
    ],
    [
      'a ping with a NaN probe id',
      raw({ type: 'ping-received', from: 'a', probeId: NaN, updates: [] }),
      'invalid-event',
    ],
    [
      'a ping with a negative probe id',
      raw({ type: 'ping-received', from: 'a', probeId: -1, updates: [] }),
      'invalid-event',
    ],
    [
      'a ping without updates',
      raw({ type: 'ping-received', from: 'a', probeId: 1 }),
      'invalid-event',
    ],
    [
      'a ping from nobody',
      raw({ type: 'ping-received', probeId: 1, updates: [] }),
      'invalid-event',
    ],
    [
      'updates that are not an array',
      raw({ type: 'updates-received', from: 'a', updates: 'x' }),
      'invalid-event',
    ],
    [
      'an update with a NaN incarnation',
      raw({
        type: 'updates-received',
        from: 'a',
        updates: [rawUpdate({ kind: 'alive', id: 'q', incarnation: NaN, addrs: [] })],
      }),
      'invalid-update',
    ],
    [
      'an update of an unknown kind',
      raw({
        type: 'updates-received',
        from: 'a',
        updates: [rawUpdate({ kind: 'undead', id: 'b', incarnation: 1 })],
      }),
      'invalid-update',
    ],
    [
      'a suspect without from',
      raw({
        type: 'updates-received',
        from: 'a',
        updates: [rawUpdate({ kind: 'suspect', id: 'b', incarnation: 1 })],
      }),
      'invalid-update',
    ],
    [
      'one bad update among good ones',
      raw({
        type: 'updates-received',
        from: 'a',
        updates: [suspect('b', 0, 'a'), rawUpdate({ kind: 'dead', id: 'c' })],
      }),
      'invalid-update',
    ],
    [
      'an alive with garbage addrs',
      raw({
        type: 'updates-received',
        from: 'a',
        updates: [rawUpdate({ kind: 'alive', id: 'q', incarnation: 0, addrs: [{}] })],
      }),
      'invalid-update',
    ],
    [
      'a forged death far above the known incarnation',
      raw({ type: 'updates-received', from: 'a', updates: [dead('b', 2 ** 40, 'a')] }),
      'implausible-incarnation',
    ],
    [
      'a forged suspicion of us far ahead',
      raw({ type: 'updates-received', from: 'a', updates: [suspect('me', 2 ** 40, 'a')] }),
      'implausible-incarnation',
    ],
    [
      'too many updates',
      raw({ type: 'updates-received', from: 'a', updates: huge }),
      'too-many-updates',
    ],
    [
      'more members than allowed',
      raw({
        type: 'sync-received',
        from: 'a',
        updates: [alive('n1', 0), alive('n2', 0), alive('n3', 0), alive('n4', 0)],
        reply: false,
      }),
      'too-many-members',
    ],
    [
      'a sync with a non-boolean reply',
      raw({ type: 'sync-received', from: 'a', updates: [], reply: 'yes' }),
      'invalid-event',
    ],
    [
      'a ping-req about ourselves',
      raw({ type: 'ping-req-received', from: 'a', target: 'me', probeId: 1 }),
      'invalid-event',
    ],
    [
      'a ping-req about the requester',
      raw({ type: 'ping-req-received', from: 'a', target: 'a', probeId: 1 }),
      'invalid-event',
    ],
    [
      'a ping-req without target',
      raw({ type: 'ping-req-received', from: 'a', probeId: 1 }),
      'invalid-event',
    ],
    [
      'an ack with a negative rtt',
      raw({ type: 'ack-received', from: 'a', probeId: 99, updates: [], rttMs: -1 }),
      'invalid-event',
    ],
    [
      'an ack for our probe from a stranger',
      raw({ type: 'ack-received', from: 'zz', probeId: ping.probeId, updates: [] }),
      'unexpected-ack',
    ],
    [
      'a nack from someone not asked',
      raw({ type: 'nack-received', from: ping.to, probeId: ping.probeId }),
      'unexpected-nack',
    ],
    ['a connecting notice without a probe id', raw({ type: 'ping-connecting' }), 'invalid-event'],
    ['a sent notice with a bad probe id', raw({ type: 'ping-sent', probeId: -1 }), 'invalid-event'],
    ['a negative lag', raw({ type: 'local-health', lagMs: -5 }), 'invalid-event'],
    ['a NaN lag', raw({ type: 'local-health', lagMs: NaN }), 'invalid-event'],
    [
      'a discovery with bad addrs',
      raw({ type: 'peer-discovered', id: 'q', addrs: 'x' }),
      'invalid-event',
    ],
    [
      'a discovery with an over-long id',
      raw({ type: 'peer-discovered', id: 'q'.repeat(300), addrs: [] }),
      'invalid-event',
    ],
  ]

  it.each(cases)('%s', (_what, event, reason) => {
    const before = stateOf(core)
    const effects = core.handle(event, ping.at + 300)
    expect(effects).toEqual([expect.objectContaining({ type: 'rejected', reason })])
    expect(stateOf(core)).toEqual(before)
    expect(core.recentEvents().at(-1)).toMatchObject({ rejected: reason })
  })

  it('a non-finite time', () => {
    const before = stateOf(core)
    expect(core.handle({ type: 'tick' }, NaN)).toEqual([
      expect.objectContaining({ type: 'rejected', event: 'tick', reason: 'invalid-time' }),
    ])
    expect(stateOf(core)).toEqual(before)
  })

  it('garbage of any shape never throws, and a rejection never changes state', () => {
    const types = [
      'tick',
      'peer-discovered',
      'ping-received',
      'ping-req-received',
      'ack-received',
      'nack-received',
      'updates-received',
      'sync-received',
      'local-health',
      'leave',
      'other',
    ]
    const fuzzCore = makeCore(FIVE, { maxMembers: 20 })
    let t = 0
    fc.assert(
      fc.property(
        fc.oneof(
          fc.anything(),
          fc.record(
            {
              type: fc.constantFrom(...types),
              from: fc.oneof(fc.constantFrom('a', 'b', 'me', ''), fc.anything()),
              id: fc.oneof(fc.constantFrom('a', 'q', 'me'), fc.anything()),
              target: fc.oneof(fc.constantFrom('a', 'b', 'me'), fc.anything()),
              probeId: fc.oneof(fc.nat(50), fc.double(), fc.anything()),
              updates: fc.oneof(
                fc.array(
                  fc.record(
                    {
                      kind: fc.oneof(
                        fc.constantFrom('alive', 'suspect', 'dead', 'left'),
                        fc.anything(),
                      ),
                      id: fc.oneof(fc.constantFrom('a', 'b', 'me', 'q'), fc.anything()),
                      incarnation: fc.oneof(fc.nat(5), fc.double(), fc.anything()),
                      from: fc.oneof(fc.constantFrom('a', 'c'), fc.anything()),
                      addrs: fc.oneof(fc.constant(['/x']), fc.anything()),
                    },
                    { requiredKeys: [] },
                  ),
                  { maxLength: 4 },
                ),
                fc.anything(),
              ),
              addrs: fc.oneof(fc.constant(['/y']), fc.anything()),
              reply: fc.oneof(fc.boolean(), fc.anything()),
              lagMs: fc.oneof(fc.nat(1000), fc.double(), fc.anything()),
              rttMs: fc.oneof(fc.nat(10), fc.anything()),
            },
            { requiredKeys: ['type'] },
          ),
        ),
        fc.nat(300),
        (event, dt) => {
          t += dt
          const before = stateOf(fuzzCore)
          let effects: MembershipEffect[] = []
          expect(() => {
            effects = fuzzCore.handle(event as MembershipEvent, t)
          }).not.toThrow()
          if (effects[0]?.type === 'rejected') {
            expect(effects).toHaveLength(1)
            expect(stateOf(fuzzCore)).toEqual(before)
          }
        },
      ),
      { numRuns: 2_000, seed: 7 },
    )
  })
})

describe('configuration and bookkeeping', () => {
  it.each([
    [{ id: '' }],
    [{ id: 'me', probeIntervalMs: 0 }],
    [{ id: 'me', probeTimeoutMs: NaN }],
    [{ id: 'me', suspicionMinMs: 5_000, suspicionMaxMs: 1_000 }],
    [{ id: 'me', indirectProbes: 1.5 }],
    [{ id: 'me', incarnation: -1 }],
    [{ id: 'me', addrs: [''] }],
    [{ id: 'me', maxMembers: 0 }],
  ])('refuses config %j', (config) => {
    expect(() => new Membership(config, { rng: seededRng(1) })).toThrow(
      InvalidMembershipConfigError,
    )
  })

  it('keeps a bounded log of the events it handled', () => {
    const core = makeCore(['a'])
    for (let i = 0; i < 300; i++) core.handle({ type: 'local-health', lagMs: 0 }, i)
    expect(core.recentEvents()).toHaveLength(256)
    expect(core.recentEvents().at(-1)).toMatchObject({ now: 299, type: 'local-health', effects: 0 })
  })

  it('nextDeadline is when a tick would act, and the snapshot is plain data', () => {
    const core = makeCore(FIVE)
    const at = core.nextDeadline() as number
    expect(core.handle({ type: 'tick' }, at - 1)).toEqual([])
    expect(effectsOf(core.handle({ type: 'tick' }, at), 'send-ping')).toHaveLength(1)
    const snap = core.snapshot()
    expect(JSON.parse(JSON.stringify(snap))).toEqual(snap)
    expect(snap.probes).toHaveLength(1)
  })
})
