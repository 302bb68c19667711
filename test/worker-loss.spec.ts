/**
 * A worker peer dies (SIGKILL) while it runs invocations placed on it by another peer's
 * scheduler: each of them fails with a clear error (at most once: none runs again
 * elsewhere), the scheduler's peer carries on, and new work runs on a worker that lives.
 */
import { readFile, writeFile } from 'node:fs/promises'
import { join } from 'node:path'
import { afterAll, beforeAll, describe, expect, it } from 'vitest'
import {
  spawnPeer,
  startMesh,
  stopAll,
  tempDir,
  waitFor,
  type SpawnedPeer,
  type TestPeer,
} from './support/mesh.js'

interface View {
  id: string
  status: string
  peerId?: string
  output?: unknown
  error?: { code: string; message: string }
}

async function post(url: string, body: unknown): Promise<{ status: number; body: View }> {
  const res = await fetch(url, {
    method: 'POST',
    headers: { 'content-type': 'application/json' },
    body: JSON.stringify(body),
  })
  return { status: res.status, body: (await res.json()) as View }
}

async function view(peer: TestPeer, id: string): Promise<View> {
  const res = await fetch(`${peer.httpUrl}/v1/invocations/${encodeURIComponent(id)}`)
  return (await res.json()) as View
}

/** Records that it started, then waits for its release file. */
const HOLD = `import { appendFileSync, existsSync } from 'node:fs'
export default async (input, context) => {
  appendFileSync(input.journal, context.invocationId + '\\n')
  while (!existsSync(input.release)) await new Promise((r) => setTimeout(r, 20))
  return 'released'
}`

const COUNT = 4

describe('a worker peer that dies mid-run', () => {
  // Too little worker memory to host the function: only the spawned peers can run it.
  let peers: TestPeer[] = []
  const spawned: SpawnedPeer[] = []
  let dir = ''

  beforeAll(async () => {
    dir = await tempDir('chorus-loss-')
    peers = await startMesh(2, { workerMemoryMb: 64 })
    spawned.push(await spawnPeer(['--join', peers[0]?.multiaddrs[0] ?? '']))
  }, 60_000)

  afterAll(async () => {
    await Promise.all(spawned.map((p) => p.kill()))
    await stopAll(peers)
  })

  it('fails what it ran with a clear error, once, and new work runs on a live worker', async () => {
    const [a] = peers as [TestPeer, TestPeer]
    const doomed = spawned[0] as SpawnedPeer
    const offersItsWorker = () =>
      a.api
        .peers()
        .some(
          (m) =>
            m.peerId === doomed.peerId &&
            m.state === 'alive' &&
            (m.load as { workerCapacityMb?: number } | undefined)?.workerCapacityMb === 2048,
        )
    await waitFor('the spawned peer to offer its worker to the others', offersItsWorker)
    const deployed = await post(`${a.httpUrl}/v1/owners/loss/functions`, {
      name: 'hold',
      runtime: 'nodejs',
      code: HOLD,
      memoryMb: 128,
      concurrency: COUNT,
    })
    expect(deployed.status).toBe(201)
    await waitFor('the function at the spawned peer', async () => {
      const res = await fetch(`${doomed.httpUrl}/v1/owners/loss/functions/hold`)
      return res.ok
    })

    // Under load the spawned peer may have been suspected meanwhile: a suspect worker is not
    // eligible, and the scheduler would place by its forced fallback on a peer that is.
    await waitFor(
      'the spawned peer to be alive with its worker, as the invocations go out',
      offersItsWorker,
    )
    const journal = join(dir, 'journal')
    const release = join(dir, 'release')
    const ids: string[] = []
    for (let i = 0; i < COUNT; i++) {
      const queued = await post(`${a.httpUrl}/v1/owners/loss/functions/hold/invocations`, {
        input: { journal, release },
        wait: false,
      })
      expect(queued.status).toBe(202)
      ids.push(queued.body.id)
    }
    // Under load a dispatch may first go to an entry peer whose worker is too small for it,
    // which refuses it; while it walks on, its view names the scheduler's peer. Wait for all
    // to run where they can: the journal and the failures below prove they ran there.
    const names = { a: a.peerId, b: peers[1]?.peerId, doomed: doomed.peerId }
    await waitFor(
      `every invocation to run on the spawned peer (${JSON.stringify(names)})`,
      async () => {
        const views = await Promise.all(ids.map((id) => view(a, id)))
        return views.every((v) => v.status === 'running' && v.peerId === doomed.peerId)
      },
    )
    await waitFor('every invocation to have started in its function host', async () => {
      const lines = await readFile(journal, 'utf8').catch(() => '')
      return lines.trim().split('\n').length === COUNT
    })

    await doomed.kill('SIGKILL')
    const failed = await waitFor('every invocation to fail', async () => {
      const views = await Promise.all(ids.map((id) => view(a, id)))
      return views.every((v) => v.status === 'failed') ? views : undefined
    })
    for (const v of failed) {
      // A network fault or a lost worker, whichever is noticed first: never the function's.
      expect(['peer-unreachable', 'worker-lost'], JSON.stringify(v)).toContain(v.error?.code)
      expect(v.error?.message).toMatch(/worker|did not answer|offline|closed/i)
      expect(v.error?.message).toContain(doomed.peerId)
    }
    // Each ran once, on the dead peer; none was started again elsewhere.
    const started = (await readFile(journal, 'utf8')).trim().split('\n')
    expect(started.sort()).toEqual([...ids].sort())

    // The peers carry on: new work runs on a worker that lives.
    const fresh = await spawnPeer(['--join', a.multiaddrs[0] ?? ''])
    spawned.push(fresh)
    await writeFile(release, '')
    const answer = await waitFor(
      'an invocation to run on the new worker',
      async () => {
        const res = await post(`${a.httpUrl}/v1/owners/loss/functions/hold/invocations`, {
          input: { journal, release },
        })
        return res.body.status === 'succeeded' ? res.body : undefined
      },
      30_000,
      200,
    )
    expect(answer.output).toBe('released')
    expect(answer.peerId).toBe(fresh.peerId)
  }, 90_000)
})
