/**
 * The life of a function host, for real: cold and warm starts, code fetched from the deploying
 * peer and checked against its digest, idle reaping (`--host-idle`), timeouts and crashes, and
 * strict refusal of bad deploys and invocations.
 *
 * Which peer runs an invocation is placement's business, so these tests never assume it: they
 * read it from the answer's `peerId`, and the functions report their own pid and a counter kept
 * in their process. The one place where the runner matters (code must be fetched) is made
 * deterministic by giving the deploying peer too little worker memory to run anything itself.
 */
import { createHash } from 'node:crypto'
import { execFileSync } from 'node:child_process'
import { mkdir, readdir, readFile, rm, writeFile } from 'node:fs/promises'
import { join } from 'node:path'
import { afterAll, beforeAll, describe, expect, it } from 'vitest'
import { parsePeerConfig, type PeerConfig } from '../packages/node/src/config.js'
import { startPeer } from '../packages/node/src/peer.js'
import { allSeeAll, stopAll, tempDir, testConfig, waitFor, type TestPeer } from './support/mesh.js'
import { call, send, type Answer } from './support/http.js'
import { metricValue } from './support/metrics.js'

interface Invoked extends Answer {
  /** The function's output, when it succeeded. */
  out: { pid: number; count: number } & Record<string, unknown>
  error: { code: string; message: string } | undefined
  peerId: string
}

async function invoke(via: TestPeer, owner: string, fn: string, input: unknown): Promise<Invoked> {
  const answer = await call(via, 'POST', `/v1/owners/${owner}/functions/${fn}/invocations`, {
    input,
  })
  expect(answer.status, JSON.stringify(answer.body)).toBe(200)
  return {
    ...answer,
    out: answer.body.output as Invoked['out'],
    error: answer.body.error as Invoked['error'],
    peerId: answer.body.peerId as string,
  }
}

/** Whether a process with this pid exists (signal 0 only checks). */
function isRunning(pid: number): boolean {
  try {
    process.kill(pid, 0)
    return true
  } catch (err) {
    return (err as NodeJS.ErrnoException).code === 'EPERM'
  }
}

/** The one pid a function wrote to `file`. */
async function readPid(file: string): Promise<number> {
  const lines = (await readFile(file, 'utf8')).split('\n').filter((line) => line !== '')
  expect(lines).toHaveLength(1)
  return Number(lines[0])
}

function sha256(bytes: string | Uint8Array): string {
  return createHash('sha256').update(bytes).digest('hex')
}

/** The code blobs a peer holds (`<dataDir>/code/sha256/<hex>`, see code-store.ts). */
async function blobs(peer: TestPeer): Promise<string[]> {
  return (await readdir(join(peer.dataDir, 'code', 'sha256')).catch(() => [])).sort()
}

async function tempBlobs(peer: TestPeer): Promise<string[]> {
  return readdir(join(peer.dataDir, 'code', 'tmp')).catch(() => [])
}

/**
 * Each call counts itself in the host process, so a reused host shows a growing count. With a
 * `pidFile` in its input, a call first writes its process' pid there: that is how a test learns
 * which host ran a call that never answers.
 */
const COUNTER_FN = `import { appendFileSync } from 'node:fs'
let count = 0
export default async (input) => {
  count++
  if (input?.pidFile) appendFileSync(input.pidFile, process.pid + '\\n')
  if (input?.mode === 'hang') await new Promise(() => {})
  if (input?.mode === 'exit') process.exit(7)
  if (input?.mode === 'throw') {
    setTimeout(() => { throw new Error('kaboom: the widget fell over') }, 10)
    await new Promise(() => {})
  }
  return { pid: process.pid, count, input }
}
`

/** A `process` function: a server on $PORT answering POST /run, counting its calls. */
const SERVER_MJS = `import { createServer } from 'node:http'
let count = 0
createServer((req, res) => {
  let body = ''
  req.on('data', (d) => (body += d))
  req.on('end', () => {
    res.setHeader('content-type', 'application/json')
    if (req.method !== 'POST' || req.url !== '/run') {
      res.statusCode = 404
      res.end(JSON.stringify({ error: 'no route ' + req.url }))
      return
    }
    const { value } = JSON.parse(body)
    count++
    res.end(JSON.stringify({ pid: process.pid, count, doubled: value * 2 }))
  })
}).listen(Number(process.env.PORT), '127.0.0.1')
`

