/**
 * Choreographies on a mesh of three peers, for real: deployed over HTTP at one peer,
 * invoked at another, driven by the owner's choreography scheduler, each step scheduled by
 * its function's scheduler and run on some peer's worker, with a per-step trace.
 */
import { join } from 'node:path'
import { afterAll, beforeAll, describe, expect, it } from 'vitest'
import type { RunTrace, StepTrace } from '../packages/node/src/choreography/index.js'
import { allSeeAll, startMesh, stopAll, tempDir, waitFor, type TestPeer } from './support/mesh.js'
import { call, type Answer } from './support/http.js'

const OWNER = 'chor'

const FUNCTIONS: Record<string, string> = {
  classify: `export default async (input) => ({ ...input, mode: input.numbers.length > 1 ? 'many' : 'one' })`,
  double: `export default async (x) => x * 2`,
  inc: `export default async (x) => x + 1`,
  total: `export default async (pairs) => pairs.flat().reduce((a, b) => a + b, 0)`,
  count: `export default async (input) => input.numbers.length`,
  // Fails its first call for each input, then succeeds: a retry's work.
  flaky: `import { existsSync, writeFileSync } from 'node:fs'
export default async (input) => {
  if (!existsSync(input.marker)) { writeFileSync(input.marker, ''); throw new Error('first call fails') }
  return 'recovered'
}`,
  slow: `export default async () => { await new Promise((r) => setTimeout(r, 5000)); return 'late' }`,
}

/** Every step of a trace, depth first. */
function stepsOf(step: StepTrace): StepTrace[] {
  return [step, ...(step.children ?? []).flatMap(stepsOf)]
}

