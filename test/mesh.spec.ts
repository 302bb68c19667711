/**
 * The peer mesh for real: libp2p peers on 127.0.0.1 in this process, joined through one
 * bootstrap peer.
 */
import { afterAll, beforeAll, describe, expect, it } from 'vitest'
import { metricSum } from './support/metrics.js'
import { allSeeAll, startMesh, stopAll, waitFor, type TestPeer } from './support/mesh.js'

describe('a mesh of five peers', () => {
  let peers: TestPeer[] = []

  beforeAll(async () => {
    peers = await startMesh(5)
  }, 30_000)

  afterAll(async () => {
    await stopAll(peers)
  })

  it('every peer comes to see all five alive', async () => {
    await waitFor('every peer to see all five alive', () => allSeeAll(peers), 20_000)
    // Not a star: peers talk to each other, not only to the bootstrap peer.
    const last = peers[4] as TestPeer
    expect(last.api.peers().find((p) => p.peerId === peers[3]?.peerId)?.state).toBe('alive')
    // Every address listed is one `--join` takes, the other peers' as well as its own.
    for (const member of last.api.peers()) {
      expect(member.addrs.length, member.peerId).toBeGreaterThan(0)
      for (const addr of member.addrs) expect(addr).toMatch(new RegExp(`/p2p/${member.peerId}$`))
    }
  })

  it('runs 1,000 invocations for 20 owners sent to random peers, each exactly once', async () => {
    const executionsBefore = await metricSum(peers, 'chorus_executions_total')
    const jobs = Array.from({ length: 1000 }, (_, i) => ({
      owner: `owner-${i % 20}`,
      n: i,
      via: peers[(i * 7) % 5] as TestPeer,
    }))
    const results = []
    for (let start = 0; start < jobs.length; start += 100) {
      results.push(
        ...(await Promise.all(
          jobs
            .slice(start, start + 100)
            .map((j) => j.via.api.invoke({ owner: j.owner, fn: 'echo', input: { n: j.n } })),
        )),
      )
    }
    expect(results.every((r) => r.status === 'succeeded')).toBe(true)
    expect(results.map((r) => (r.output as { n: number }).n)).toEqual(jobs.map((j) => j.n))
    expect(new Set(results.map((r) => r.id)).size).toBe(1000)
    const executions = await metricSum(peers, 'chorus_executions_total')
    expect(executions - executionsBefore).toBe(1000)
    // One responsible per owner, spread over the mesh.
    const responsible = new Map<string, string[]>()
    for (const p of peers)
      for (const s of p.api.schedulers(true))
        responsible.set(s.owner, [...(responsible.get(s.owner) ?? []), p.peerId])
    expect(responsible.size).toBe(20)
    expect([...responsible.values()].every((ps) => ps.length === 1)).toBe(true)
    expect(new Set([...responsible.values()].flat()).size).toBeGreaterThan(1)
  }, 60_000)

  it('finds an invocation from any peer', async () => {
    const queued = await peers[1]!.api.invoke({
      owner: 'status',
      fn: 'sleep',
      input: { ms: 100 },
      wait: false,
    })
    expect(queued.status).toBe('queued')
    for (const p of peers) {
      const seen = await p.api.invocation(queued.id)
      expect(['queued', 'running', 'succeeded']).toContain(seen?.status)
    }
    const done = await waitFor('the sleep to finish', async () => {
      const v = await peers[4]!.api.invocation(queued.id)
      return v?.status === 'succeeded' ? v : undefined
    })
    expect(done.output).toEqual({ sleptMs: 100 })
    expect(await peers[2]!.api.invocation(`${peers[2]!.peerId}.nope.0`)).toBeUndefined()
  })

  it('first requests for a new owner at all five peers at once end with exactly one responsible, 200 times over', async () => {
    for (let round = 0; round < 200; round++) {
      const owner = `race-${round}`
      const answers = await Promise.all(
        peers.map((p) => p.api.invoke({ owner, fn: 'echo', input: round })),
      )
      expect(answers.every((a) => a.status === 'succeeded' && a.output === round)).toBe(true)
      const holders = peers.filter((p) => p.api.schedulers(true).some((s) => s.owner === owner))
      expect(holders.length, `round ${round}`).toBe(1)
      expect(new Set(answers.map((a) => a.peerId))).toEqual(new Set([holders[0]?.peerId]))
    }
  }, 120_000)
})
