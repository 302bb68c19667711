/**
 * Peers as separate `chorus start` processes: the HTTP API end to end, and what happens
 * when the peer responsible for some owners is killed with SIGKILL.
 */
import { afterAll, beforeAll, describe, expect, it } from 'vitest'
import { spawnPeer, waitFor, type SpawnedPeer } from './support/mesh.js'

interface PeersBody {
  self: string
  peers: { peerId: string; state: string }[]
}
interface SchedulersBody {
  schedulers: { owner: string; peerId: string; epoch: number; guid: string }[]
}

async function getJson<T>(url: string): Promise<T> {
  const res = await fetch(url)
  if (!res.ok) throw new Error(`${url}: ${res.status} ${await res.text()}`)
  return (await res.json()) as T
}

async function invoke(peer: SpawnedPeer, owner: string, input: unknown) {
  const res = await fetch(`${peer.httpUrl}/v1/owners/${owner}/functions/echo/invocations`, {
    method: 'POST',
    headers: { 'content-type': 'application/json' },
    body: JSON.stringify({ input }),
  })
  return {
    status: res.status,
    body: (await res.json()) as { status: string; output?: unknown; peerId: string },
  }
}

describe('five peer processes', () => {
  const peers: SpawnedPeer[] = []

  beforeAll(async () => {
    const first = await spawnPeer([])
    peers.push(first)
    // Each is recorded as soon as it runs, so afterAll stops it even if another fails to start.
    await Promise.all(
      [1, 2, 3, 4].map(async () =>
        peers.push(await spawnPeer(['--join', first.multiaddrs[0] ?? ''])),
      ),
    )
  }, 60_000)

  afterAll(async () => {
    await Promise.all(peers.map((p) => p.kill()))
  })

  it('see each other alive over HTTP', async () => {
    await waitFor(
      'all five processes to see all five alive',
      async () => {
        const views = await Promise.all(
          peers.map((p) => getJson<PeersBody>(`${p.httpUrl}/v1/mesh/peers`)),
        )
        return views.every((v) => v.peers.filter((m) => m.state === 'alive').length === 5)
      },
      30_000,
    )
  })

  it('survive the SIGKILL of a responsible peer: others mark it dead, its owners run elsewhere', async () => {
    const owners = Array.from({ length: 10 }, (_, i) => `killme-${i}`)
    for (const [i, owner] of owners.entries()) {
      const { status, body } = await invoke(peers[i % 5] as SpawnedPeer, owner, { owner })
      expect(status).toBe(200)
      expect(body).toMatchObject({ status: 'succeeded', output: { owner } })
    }
    // Kill a peer that is responsible for some owners (not the bootstrap one).
    const locals = await Promise.all(
      peers.map((p) => getJson<SchedulersBody>(`${p.httpUrl}/v1/mesh/schedulers?local=1`)),
    )
    const victimIndex = locals.findIndex((l, i) => i > 0 && l.schedulers.length > 0)
    expect(victimIndex).toBeGreaterThan(0)
    const victim = peers[victimIndex] as SpawnedPeer
    const orphaned = locals[victimIndex]?.schedulers.map((s) => s.owner) ?? []
    await victim.kill('SIGKILL')
    const survivors = peers.filter((p) => p !== victim)
    await waitFor(
      'every survivor to mark the killed peer dead',
      async () => {
        const views = await Promise.all(
          survivors.map((p) => getJson<PeersBody>(`${p.httpUrl}/v1/mesh/peers`)),
        )
        return views.every((v) => v.peers.find((m) => m.peerId === victim.peerId)?.state === 'dead')
      },
      30_000,
    )
    for (const [i, owner] of orphaned.entries()) {
      const { status, body } = await invoke(survivors[i % survivors.length] as SpawnedPeer, owner, {
        again: owner,
      })
      expect(status).toBe(200)
      expect(body).toMatchObject({ status: 'succeeded', output: { again: owner } })
      expect(body.peerId).not.toBe(victim.peerId)
    }
  }, 90_000)
})
