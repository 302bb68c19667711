/**
 * N membership cores wired through a seeded simulated network on a virtual clock. Every
 * scenario runs over several seeds; a failure names the seed and the command that replays it
 * (GOSSIP_SEED=<seed> runs just that seed).
 */
import { describe, expect, it } from 'vitest'
import { SimulatedMesh, type SimulatedMeshOptions } from '../src/testing.js'

const REPLAY = process.env.GOSSIP_SEED === undefined ? undefined : Number(process.env.GOSSIP_SEED)

/** Runs `body` once per seed; a failure carries the seed and how to replay it. */
function scenario(name: string, seeds: readonly number[], body: (seed: number) => void): void {
  it(name, () => {
    for (const seed of REPLAY === undefined ? seeds : [REPLAY]) {
      try {
        body(seed)
      } catch (err) {
        if (err instanceof Error) {
          err.message +=
            `\n  seed ${seed}; replay: GOSSIP_SEED=${seed} npx vitest run ` +
            `packages/gossip/test/membership-sim.spec.ts -t ${JSON.stringify(name)}`
        }
        throw err
      }
    }
  })
}

const MESH: Omit<SimulatedMeshOptions, 'seed'> = {
  size: 20,
  startSpreadMs: 100,
  lossRate: 0.005,
  broadcastLossRate: 0.005,
}

/** Nothing refused, and every member event is a transition: never the same kind twice in a row. */
function expectSane(sim: SimulatedMesh): void {
  expect(sim.rejections, 'no core refused anything the mesh sent').toEqual([])
  const last = new Map<string, string>()
  for (const e of sim.events) {
    const key = `${e.observer}#${e.generation}→${e.id}`
    expect(last.get(key), `${key} reported ${e.kind} twice in a row at ${e.at}`).not.toBe(e.kind)
    last.set(key, e.kind)
  }
}

/** Runs until every live peer sees `n` alive members, or `limit`; returns the time it took. */
function runUntilAllAlive(sim: SimulatedMesh, n: number, limit: number): number {
  const start = sim.now
  while (sim.now - start < limit) {
    sim.runFor(10)
    if (sim.livePeers().every((p) => p.core.aliveCount() === n)) return sim.now - start
  }
  return Number.POSITIVE_INFINITY
}

