/**
 * The owner's scheduler places invocations on worker hosts across the mesh: every peer's
 * worker runs some, each invocation runs exactly once, and outputs are right.
 */
import { readFile } from 'node:fs/promises'
import { join } from 'node:path'
import { afterAll, beforeAll, describe, expect, it } from 'vitest'
import { metricValue } from './support/metrics.js'
import { allSeeAll, startMesh, stopAll, tempDir, waitFor, type TestPeer } from './support/mesh.js'

const OWNER = 'spread'
const FUNCTIONS = 20
const INVOCATIONS = 500
const IN_FLIGHT = 24

/** Appends `<id> <pid>` to the journal named in its input, then answers from its input. */
function functionSource(index: number): string {
  return `import { appendFileSync } from 'node:fs'
export default async (input, context) => {
  appendFileSync(input.journal, context.invocationId + ' ' + process.pid + '\\n')
  return { fn: ${index}, doubled: input.n * 2 }
}`
}

async function post(peer: TestPeer, path: string, body: unknown) {
  const res = await fetch(`${peer.httpUrl}${path}`, {
    method: 'POST',
    headers: { 'content-type': 'application/json' },
    body: JSON.stringify(body),
  })
  return { status: res.status, body: (await res.json()) as Record<string, unknown> }
}

describe('placement across the mesh', () => {
  let peers: TestPeer[] = []
  let journalDir = ''

  beforeAll(async () => {
    peers = await startMesh(3, { workerMemoryMb: 1024 })
    journalDir = await tempDir('chorus-journal-')
    await waitFor('every peer to see all three alive', () => allSeeAll(peers), 15_000)
  }, 30_000)

  afterAll(async () => {
    await stopAll(peers)
  })

  it(`runs ${INVOCATIONS} invocations of ${FUNCTIONS} functions on every peer's worker, each exactly once`, async () => {
    const deployer = peers[0] as TestPeer
    for (let i = 0; i < FUNCTIONS; i++) {
      const answer = await post(deployer, `/v1/owners/${OWNER}/functions`, {
        name: `f${i}`,
        runtime: 'nodejs',
        code: functionSource(i),
        memoryMb: 64,
        concurrency: 4,
      })
      expect(answer.status).toBe(201)
    }
    await waitFor('every function on every peer', async () => {
      const lists = await Promise.all(
        peers.map(async (p) => {
          const res = await fetch(`${p.httpUrl}/v1/owners/${OWNER}/functions`)
          return res.ok ? ((await res.json()) as { functions: unknown[] }).functions.length : 0
        }),
      )
      return lists.every((n) => n === FUNCTIONS)
    })

    const journal = join(journalDir, 'executions.log')
    const answers: { n: number; fn: number; body: Record<string, unknown> }[] = []
    let next = 0
    const worker = async () => {
      while (next < INVOCATIONS) {
        const n = next++
        const fn = n % FUNCTIONS
        const via = peers[n % peers.length] as TestPeer
        const answer = await post(via, `/v1/owners/${OWNER}/functions/f${fn}/invocations`, {
          input: { journal, n },
        })
        answers.push({ n, fn, body: answer.body })
      }
    }
    await Promise.all(Array.from({ length: IN_FLIGHT }, worker))

    expect(answers).toHaveLength(INVOCATIONS)
    for (const { n, fn, body } of answers) {
      expect(body.status, JSON.stringify(body)).toBe('succeeded')
      expect(body.output).toEqual({ fn, doubled: n * 2 })
    }
    const ids = answers.map((a) => a.body.id as string)
    expect(new Set(ids).size).toBe(INVOCATIONS)

    // Each invocation ran exactly once, by the function's own record.
    const lines = (await readFile(journal, 'utf8')).trim().split('\n')
    const ran = lines.map((line) => line.split(' ')[0])
    expect(ran).toHaveLength(INVOCATIONS)
    expect(new Set(ran)).toEqual(new Set(ids))

    // Every peer's worker ran some, and the answers say where each ran.
    const executed = await Promise.all(
      peers.map(async (p) =>
        metricValue(await (await fetch(`${p.httpUrl}/metrics`)).text(), 'chorus_executions_total'),
      ),
    )
    expect(executed.reduce((a, b) => a + b, 0)).toBe(INVOCATIONS)
    for (const count of executed) expect(count).toBeGreaterThan(0)
    const ranOn = new Map<string, number>()
    for (const { body } of answers) {
      const peerId = body.peerId as string
      ranOn.set(peerId, (ranOn.get(peerId) ?? 0) + 1)
    }
    expect(peers.map((p) => ranOn.get(p.peerId) ?? 0)).toEqual(executed)
  }, 120_000)

  it('walks on to another worker when a worker answers busy (its memory is held by another owner)', async () => {
    const deployer = peers[0] as TestPeer
    const release = join(journalDir, 'release')
    const hog = await post(deployer, '/v1/owners/hog/functions', {
      name: 'hold',
      runtime: 'nodejs',
      memoryMb: 1024,
      code: `import { existsSync } from 'node:fs'
export default async (input) => {
  while (!existsSync(input.release)) await new Promise((r) => setTimeout(r, 20))
  return 'released'
}`,
    })
    expect(hog.status).toBe(201)
    for (let i = 0; i < 6; i++) {
      const answer = await post(deployer, `/v1/owners/guest/functions`, {
        name: `g${i}`,
        runtime: 'nodejs',
        memoryMb: 256,
        code: `export default async () => process.pid`,
      })
      expect(answer.status).toBe(201)
    }
    await waitFor('the functions on every peer', async () => {
      const counts = await Promise.all(
        peers.map(async (p) => {
          const res = await fetch(`${p.httpUrl}/v1/owners/guest/functions`)
          const hogRes = await fetch(`${p.httpUrl}/v1/owners/hog/functions/hold`)
          return res.ok && hogRes.ok
            ? ((await res.json()) as { functions: unknown[] }).functions.length
            : 0
        }),
      )
      return counts.every((n) => n === 6)
    })

    // One invocation of `hold` takes a whole worker's memory until it is released.
    const held = await post(deployer, '/v1/owners/hog/functions/hold/invocations', {
      input: { release },
      wait: false,
    })
    expect(held.status).toBe(202)
    const heldId = held.body.id as string
    const running = await waitFor('hold to run', async () => {
      const res = await fetch(`${deployer.httpUrl}/v1/invocations/${encodeURIComponent(heldId)}`)
      const view = (await res.json()) as { status: string; peerId?: string }
      return view.status === 'running' ? view : undefined
    })
    const full = running.peerId
    expect(peers.map((p) => p.peerId)).toContain(full)

    try {
      // guest's scheduler knows nothing of hog's host: the full worker refuses, busy.
      const answers = await Promise.all(
        Array.from({ length: 6 }, (_, i) =>
          post(peers[i % 3] as TestPeer, `/v1/owners/guest/functions/g${i}/invocations`, {
            input: null,
          }),
        ),
      )
      for (const answer of answers) {
        expect(answer.body.status, JSON.stringify(answer.body)).toBe('succeeded')
        expect(answer.body.peerId).not.toBe(full)
      }
    } finally {
      const { writeFile } = await import('node:fs/promises')
      await writeFile(release, '')
    }
    const refused = await Promise.all(
      peers.map(async (p) =>
        metricValue(
          await (await fetch(`${p.httpUrl}/metrics`)).text(),
          'chorus_dispatches_refused_total',
          { worker: full ?? '' },
        ),
      ),
    )
    expect(refused.reduce((a, b) => a + b, 0)).toBeGreaterThan(0)
    const done = await waitFor('hold to finish', async () => {
      const res = await fetch(`${deployer.httpUrl}/v1/invocations/${encodeURIComponent(heldId)}`)
      const view = (await res.json()) as { status: string; output?: unknown }
      return view.status === 'succeeded' ? view : undefined
    })
    expect(done.output).toBe('released')
  }, 60_000)
})