describe('choreographies on a mesh of three peers', () => {
  let peers: TestPeer[] = []
  let a: TestPeer
  let c: TestPeer

  beforeAll(async () => {
    peers = await startMesh(3)
    a = peers[0] as TestPeer
    c = peers[2] as TestPeer
    await waitFor('every peer to see all three alive', () => allSeeAll(peers), 15_000)
    for (const [name, code] of Object.entries(FUNCTIONS)) {
      const answer = await call(a, 'POST', `/v1/owners/${OWNER}/functions`, {
        name,
        runtime: 'nodejs',
        code,
        memoryMb: 64,
        concurrency: 4,
      })
      expect(answer.status).toBe(201)
    }
  }, 30_000)

  afterAll(async () => {
    await stopAll(peers)
  })

  /** Deploys at A and waits until every peer has the new revision. */
  async function deploy(name: string, definition: unknown): Promise<Answer> {
    const answer = await call(a, 'POST', `/v1/owners/${OWNER}/choreographies`, {
      name,
      definition,
    })
    expect(answer.status, JSON.stringify(answer.body)).toBe(201)
    await waitFor(`${name} on every peer`, async () => {
      const seen = await Promise.all(
        peers.map((p) => call(p, 'GET', `/v1/owners/${OWNER}/choreographies/${name}`)),
      )
      return seen.every((s) => s.body.revision === answer.body.revision)
    })
    return answer
  }

  it('runs sequence, choice, map and parallel to the right output, with a per-step trace', async () => {
    await deploy('pipeline', {
      sequence: [
        { name: 'classify', function: 'classify' },
        {
          choice: [
            {
              when: '$.mode == "many"',
              then: {
                sequence: [
                  {
                    name: 'each',
                    map: { parallel: [{ function: 'double' }, { function: 'inc' }] },
                    items: '$.numbers',
                  },
                  { name: 'total', function: 'total' },
                ],
              },
            },
          ],
          otherwise: { function: 'count' },
        },
      ],
    })
    // [1, 2, 3] → [[2, 2], [4, 3], [6, 4]] → 21
    const answer = await call(
      c,
      'POST',
      `/v1/owners/${OWNER}/choreographies/pipeline/invocations`,
      {
        input: { numbers: [1, 2, 3] },
      },
    )
    expect(answer.status, JSON.stringify(answer.body)).toBe(200)
    expect(answer.body.status).toBe('succeeded')
    expect(answer.body.output).toBe(21)

    const id = answer.body.id as string
    const view = await call(c, 'GET', `/v1/invocations/${encodeURIComponent(id)}`)
    expect(view.status).toBe(200)
    const trace = view.body.trace as RunTrace
    expect(trace.status).toBe('succeeded')
    const steps = stepsOf(trace.root)
    expect(steps.every((s) => s.status === 'succeeded' || s.status === 'skipped')).toBe(true)
    const choice = steps.find((s) => s.kind === 'choice')
    expect(choice?.branch).toBe(0)
    const map = steps.find((s) => s.name === 'each')
    expect(map?.items).toMatchObject({ total: 3, succeeded: 3 })
    const tasks = steps.flatMap((s) => s.tasks ?? [])
    // classify, 3 × (double, inc), total
    expect(tasks).toHaveLength(8)
    const peerIds = new Set(peers.map((p) => p.peerId))
    for (const task of tasks) {
      expect(task.status).toBe('succeeded')
      expect(peerIds.has(task.peerId ?? '')).toBe(true)
      expect(task.endedAt ?? 0).toBeGreaterThanOrEqual(task.invokedAt ?? Infinity)
    }

    // The other branch of the choice.
    const one = await call(a, 'POST', `/v1/owners/${OWNER}/choreographies/pipeline/invocations`, {
      input: { numbers: [7] },
    })
    expect(one.body).toMatchObject({ status: 'succeeded', output: 1 })
    const oneTrace = (
      await call(a, 'GET', `/v1/invocations/${encodeURIComponent(one.body.id as string)}`)
    ).body.trace as RunTrace
    expect(stepsOf(oneTrace.root).find((s) => s.kind === 'choice')?.branch).toBe('otherwise')
  }, 60_000)

  it('queues with wait: false, and the trace is there at the entry peer once it is done', async () => {
    await deploy('twice', { sequence: [{ function: 'double' }, { function: 'double' }] })
    const queued = await call(c, 'POST', `/v1/owners/${OWNER}/choreographies/twice/invocations`, {
      input: 5,
      wait: false,
    })
    expect(queued.status).toBe(202)
    const id = queued.body.id as string
    const done = await waitFor('the run to finish', async () => {
      const view = await call(c, 'GET', `/v1/invocations/${encodeURIComponent(id)}`)
      return view.body.status === 'succeeded' ? view.body : undefined
    })
    expect(done.output).toBe(20)
    expect((done.trace as RunTrace).root.children).toHaveLength(2)
  }, 30_000)

  it('retries a failing step, and fails a step past its timeout with a clear error', async () => {
    const dir = await tempDir('chorus-chor-')
    await deploy('patient', {
      sequence: [{ function: 'flaky', retries: 1 }],
    })
    const retried = await call(
      c,
      'POST',
      `/v1/owners/${OWNER}/choreographies/patient/invocations`,
      {
        input: { marker: join(dir, 'marker') },
      },
    )
    expect(retried.body).toMatchObject({ status: 'succeeded', output: 'recovered' })
    const trace = (
      await call(c, 'GET', `/v1/invocations/${encodeURIComponent(retried.body.id as string)}`)
    ).body.trace as RunTrace
    const flaky = stepsOf(trace.root).find((s) => s.fn === 'flaky')
    expect(flaky?.attempts).toBe(2)
    expect(flaky?.tasks?.map((t) => t.status)).toEqual(['failed', 'succeeded'])

    await deploy('hurried', { function: 'slow', timeoutMs: 300 })
    const started = performance.now()
    const late = await call(c, 'POST', `/v1/owners/${OWNER}/choreographies/hurried/invocations`, {})
    expect(performance.now() - started).toBeLessThan(4_000)
    expect(late.body.status).toBe('failed')
    expect((late.body.error as { message: string }).message).toMatch(/timeout/)
  }, 30_000)

  it('refuses bad definitions with 400 and every problem, deploying nothing', async () => {
    const before = await call(a, 'GET', `/v1/owners/${OWNER}/choreographies`)
    const unknownFn = await call(a, 'POST', `/v1/owners/${OWNER}/choreographies`, {
      name: 'broken',
      definition: { sequence: [{ function: 'nope' }, { map: { function: 'inc' }, items: '$..x' }] },
    })
    expect(unknownFn.status).toBe(400)
    const errors = (
      unknownFn.body.error as { details: { errors: { path: string; code: string }[] } }
    ).details.errors
    expect(errors.map((e) => e.path)).toEqual(
      expect.arrayContaining(['/definition/sequence/0/function', '/definition/sequence/1/items']),
    )

    await deploy('loop-a', { function: 'inc' })
    await deploy('loop-b', { choreography: 'loop-a' })
    const cycle = await call(a, 'POST', `/v1/owners/${OWNER}/choreographies`, {
      name: 'loop-a',
      definition: { choreography: 'loop-b' },
    })
    expect(cycle.status).toBe(400)
    expect(JSON.stringify(cycle.body)).toMatch(/cycle/)

    const after = await call(a, 'GET', `/v1/owners/${OWNER}/choreographies`)
    const names = (list: Answer) =>
      (list.body.choreographies as { name: string; revision: string }[]).map(
        (x) => `${x.name}@${x.revision}`,
      )
    expect(names(after).filter((n) => !n.startsWith('loop-'))).toEqual(names(before))
    expect(names(after).some((n) => n.startsWith('broken'))).toBe(false)

    const unknown = await call(
      c,
      'POST',
      `/v1/owners/${OWNER}/choreographies/ghost/invocations`,
      {},
    )
    expect(unknown.status).toBe(404)
    expect((unknown.body.error as { code: string }).code).toBe('unknown-choreography')
  }, 30_000)
})