describe('a mesh of 20 membership cores', () => {
  scenario('all learn all, from a single bootstrap peer', [1, 2, 3], (seed) => {
    const sim = new SimulatedMesh({ seed, ...MESH })
    const took = runUntilAllAlive(sim, 20, 5_000)
    // Serf: ≈ 0.4 s for 20 agents on loopback. Here peers start within 100 ms of each other.
    expect(took).toBeLessThanOrEqual(1_000)
    for (const p of sim.livePeers()) {
      for (const m of p.core.members()) expect(m.addrs).toEqual([SimulatedMesh.ADDR_PREFIX + m.id])
    }
    sim.runFor(10_000)
    expect(sim.events.filter((e) => e.kind !== 'joined')).toEqual([])
    expectSane(sim)
  })

  scenario(
    'a killed peer is declared dead by every other within 3 s, and no one else is',
    [1, 2, 3, 4, 5, 6, 7, 8, 9, 10],
    (seed) => {
      const sim = new SimulatedMesh({ seed, ...MESH })
      sim.runUntil(5_000 + seed * 37)
      const victim = `p${String((seed * 7) % 20).padStart(2, '0')}`
      const killedAt = sim.now
      sim.kill(victim)
      sim.runFor(6_000)
      for (const p of sim.livePeers()) {
        const at = sim.firstEvent(p.id, 'dead', victim, killedAt)
        expect(at, `${p.id} never declared ${victim} dead: ${sim.describe(victim)}`).toBeDefined()
        expect((at as number) - killedAt, `${p.id} took too long`).toBeLessThanOrEqual(3_000)
      }
      expect(sim.events.filter((e) => e.kind === 'dead' && e.id !== victim)).toEqual([])
      expectSane(sim)
    },
  )

  scenario(
    'a peer whose event loop blocks 400 ms every 2 s is never declared dead in 5 minutes',
    [1, 2],
    (seed) => {
      const sim = new SimulatedMesh({ seed, ...MESH, lossRate: seed === 1 ? 0 : 0.01 })
      sim.runUntil(2_000)
      sim.stall('p07', { periodMs: 2_000, durationMs: 400, offsetMs: 2_000 + seed * 113 })
      sim.runUntil(302_000)
      expect(sim.stalledDeliveries, 'the stalls really held messages back').toBeGreaterThan(300)
      const deaths = sim.events.filter((e) => e.kind === 'dead')
      expect(deaths, 'nobody, stalled or not, is declared dead').toEqual([])
      if (seed === 1) {
        // Without loss the 500 ms probe round covers the stall: not even a suspicion.
        expect(sim.events.filter((e) => e.kind === 'suspect')).toEqual([])
      }
      for (const p of sim.livePeers()) expect(p.core.aliveCount()).toBe(20)
      expectSane(sim)
    },
  )

  scenario('a restarted peer (same id, higher incarnation) comes back alive', [1, 2, 3], (seed) => {
    const sim = new SimulatedMesh({ seed, ...MESH })
    sim.runUntil(5_000)
    sim.kill('p05')
    sim.runFor(4_000)
    for (const p of sim.livePeers()) expect(p.core.member('p05')?.state).toBe('dead')
    const deadAt = sim.peer('p00').core.member('p05')?.incarnation as number
    // It restarts remembering nothing (incarnation 0): the others' table tells it it was
    // declared dead, and it refutes above that incarnation.
    sim.restart('p05', seed === 3 ? 'p11' : 'p00', 0)
    const restartedAt = sim.now
    const took = runUntilAllAlive(sim, 20, 3_000)
    expect(took, sim.describe('p05')).toBeLessThanOrEqual(1_000)
    for (const p of sim.livePeers(['p05'])) {
      expect(p.core.member('p05')?.incarnation).toBeGreaterThan(deadAt)
      expect(sim.firstEvent(p.id, 'alive', 'p05', restartedAt)).toBeDefined()
    }
    sim.runFor(5_000)
    expect(sim.events.filter((e) => e.at > restartedAt && e.kind === 'dead')).toEqual([])
    expectSane(sim)
  })

  scenario('a graceful leave is seen as left, never as a failure', [1, 2, 3], (seed) => {
    const sim = new SimulatedMesh({ seed, ...MESH })
    sim.runUntil(5_000)
    const leftAt = sim.now
    sim.inject('p03', { type: 'leave' })
    sim.runFor(50)
    for (const p of sim.livePeers(['p03'])) {
      expect(p.core.member('p03')?.state, `${p.id} after 50 ms`).toBe('left')
    }
    sim.kill('p03')
    sim.runFor(10_000)
    const about = sim.events.filter((e) => e.id === 'p03' && e.at >= leftAt)
    expect(about.every((e) => e.kind === 'left')).toBe(true)
    expect(about).toHaveLength(19)
    expectSane(sim)
  })

  scenario(
    'a peer cut off for 700 ms is suspected, refutes, and stays alive',
    [1, 2, 3],
    (seed) => {
      const sim = new SimulatedMesh({ seed, ...MESH })
      sim.runUntil(5_000)
      const cutAt = sim.now
      sim.isolate('p04', 700)
      sim.runFor(700)
      const suspicions = sim.events.filter((e) => e.kind === 'suspect' && e.id === 'p04')
      expect(suspicions.length, 'the cut was long enough to raise suspicion').toBeGreaterThan(0)
      sim.runFor(1_000)
      for (const p of sim.livePeers()) {
        expect(p.core.member('p04'), `${p.id}: ${sim.describe('p04')}`).toMatchObject({
          state: 'alive',
        })
      }
      expect(sim.peer('p04').core.incarnation).toBeGreaterThan(0)
      sim.runFor(10_000)
      expect(sim.events.filter((e) => e.kind === 'dead' && e.at >= cutAt)).toEqual([])
      expectSane(sim)
    },
  )

  it('the same seed replays the same run', () => {
    const run = () => {
      const sim = new SimulatedMesh({ seed: 42, ...MESH })
      sim.runUntil(3_000)
      sim.kill('p09')
      sim.runFor(4_000)
      return { events: sim.events, messages: sim.messages }
    }
    expect(run()).toEqual(run())
  })
})
