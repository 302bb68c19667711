/**
 * The scenarios: how the mesh starts, what the clients do, and which faults strike when. Each
 * schedules its events on the world's virtual clock; `runScenario` then runs the clock to the
 * end, lets the mesh go quiet, and checks that nothing accepted was lost.
 */
import type { SimWorld } from './world.js'

export const SCENARIOS = [
  'steady',
  'mass-join',
  'crash',
  'partition-heal',
  'churn',
  'stall',
] as const
export type ScenarioName = (typeof SCENARIOS)[number]

/** What a scenario did, for the table. */
export interface ScenarioLog {
  readonly events: string[]
  /** When the last peer joins (virtual ms): a full view is timed from then. */
  lastJoinAt: number
}

function shuffled(world: SimWorld, xs: readonly string[]): string[] {
  const out = [...xs]
  for (let i = out.length - 1; i > 0; i--) {
    const j = Math.floor(world.rng.next() * (i + 1))
    ;[out[i], out[j]] = [out[j] as string, out[i] as string]
  }
  return out
}

export function setUpScenario(world: SimWorld, name: ScenarioName): ScenarioLog {
  const log: ScenarioLog = { events: [], lastJoinAt: 0 }
  const { peers, seconds } = world.options
  const end = seconds * 1000
  const clientsUntil = Math.max(end * 0.6, end - 8_000)
  /** Acts at `ms`; a fault worth a line in the table says `what` it is. */
  const at = (ms: number, what: string | undefined, act: () => void) =>
    world.time.after(ms, () => {
      if (what !== undefined) log.events.push(`${(ms / 1000).toFixed(1)}s ${what}`)
      act()
    })
  world.startSampling(1_000)
  switch (name) {
    case 'steady':
      world.addFormedMesh(peers)
      world.startClients(1_000, clientsUntil)
      break
    case 'mass-join': {
      const first = Math.max(2, Math.floor(peers / 10))
      world.addFormedMesh(first)
      // Joiners name a seed peer, as operators pass `--join` one of the mesh's first peers.
      const seeds = [...world.peerIds()]
      const window = Math.min(10_000, end / 3)
      log.lastJoinAt = 1_000 + window
      for (let i = first; i < peers; i++) {
        at(1_000 + world.rng.next() * window, undefined, () => world.addPeer([world.pick(seeds)]))
      }
      log.events.push(
        `${first} peers formed; ${peers - first} join over ${(window / 1000).toFixed(0)}s, each through one of them`,
      )
      world.startClients(1_000, clientsUntil)
      break
    }
    case 'crash':
      world.addFormedMesh(peers)
      world.startClients(1_000, clientsUntil)
      at(end / 3, `${Math.floor(peers / 10)} peers crash`, () => {
        for (const id of shuffled(world, world.peerIds()).slice(0, Math.floor(peers / 10)))
          world.crash(id)
      })
      break
    case 'partition-heal':
      world.addFormedMesh(peers)
      world.startClients(1_000, clientsUntil)
      at(end / 4, `partition: 30% cut off`, () =>
        world.partition(shuffled(world, world.peerIds()).slice(0, Math.floor(peers * 0.3))),
      )
      at(end / 2, 'healed', () => world.heal())
      break
    case 'churn':
      world.addFormedMesh(peers)
      world.startClients(1_000, clientsUntil)
      for (let t = 2_000; t < clientsUntil; t += 1_000) {
        at(t, undefined, () => {
          const running = world.peerIds().filter((id) => !world.peer(id)?.leaving)
          world.leave(world.pick(running))
          world.addPeer([world.pick(running)])
        })
      }
      log.events.push('each second one peer leaves gracefully and one joins')
      break
    case 'stall':
      world.addFormedMesh(peers)
      world.startClients(1_000, clientsUntil)
      for (let t = 3_000; t < clientsUntil; t += 5_000) {
        at(t, undefined, () => {
          world.stall(world.pick(world.peerIds()), 2_000)
        })
      }
      log.events.push('every 5 s one peer stalls for 2 s (a long pause, SIGSTOP)')
      break
  }
  return log
}