async function bundle(files: Record<string, string>): Promise<string> {
  const dir = await tempDir('chorus-bundle-')
  try {
    await mkdir(join(dir, 'src'))
    for (const [name, text] of Object.entries(files)) await writeFile(join(dir, 'src', name), text)
    execFileSync('tar', ['-czf', join(dir, 'b.tgz'), '-C', join(dir, 'src'), '.'])
    return (await readFile(join(dir, 'b.tgz'))).toString('base64')
  } finally {
    await rm(dir, { recursive: true, force: true })
  }
}

describe('function hosts on a mesh of three peers', () => {
  const peers: TestPeer[] = []
  /** Deploys everything; its worker is too small (64 MiB) for a 128 MB function, so it runs none. */
  let a: TestPeer
  let b: TestPeer
  let c: TestPeer
  /** Where functions write their pid files. */
  let scratch = ''

  beforeAll(async () => {
    scratch = await tempDir('chorus-lifecycle-')
    const configs: Partial<PeerConfig>[] = [{ workerMemoryMb: 64 }, {}, {}]
    for (const overrides of configs) {
      const dataDir = await tempDir()
      const bootstrap = peers.length === 0 ? [] : [peers[0]?.multiaddrs[0] ?? '']
      try {
        const running = await startPeer(testConfig(dataDir, { join: bootstrap, ...overrides }))
        peers.push({ ...running, peerId: running.api.peerId, dataDir })
      } catch (err) {
        await rm(dataDir, { recursive: true, force: true })
        throw err
      }
    }
    ;[a, b, c] = peers as [TestPeer, TestPeer, TestPeer]
    await waitFor('every peer to see all three alive', () => allSeeAll(peers), 20_000)
  }, 40_000)

  afterAll(async () => {
    await stopAll(peers)
    if (scratch !== '') await rm(scratch, { recursive: true, force: true })
  }, 30_000)

  /** Deploys at A and waits until every peer has the new revision. */
  async function deploy(owner: string, spec: Record<string, unknown>): Promise<Answer> {
    const answer = await call(a, 'POST', `/v1/owners/${owner}/functions`, spec)
    expect(answer.status, JSON.stringify(answer.body)).toBe(201)
    const revision = answer.body.revision
    await waitFor(`${owner}/${String(spec.name)} to reach every peer`, async () => {
      const seen = await Promise.all(
        peers.map((p) => call(p, 'GET', `/v1/owners/${owner}/functions/${String(spec.name)}`)),
      )
      return seen.every((s) => s.body.revision === revision)
    })
    return answer
  }

  function peerById(id: string): TestPeer {
    const peer = peers.find((p) => p.peerId === id)
    if (peer === undefined) throw new Error(`no peer ${id} in this mesh`)
    return peer
  }

  /** A per-function counter summed over the peers. */
  async function counted(metric: string, fn: string): Promise<number> {
    const texts = await Promise.all(
      peers.map(async (p) => (await fetch(`${p.httpUrl}/metrics`)).text()),
    )
    return texts.reduce((n, text) => n + metricValue(text, metric, { fn }), 0)
  }

  function executions(fn: string): Promise<number> {
    return counted('chorus_executions_total', fn)
  }

  it('cold-starts a nodejs host, then reuses it warm: same process, its counter going on', async () => {
    await deploy('warm', { name: 'counter', runtime: 'nodejs', code: COUNTER_FN })
    const cold = await invoke(b, 'warm', 'counter', { n: 1 })
    expect(cold.body.status, JSON.stringify(cold.body)).toBe('succeeded')
    expect(cold.out).toMatchObject({ count: 1, input: { n: 1 } })
    expect(cold.peerId).not.toBe(a.peerId)
    expect(isRunning(cold.out.pid)).toBe(true)
    expect(cold.out.pid).not.toBe(process.pid) // a child process, not the peer
    expect(await counted('chorus_cold_starts_total', 'counter')).toBe(1)

    const warm = await invoke(c, 'warm', 'counter', { n: 2 })
    expect(warm.body.status).toBe('succeeded')
    expect(warm.peerId).toBe(cold.peerId)
    expect(warm.out).toEqual({ pid: cold.out.pid, count: 2, input: { n: 2 } })
    expect(await counted('chorus_cold_starts_total', 'counter')).toBe(1)
    expect(await executions('counter')).toBe(2)
    // The warm host is on the worker that ran it, with its memory.
    const metrics = await (await fetch(`${peerById(cold.peerId).httpUrl}/metrics`)).text()
    expect(metricValue(metrics, 'chorus_function_hosts')).toBeGreaterThanOrEqual(1)
    expect(metricValue(metrics, 'chorus_worker_memory_used_mb')).toBeGreaterThanOrEqual(128)
  }, 30_000)

  it('cold-starts a process host from a .tgz bundle, then reuses it warm', async () => {
    const codeBase64 = await bundle({ 'server.mjs': SERVER_MJS })
    await deploy('warm', {
      name: 'double',
      runtime: 'process',
      codeBase64,
      command: [process.execPath, 'server.mjs'],
    })
    const cold = await invoke(b, 'warm', 'double', 21)
    expect(cold.body.status, JSON.stringify(cold.body)).toBe('succeeded')
    expect(cold.out).toMatchObject({ count: 1, doubled: 42 })
    expect(isRunning(cold.out.pid)).toBe(true)

    const warm = await invoke(b, 'warm', 'double', 5)
    expect(warm.peerId).toBe(cold.peerId)
    expect(warm.out).toEqual({ pid: cold.out.pid, count: 2, doubled: 10 })
  }, 30_000)

  it('fetches code from the deploying peer on first use, and stores it under its digest', async () => {
    const code = COUNTER_FN.replace('count, input', "count, input, from: 'fetched'")
    const digest = sha256(code)
    const deployed = await deploy('fetch', { name: 'fetched', runtime: 'nodejs', code })
    expect(deployed.body.digest).toBe(digest)
    // Replication carries the definition, not the code: only A holds the blob.
    expect(await blobs(a)).toContain(digest)
    expect(await blobs(b)).not.toContain(digest)
    expect(await blobs(c)).not.toContain(digest)

    const ran = await invoke(b, 'fetch', 'fetched', 'x')
    expect(ran.body.status, JSON.stringify(ran.body)).toBe('succeeded')
    expect(ran.out).toMatchObject({ count: 1, input: 'x', from: 'fetched' })
    // A cannot run it (its worker is too small), so a peer without the code did, and fetched it.
    expect(ran.peerId).not.toBe(a.peerId)
    const runner = peerById(ran.peerId)
    expect(await blobs(runner)).toContain(digest)
    const stored = await readFile(join(runner.dataDir, 'code', 'sha256', digest))
    expect(sha256(stored)).toBe(digest)
    expect(await tempBlobs(runner)).toEqual([])
  }, 30_000)

  it('refuses code tampered with before anyone fetched it, and no peer keeps the bytes', async () => {
    const code = COUNTER_FN.replace('count, input', "count, input, from: 'genuine'")
    const digest = sha256(code)
    await deploy('tamper', { name: 'victim', runtime: 'nodejs', code })
    const tampered = COUNTER_FN.replace('count, input', "count, input, from: 'tampered'")
    const tamperedDigest = sha256(tampered)
    // A is the only peer that holds it: corrupt it there, behind the store's back.
    expect(await blobs(b)).not.toContain(digest)
    expect(await blobs(c)).not.toContain(digest)
    await writeFile(join(a.dataDir, 'code', 'sha256', digest), tampered)

    for (const via of [b, c]) {
      const refused = await invoke(via, 'tamper', 'victim', 1)
      expect(refused.body.status, JSON.stringify(refused.body)).toBe('failed')
      expect(refused.body.output).toBeUndefined()
      const message = refused.error?.message ?? ''
      expect(message).toContain(digest)
      expect(message).toContain(`refused code from ${a.peerId}`)
      expect(message).toContain(`its sha256 is ${tamperedDigest}, not the expected ${digest}`)
    }
    for (const peer of [b, c]) {
      const held = await blobs(peer)
      expect(held).not.toContain(digest)
      expect(held).not.toContain(tamperedDigest)
      expect(await tempBlobs(peer)).toEqual([])
    }
  }, 30_000)

  it('fails a run past its timeoutMs, kills its host, and runs the next call on a new one', async () => {
    await deploy('timeouts', {
      name: 'sleepy',
      runtime: 'nodejs',
      code: COUNTER_FN,
      timeoutMs: 1_000,
    })
    const pidFile = join(scratch, 'hung.pid')
    const hung = await invoke(b, 'timeouts', 'sleepy', { mode: 'hang', pidFile })
    expect(hung.body.status).toBe('failed')
    const pid = await readPid(pidFile)
    expect(hung.error?.message).toMatch(/invocation \S+ timed out after 1000 ms/)
    expect(hung.error?.message).toContain(`function host ${pid} was killed`)
    await waitFor(`timed-out host ${pid} to be gone`, () => !isRunning(pid), 5_000)

    const next = await invoke(b, 'timeouts', 'sleepy', null)
    expect(next.body.status, JSON.stringify(next.body)).toBe('succeeded')
    expect(next.out.pid).not.toBe(pid)
    expect(next.out.count).toBe(1)
  }, 30_000)

  it('fails a run whose host exits or throws asynchronously; the peers stay healthy', async () => {
    await deploy('crashes', { name: 'crashy', runtime: 'nodejs', code: COUNTER_FN })
    const cases: [string, RegExp][] = [
      ['exit', /function host exited unexpectedly with code 7/],
      ['throw', /function host exited unexpectedly with code 1: Error: kaboom: the widget fell/],
    ]
    for (const [mode, message] of cases) {
      const pidFile = join(scratch, `${mode}.pid`)
      const crashed = await invoke(c, 'crashes', 'crashy', { mode, pidFile })
      expect(crashed.body.status, mode).toBe('failed')
      expect(crashed.error?.message).toMatch(message)
      const pid = await readPid(pidFile)
      await waitFor(`crashed host ${pid} to be gone`, () => !isRunning(pid), 5_000)
      for (const peer of peers) {
        expect(await call(peer, 'GET', '/v1/health')).toMatchObject({
          status: 200,
          body: { ok: true, peerId: peer.peerId },
        })
      }
      const next = await invoke(c, 'crashes', 'crashy', { after: mode })
      expect(next.body.status, JSON.stringify(next.body)).toBe('succeeded')
      expect(next.out).toMatchObject({ input: { after: mode } })
      expect(next.out.pid).not.toBe(pid)
    }
  }, 40_000)

  it('refuses malformed deploys and invocations with 400 or 413, and changes nothing', async () => {
    const deployed = await deploy('strict', { name: 'keep', runtime: 'nodejs', code: COUNTER_FN })
    const before = await call(a, 'GET', '/v1/owners/strict/functions')
    expect(before.status).toBe(200)
    const blobsBefore = await blobs(a)
    const path = '/v1/owners/strict/functions'
    const valid = { name: 'keep', runtime: 'nodejs', code: 'export default () => 2' }

    const refusals: [string, string, number, RegExp][] = [
      ['malformed JSON', '{"name": "keep", "runtime": "nodejs", "code": ', 400, /not valid JSON/],
      ['not an object', '[{"name": "keep"}]', 400, /must be a JSON object/],
      ['unknown field', JSON.stringify({ ...valid, memory: 256 }), 400, /unknown field "memory"/],
      ['runtime case', JSON.stringify({ ...valid, runtime: 'NodeJS' }), 400, /'runtime' must be/],
      [
        'process with inline code',
        JSON.stringify({ ...valid, runtime: 'process', command: ['node'] }),
        400,
        /'process' takes no 'code'/,
      ],
      [
        'nodejs with a command but no code',
        JSON.stringify({ name: 'keep', runtime: 'nodejs', command: ['node', 'x.js'] }),
        400,
        /needs 'code'/,
      ],
      [
        'base64url',
        JSON.stringify({ name: 'keep', runtime: 'nodejs', codeBase64: 'H4sI-_8A' }),
        400,
        /codeBase64/,
      ],
      [
        'bad base64 padding',
        JSON.stringify({ name: 'keep', runtime: 'nodejs', codeBase64: 'H4sIAA=' }),
        400,
        /codeBase64/,
      ],
      ['code and codeBase64', JSON.stringify({ ...valid, codeBase64: 'H4sI' }), 400, /not both/],
      ['fractional timeout', JSON.stringify({ ...valid, timeoutMs: 1.5 }), 400, /timeoutMs/],
      ['concurrency as text', JSON.stringify({ ...valid, concurrency: '2' }), 400, /concurrency/],
    ]
    for (const [what, raw, status, message] of refusals) {
      const answer = await send(a, 'POST', path, raw)
      expect(answer.status, what).toBe(status)
      const error = answer.body.error as { code: string; message: string }
      expect(error.message, what).toMatch(message)
    }
    const textPlain = await send(a, 'POST', path, JSON.stringify(valid), 'text/plain')
    expect(textPlain.status).toBe(415)

    const fn = '/v1/owners/strict/functions/keep/invocations'
    const executed = await executions('keep')
    const badInvocations: [string, string, RegExp][] = [
      ['malformed JSON', '{"input": ', /not valid JSON/],
      ['not an object', '[1, 2]', /must be a JSON object/],
      ['unknown field', '{"input": 1, "inputs": 2}', /unknown field "inputs"/],
      ['bad priority', '{"input": 1, "priority": 5}', /'priority'/],
      ['bad wait', '{"input": 1, "wait": "yes"}', /'wait'/],
    ]
    for (const [what, raw, message] of badInvocations) {
      const answer = await send(b, 'POST', fn, raw)
      expect(answer.status, what).toBe(400)
      expect((answer.body.error as { message: string }).message, what).toMatch(message)
    }
    const huge = await send(b, 'POST', fn, JSON.stringify({ input: 'x'.repeat(1024 * 1024) }))
    expect(huge.status).toBe(413)
    expect((huge.body.error as { message: string }).message).toMatch(/1048576/)

    // Every peer still holds version 1, A stored no code, and nothing ran.
    for (const peer of peers) {
      expect(await call(peer, 'GET', '/v1/owners/strict/functions')).toEqual(before)
    }
    expect(before.body.functions).toEqual([
      expect.objectContaining({ name: 'keep', version: 1, revision: deployed.body.revision }),
    ])
    expect(await blobs(a)).toEqual(blobsBefore)
    expect(await executions('keep')).toBe(executed)
    const ran = await invoke(b, 'strict', 'keep', 'ok')
    expect(ran.out).toMatchObject({ count: 1, input: 'ok' })
    expect(await executions('keep')).toBeGreaterThan(executed)
  }, 30_000)
})