describe("placement across the mesh with OpenWhisk's walk (--placement openwhisk)", () => {
  let peers: TestPeer[] = []
  let journalDir = ''

  beforeAll(async () => {
    peers = await startMesh(3, { workerMemoryMb: 1024, placement: 'openwhisk' })
    journalDir = await tempDir('chorus-journal-')
    await waitFor('every peer to see all three alive', () => allSeeAll(peers), 15_000)
  }, 30_000)

  afterAll(async () => {
    await stopAll(peers)
  })

  it('runs every invocation exactly once, on workers of several peers', async () => {
    const deployer = peers[0] as TestPeer
    const functions = 12
    for (let i = 0; i < functions; i++) {
      const answer = await post(deployer, `/v1/owners/walk/functions`, {
        name: `w${i}`,
        runtime: 'nodejs',
        code: functionSource(i),
        memoryMb: 64,
        concurrency: 8,
      })
      expect(answer.status).toBe(201)
    }
    const journal = join(journalDir, 'walk.log')
    const answers = await Promise.all(
      Array.from({ length: 72 }, (_, n) =>
        post(peers[n % 3] as TestPeer, `/v1/owners/walk/functions/w${n % functions}/invocations`, {
          input: { journal, n },
        }).then((answer) => ({ n, body: answer.body })),
      ),
    )
    for (const { n, body } of answers) {
      expect(body.status, JSON.stringify(body)).toBe('succeeded')
      expect(body.output).toEqual({ fn: n % functions, doubled: n * 2 })
    }
    const ran = (await readFile(journal, 'utf8'))
      .trim()
      .split('\n')
      .map((l) => l.split(' ')[0])
    expect(ran.sort()).toEqual(answers.map((a) => a.body.id as string).sort())
    expect(new Set(answers.map((a) => a.body.peerId)).size).toBeGreaterThan(1)
  }, 60_000)
})
