/**
 * Function execution, for real: functions deployed over HTTP to one peer of a mesh, invoked
 * through another, and run in function hosts (child processes) on the responsible peer.
 */
import { execFileSync } from 'node:child_process'
import { mkdir, readFile, rm, writeFile } from 'node:fs/promises'
import { join } from 'node:path'
import { afterAll, beforeAll, describe, expect, it } from 'vitest'
import { allSeeAll, startMesh, stopAll, tempDir, waitFor, type TestPeer } from './support/mesh.js'
import { call, type Answer } from './support/http.js'

const PID_FN = 'export default async (input) => ({ pid: process.pid, v: 1, input })'

describe('deployed functions on a mesh of three peers', () => {
  let peers: TestPeer[] = []
  let a: TestPeer
  let b: TestPeer

  beforeAll(async () => {
    peers = await startMesh(3)
    a = peers[0] as TestPeer
    b = peers[2] as TestPeer
    await waitFor('every peer to see all three alive', () => allSeeAll(peers), 15_000)
  }, 30_000)

  afterAll(async () => {
    await stopAll(peers)
  })

  /** Deploys at peer A and waits until every peer has the new revision. */
  async function deploy(owner: string, spec: Record<string, unknown>): Promise<Answer> {
    const answer = await call(a, 'POST', `/v1/owners/${owner}/functions`, spec)
    expect(answer.status).toBe(201)
    const revision = answer.body.revision
    await waitFor(`${owner}/${String(spec.name)} to reach every peer`, async () => {
      const seen = await Promise.all(
        peers.map((p) => call(p, 'GET', `/v1/owners/${owner}/functions/${String(spec.name)}`)),
      )
      return seen.every((s) => s.body.revision === revision)
    })
    return answer
  }

  async function invoke(via: TestPeer, owner: string, fn: string, input: unknown) {
    const started = performance.now()
    const answer = await call(via, 'POST', `/v1/owners/${owner}/functions/${fn}/invocations`, {
      input,
    })
    return { ...answer, ms: performance.now() - started }
  }

  it('runs a function deployed at A, invoked at B, where its scheduler lives: cold, then warm', async () => {
    const deployed = await deploy('acme', { name: 'pid', runtime: 'nodejs', code: PID_FN })
    expect(deployed.body).toMatchObject({ name: 'pid', version: 1 })
    expect(deployed.body.digest).toMatch(/^[0-9a-f]{64}$/)

    const cold = await invoke(b, 'acme', 'pid', { n: 1 })
    expect(cold.status).toBe(200)
    expect(cold.body).toMatchObject({ status: 'succeeded', output: { v: 1, input: { n: 1 } } })
    const ranAt = cold.body.peerId as string
    const responsible = peers.find((p) => p.peerId === ranAt) as TestPeer
    expect(
      responsible.api.schedulers(true).some((s) => s.owner === 'acme' && s.provider === 'mesh'),
    ).toBe(true)

    const warm = await invoke(b, 'acme', 'pid', { n: 2 })
    expect(warm.body).toMatchObject({ status: 'succeeded', peerId: ranAt })
    const pid = (cold.body.output as { pid: number }).pid
    expect((warm.body.output as { pid: number }).pid).toBe(pid)
    expect(warm.ms).toBeLessThan(cold.ms)

    // Builtins are untouched.
    const echo = await invoke(b, 'acme', 'echo', 'hi')
    expect(echo.body).toMatchObject({ status: 'succeeded', output: 'hi' })

    // A redeploy is a new version, run by a fresh host.
    const again = await deploy('acme', {
      name: 'pid',
      runtime: 'nodejs',
      code: PID_FN.replace('v: 1', 'v: 2'),
    })
    expect(again.body.version).toBe(2)
    const v2 = await invoke(a, 'acme', 'pid', null)
    expect(v2.body).toMatchObject({ status: 'succeeded', output: { v: 2 } })
    expect((v2.body.output as { pid: number }).pid).not.toBe(pid)

    const list = await call(b, 'GET', '/v1/owners/acme/functions')
    expect(list.status).toBe(200)
    expect(list.body.functions).toEqual([
      expect.objectContaining({ name: 'pid', version: 2, runtime: 'nodejs', provider: 'mesh' }),
    ])
  }, 20_000)

  it('fails an invocation whose function throws, or runs past its timeout, with a clear message', async () => {
    await deploy('globex', {
      name: 'boom',
      runtime: 'nodejs',
      code: "export default async () => { throw new Error('boom: no such widget') }",
    })
    await deploy('globex', {
      name: 'slow',
      runtime: 'nodejs',
      code: 'export default () => new Promise((resolve) => setTimeout(resolve, 10_000))',
      timeoutMs: 300,
    })
    const boom = await invoke(b, 'globex', 'boom', {})
    expect(boom.status).toBe(200)
    expect(boom.body.status).toBe('failed')
    expect((boom.body.error as { message: string }).message).toContain('boom: no such widget')

    const slow = await invoke(a, 'globex', 'slow', {})
    expect(slow.body.status).toBe('failed')
    expect((slow.body.error as { message: string }).message).toMatch(/timed out after 300 ms/)

    // The host survived neither; the peer survived both.
    const after = await invoke(b, 'globex', 'echo', 1)
    expect(after.body).toMatchObject({ status: 'succeeded', output: 1 })
  }, 20_000)

  it('runs a process function from a .tgz bundle, and a nodejs bundle', async () => {
    const dir = await tempDir()
    try {
      await mkdir(join(dir, 'src'))
      await writeFile(
        join(dir, 'src', 'server.mjs'),
        [
          "import { createServer } from 'node:http'",
          'createServer((req, res) => {',
          "  let body = ''",
          "  req.on('data', (d) => (body += d))",
          "  req.on('end', () => {",
          '    const { value } = JSON.parse(body)',
          "    res.setHeader('content-type', 'application/json')",
          '    res.end(JSON.stringify({ doubled: value * 2 }))',
          '  })',
          "}).listen(Number(process.env.PORT), '127.0.0.1')",
        ].join('\n'),
      )
      await writeFile(join(dir, 'src', 'index.js'), 'export default (x) => ({ bundled: x })\n')
      await writeFile(join(dir, 'src', 'package.json'), '{ "type": "module" }\n')
      execFileSync('tar', ['-czf', join(dir, 'b.tgz'), '-C', join(dir, 'src'), '.'])
      const codeBase64 = (await readFile(join(dir, 'b.tgz'))).toString('base64')
      await deploy('hooli', {
        name: 'double',
        runtime: 'process',
        codeBase64,
        command: [process.execPath, 'server.mjs'],
      })
      await deploy('hooli', { name: 'bundled', runtime: 'nodejs', codeBase64 })
      const doubled = await invoke(b, 'hooli', 'double', 21)
      expect(doubled.body).toMatchObject({ status: 'succeeded', output: { doubled: 42 } })
      const bundled = await invoke(a, 'hooli', 'bundled', 'x')
      expect(bundled.body).toMatchObject({ status: 'succeeded', output: { bundled: 'x' } })
    } finally {
      await rm(dir, { recursive: true, force: true })
    }
  }, 20_000)

  it('refuses bad definitions with 400 and a precise message, deploying nothing', async () => {
    const cases: [Record<string, unknown>, RegExp][] = [
      [{ name: 'f', runtime: 'nodejs' }, /needs 'code'/],
      [{ name: 'f', runtime: 'python', code: 'x' }, /runtime/],
      [{ name: 'f', runtime: 'nodejs', code: 'x', memoryMb: 0 }, /memoryMb/],
      [{ name: 'f', runtime: 'process' }, /needs a 'command'/],
      [{ name: 'f', runtime: 'nodejs', code: 'x', colour: 'red' }, /unknown field "colour"/],
      [{ name: '../f', runtime: 'nodejs', code: 'x' }, /name/],
      [{ name: 'f', runtime: 'nodejs', codeBase64: 'not base64!' }, /codeBase64/],
      [
        { name: 'f', runtime: 'nodejs', code: 'x', concurrency: 4, batch: { size: 0 } },
        /field 'batch.size' must be a whole number from 1 to 1000/,
      ],
      [
        { name: 'f', runtime: 'nodejs', code: 'x', batch: { size: 4 } },
        /field 'batch.size' \(4\) must not exceed 'concurrency' \(1\)/,
      ],
    ]
    for (const [spec, message] of cases) {
      const answer = await call(a, 'POST', '/v1/owners/initech/functions', spec)
      expect(answer.status, JSON.stringify(spec)).toBe(400)
      expect((answer.body.error as { message: string }).message).toMatch(message)
    }
    expect((await call(a, 'GET', '/v1/owners/initech/functions/f')).status).toBe(404)
    expect((await call(a, 'GET', '/v1/owners/initech/functions')).status).toBe(404)
  })

  it('batches the invocations of a function deployed with a batch, each with its own result', async () => {
    const deployed = await deploy('acme', {
      name: 'batched',
      runtime: 'nodejs',
      code: PID_FN,
      concurrency: 4,
      // A wait no test reaches: only a full batch leaves.
      batch: { size: 4, waitMs: 60_000 },
    })
    expect(deployed.status).toBe(201)
    const shown = await call(b, 'GET', '/v1/owners/acme/functions/batched')
    expect(shown.body.batch).toEqual({ size: 4, waitMs: 60_000 })

    const path = '/v1/owners/acme/functions/batched/invocations'
    const queued = await Promise.all(
      [1, 2, 3].map((n) => call(b, 'POST', path, { input: { n }, wait: false })),
    )
    const ids = queued.map((q) => q.body.id as string)
    // Three of a batch of four wait for the fourth: none has been dispatched.
    for (const id of ids) {
      expect((await call(b, 'GET', `/v1/invocations/${id}`)).body).toMatchObject({
        status: 'queued',
        attempts: 0,
      })
    }
    const fourth = await call(b, 'POST', path, { input: { n: 4 } })
    expect(fourth.body).toMatchObject({ status: 'succeeded', output: { input: { n: 4 } } })
    const views = await Promise.all(
      ids.map(async (id) => {
        let view: Record<string, unknown> = {}
        await waitFor(`${id} to finish`, async () => {
          view = (await call(b, 'GET', `/v1/invocations/${id}`)).body
          return view.status === 'succeeded' || view.status === 'failed'
        })
        return view
      }),
    )
    expect(views.map((v) => (v.output as { input: unknown }).input)).toEqual([
      { n: 1 },
      { n: 2 },
      { n: 3 },
    ])
    // One dispatch to one host: they ran side by side in the same process.
    const pids = new Set([...views, fourth.body].map((v) => (v.output as { pid: number }).pid))
    expect(pids.size).toBe(1)
    expect(views.every((v) => v.status === 'succeeded' && v.attempts === 1)).toBe(true)

    // Eight at once, waiting: two batches, every one answered with its own output.
    const eight = await Promise.all(
      Array.from({ length: 8 }, (_, n) => call(a, 'POST', path, { input: { n } })),
    )
    expect(eight.map((r) => r.body.status)).toEqual(Array(8).fill('succeeded'))
    expect(eight.map((r) => (r.body.output as { input: { n: number } }).input.n)).toEqual([
      0, 1, 2, 3, 4, 5, 6, 7,
    ])
  }, 30_000)

  it('runs a function invoked at another peer at once after its deploy', async () => {
    for (let i = 0; i < 10; i++) {
      const name = `fresh${i}`
      const deployed = await call(a, 'POST', '/v1/owners/race/functions', {
        name,
        runtime: 'nodejs',
        code: `export default async (x) => x + ${i}`,
      })
      expect(deployed.status).toBe(201)
      // At once, through another peer: one that has not heard of it yet pulls the definitions.
      const ran = await call(b, 'POST', `/v1/owners/race/functions/${name}/invocations`, {
        input: 100,
      })
      expect(ran.body, JSON.stringify(ran.body)).toMatchObject({
        status: 'succeeded',
        output: 100 + i,
      })
    }
    const unknown = await call(b, 'POST', '/v1/owners/race/functions/never/invocations', {})
    expect(unknown.status).toBe(404)
  }, 60_000)

  it('deletes a function: 404 afterwards, for its definition and its invocations', async () => {
    await deploy('umbrella', { name: 'gone', runtime: 'nodejs', code: PID_FN })
    const ran = await invoke(b, 'umbrella', 'gone', 1)
    expect(ran.body.status).toBe('succeeded')
    const deleted = await call(a, 'DELETE', '/v1/owners/umbrella/functions/gone')
    expect(deleted).toEqual({ status: 200, body: { name: 'gone', version: 2 } })
    expect((await call(a, 'GET', '/v1/owners/umbrella/functions/gone')).status).toBe(404)
    const invoked = await invoke(a, 'umbrella', 'gone', 1)
    expect(invoked.status).toBe(404)
    expect((await call(a, 'DELETE', '/v1/owners/umbrella/functions/gone')).status).toBe(404)
    await waitFor(
      'the delete to reach B',
      async () => (await call(b, 'GET', '/v1/owners/umbrella/functions/gone')).status === 404,
    )
  })
})