describe('a peer on its own, started with --host-idle 1.5s', () => {
  const peers: TestPeer[] = []

  beforeAll(async () => {
    const dataDir = await tempDir()
    // The flag goes through the same parsing as `chorus start` before it reaches the peer.
    const config = parsePeerConfig(
      ['--host-idle', '1.5s', '--data-dir', dataDir, '--http', '127.0.0.1:0'],
      {},
    )
    try {
      const running = await startPeer(config)
      peers.push({ ...running, peerId: running.api.peerId, dataDir })
    } catch (err) {
      await rm(dataDir, { recursive: true, force: true })
      throw err
    }
  }, 30_000)

  afterAll(async () => {
    await stopAll(peers)
  }, 30_000)

  it('reaps a host idle that long: its process is gone, and the next call cold-starts', async () => {
    const p = peers[0] as TestPeer
    const deployed = await call(p, 'POST', '/v1/owners/idle/functions', {
      name: 'counter',
      runtime: 'nodejs',
      code: COUNTER_FN,
    })
    expect(deployed.status, JSON.stringify(deployed.body)).toBe(201)
    const cold = await invoke(p, 'idle', 'counter', 1)
    const warm = await invoke(p, 'idle', 'counter', 2)
    const answeredAt = performance.now()
    // Warm within the idle time: the same process served both.
    expect(warm.out).toEqual({ pid: cold.out.pid, count: 2, input: 2 })
    const pid = cold.out.pid
    expect(isRunning(pid)).toBe(true)

    await waitFor(`idle host ${pid} to be reaped`, () => !isRunning(pid), 15_000)
    // Not before it had been idle that long (1.5 s from its release, just before the answer).
    expect(performance.now() - answeredAt).toBeGreaterThan(1_000)

    const again = await invoke(p, 'idle', 'counter', 3)
    expect(again.body.status, JSON.stringify(again.body)).toBe('succeeded')
    expect(again.out.pid).not.toBe(pid)
    expect(again.out.count).toBe(1)
  }, 30_000)

  // A peer checks its own copy of a blob as it reads it for a cold start: a blob changed on
  // disk is removed and fetched again from peers; here no other peer has it, so it fails.
  it('refuses to run its own copy of the code once it changed on disk', async () => {
    const p = peers[0] as TestPeer
    const code = COUNTER_FN.replace('count, input', "count, input, from: 'genuine'")
    const digest = sha256(code)
    const deployed = await call(p, 'POST', '/v1/owners/rot/functions', {
      name: 'victim',
      runtime: 'nodejs',
      code,
    })
    expect(deployed.body.digest).toBe(digest)
    const tampered = COUNTER_FN.replace('count, input', "count, input, from: 'tampered'")
    await writeFile(join(p.dataDir, 'code', 'sha256', digest), tampered)

    const ran = await invoke(p, 'rot', 'victim', 1)
    expect(ran.body, 'the tampered code ran').not.toMatchObject({ output: { from: 'tampered' } })
    expect(ran.body.status).toBe('failed')
    expect(ran.error?.message).toContain(digest)
  }, 30_000)
})
