/**
 * The client SDK against a fake `fetch`: what it sends, how it maps answers and failures to
 * `ChorusClientError`, how `result()` polls, and how a directory is packed (read back with
 * the peer's own `extractBundle`). The SDK against a real peer is in test/client.spec.ts.
 */
import { execFileSync } from 'node:child_process'
import { mkdtempSync } from 'node:fs'
import { chmod, mkdir, readdir, readFile, rm, stat, symlink, writeFile } from 'node:fs/promises'
import { tmpdir } from 'node:os'
import { join, relative } from 'node:path'
import { gunzipSync } from 'node:zlib'
import { afterAll, describe, expect, it } from 'vitest'
import {
  ChorusClientError,
  DEFAULT_POLL,
  connect,
  pollDelay,
  type ClientFetch,
  type ClientRequestInit,
  type InvocationView,
  type RunTrace,
} from '../../src/client/index.js'
import { extractBundle } from '../../src/function-host/extract-bundle.js'
import { PackDirectoryError, packDirectory } from '../../src/client/pack-directory.js'

const URL_ = 'http://peer.test:7070'
const dirs: string[] = []

afterAll(async () => {
  await Promise.all(dirs.map((d) => rm(d, { recursive: true, force: true })))
})

function tempDir(): string {
  const dir = mkdtempSync(join(tmpdir(), 'chorus-client-'))
  dirs.push(dir)
  return dir
}

interface Sent {
  readonly method: string
  readonly url: string
  readonly headers: Record<string, string>
  readonly body: unknown
}

type Reply = { status: number; body?: unknown; text?: string } | Error

/** A fetch that records what it is sent and answers with `reply` (called once per request). */
function fakeFetch(reply: (sent: Sent, n: number) => Reply | Promise<Reply>): {
  fetch: ClientFetch
  sent: Sent[]
} {
  const sent: Sent[] = []
  const fetch: ClientFetch = async (url: string, init: ClientRequestInit) => {
    const request = {
      method: init.method,
      url,
      headers: init.headers,
      body: init.body === undefined ? undefined : (JSON.parse(init.body) as unknown),
    }
    sent.push(request)
    const answer = await reply(request, sent.length - 1)
    if (answer instanceof Error) throw answer
    const text = answer.text ?? (answer.body === undefined ? '' : JSON.stringify(answer.body))
    return { status: answer.status, text: () => Promise.resolve(text) }
  }
  return { fetch, sent }
}

/** Answers one after another (the last one again when they run out). */
function replies(...answers: Reply[]): ReturnType<typeof fakeFetch> {
  return fakeFetch((_, n) => answers[Math.min(n, answers.length - 1)] as Reply)
}

async function rejection(promise: Promise<unknown>): Promise<ChorusClientError> {
  try {
    await promise
  } catch (err) {
    expect(err).toBeInstanceOf(ChorusClientError)
    return err as ChorusClientError
  }
  throw new Error('expected a rejection')
}

const FAST_POLL = { initialMs: 1, maxMs: 4 }

/** A 200 answer to `GET /v1/invocations/i1`. */
const view = (status: InvocationView['status'], extra: Partial<InvocationView> = {}) => ({
  status: 200,
  body: { id: 'i1', status, ...extra },
})

describe('connect', () => {
  it('checks the URL and the owner before anything is sent', () => {
    expect(() => connect('not a url', { owner: 'acme' })).toThrow(ChorusClientError)
    expect(() => connect('ftp://peer', { owner: 'acme' })).toThrow(/http: or https:/)
    expect(() => connect(URL_, { owner: 'a/b' })).toThrow(/owner/)
    expect(() => connect(URL_, { owner: '' })).toThrow(/owner must not be empty/)
    const mesh = connect(`${URL_}/`, { owner: 'acme' })
    expect(mesh.url).toBe(URL_)
    expect(mesh.owner).toBe('acme')
  })
})

describe('deploy', () => {
  it('sends { code } as a nodejs function, with only the options given', async () => {
    const { fetch, sent } = replies({
      status: 201,
      body: { name: 'double', version: 1, revision: '1.ab', digest: 'd' },
    })
    const mesh = connect(URL_, { owner: 'acme', fetch })
    const deployed = await mesh.deploy(
      'double',
      { code: 'export default (x) => x * 2' },
      { timeoutMs: 500, memoryMb: undefined },
    )
    expect(deployed).toEqual({ name: 'double', version: 1, revision: '1.ab', digest: 'd' })
    expect(sent).toEqual([
      {
        method: 'POST',
        url: `${URL_}/v1/owners/acme/functions`,
        headers: { accept: 'application/json', 'content-type': 'application/json' },
        body: {
          name: 'double',
          runtime: 'nodejs',
          code: 'export default (x) => x * 2',
          timeoutMs: 500,
        },
      },
    ])
  })

  it('reads a .js or .mjs file as code, a .tgz as codeBase64; a command makes it a process', async () => {
    const dir = tempDir()
    await writeFile(join(dir, 'fn.mjs'), 'export default async () => 1\n')
    await writeFile(join(dir, 'fn.js'), 'export default async () => 2\n')
    await writeFile(join(dir, 'fn.tgz'), Buffer.from([0x1f, 0x8b, 1, 2, 3]))
    const { fetch, sent } = replies({ status: 201, body: { name: 'f', version: 1 } })
    const mesh = connect(URL_, { owner: 'acme', fetch })
    await mesh.deploy('a', join(dir, 'fn.mjs'))
    await mesh.deploy('b', new URL(`file://${join(dir, 'fn.js')}`))
    await mesh.deploy('c', join(dir, 'fn.tgz'), { command: ['./server', '--port', '0'] })
    expect(sent.map((s) => s.body)).toEqual([
      { name: 'a', runtime: 'nodejs', code: 'export default async () => 1\n' },
      { name: 'b', runtime: 'nodejs', code: 'export default async () => 2\n' },
      {
        name: 'c',
        runtime: 'process',
        codeBase64: Buffer.from([0x1f, 0x8b, 1, 2, 3]).toString('base64'),
        command: ['./server', '--port', '0'],
      },
    ])
  })

  it('packs a directory into a bundle the peer can unpack', async () => {
    const dir = tempDir()
    await writeFile(join(dir, 'package.json'), '{"main": "lib/main.mjs"}')
    await mkdir(join(dir, 'lib'))
    await writeFile(join(dir, 'lib', 'main.mjs'), 'export default () => "packed"\n')
    const { fetch, sent } = replies({ status: 201, body: { name: 'p', version: 1 } })
    await connect(URL_, { owner: 'acme', fetch }).deploy('p', dir)
    const body = sent[0]?.body as { codeBase64: string; runtime: string }
    expect(body.runtime).toBe('nodejs')
    const out = tempDir()
    await extractBundle(Buffer.from(body.codeBase64, 'base64'), out)
    expect(await readFile(join(out, 'lib', 'main.mjs'), 'utf8')).toContain('packed')
    expect(await readFile(join(out, 'package.json'), 'utf8')).toContain('lib/main.mjs')
  })

  it('refuses a source it cannot read or does not know, sending nothing', async () => {
    const dir = tempDir()
    await writeFile(join(dir, 'fn.ts'), 'export default 1')
    await symlink('/etc/hostname', join(dir, 'escape'))
    await mkdir(join(dir, 'bundle'))
    await symlink('/etc/hostname', join(dir, 'bundle', 'escape'))
    const { fetch, sent } = replies({ status: 201, body: {} })
    const mesh = connect(URL_, { owner: 'acme', fetch })
    const missing = await rejection(mesh.deploy('x', join(dir, 'nope.mjs')))
    expect(missing).toMatchObject({ code: 'bad-request', status: undefined })
    expect(missing.message).toMatch(/cannot read .*nope\.mjs/)
    expect((await rejection(mesh.deploy('x', join(dir, 'fn.ts')))).message).toMatch(
      /expected a \.js or \.mjs module, a \.tgz bundle or a directory/,
    )
    const outside = await rejection(mesh.deploy('x', join(dir, 'bundle')))
    expect(outside.message).toMatch(/escape is a symlink to .*, outside/)
    expect(outside.details).toMatchObject({ problem: 'symlink-outside', path: 'escape' })
    await expect(rejection(mesh.deploy('x', { code: '' }))).resolves.toMatchObject({
      code: 'bad-request',
    })
    const both = { code: 'a', codeBase64: 'b' }
    await expect(rejection(mesh.deploy('x', both))).resolves.toMatchObject({
      message: 'give exactly one of { code }, { codeBase64 } and { url }',
    })
    expect((await rejection(mesh.deploy('x', new URL('https://faas.test/fn')))).message).toMatch(
      /a URL source is a file: URL; an endpoint is \{ url: 'https:\/\/faas.test\/fn' \}/,
    )
    expect((await rejection(mesh.deploy('x', { url: 'ftp://faas.test' }))).message).toBe(
      'url must be an http:// or https:// URL',
    )
    expect(sent).toEqual([])
  })

  it('deploys { url } as an endpoint of provider http, with no runtime unless asked', async () => {
    const { fetch, sent } = replies({ status: 201, body: { name: 'ext', version: 1 } })
    const mesh = connect(URL_, { owner: 'acme', fetch })
    await mesh.deploy('ext', { url: 'https://faas.test/run' }, { timeoutMs: 2_000 })
    await mesh.deploy('ext', { url: 'https://faas.test/run' }, { runtime: 'nodejs' })
    expect(sent.map((s) => s.body)).toEqual([
      { name: 'ext', provider: 'http', url: 'https://faas.test/run', timeoutMs: 2_000 },
      { name: 'ext', runtime: 'nodejs', provider: 'http', url: 'https://faas.test/run' },
    ])
  })

  it('deploys a choreography as { name, definition }', async () => {
    const { fetch, sent } = replies({
      status: 201,
      body: { name: 'pipe', version: 3, revision: '3.x' },
    })
    const definition = { sequence: [{ function: 'a' }, { function: 'b' }] }
    const mesh = connect(URL_, { owner: 'acme', fetch })
    expect(await mesh.deployChoreography('pipe', definition)).toEqual({
      name: 'pipe',
      version: 3,
      revision: '3.x',
    })
    expect(sent[0]).toMatchObject({
      method: 'POST',
      url: `${URL_}/v1/owners/acme/choreographies`,
      body: { name: 'pipe', definition },
    })
  })
})

describe('errors', () => {
  it("carries the peer's code, message, status and details", async () => {
    const errors = [{ path: '/definition/function', code: 'unknown-function', message: 'nope' }]
    const { fetch } = replies(
      { status: 404, body: { error: { code: 'unknown-function', message: 'no function x' } } },
      {
        status: 400,
        body: { error: { code: 'bad-request', message: 'invalid', details: { errors } } },
      },
    )
    const mesh = connect(URL_, { owner: 'acme', fetch })
    const notFound = await rejection(mesh.fn('x')(1))
    expect(notFound).toMatchObject({
      name: 'ChorusClientError',
      code: 'unknown-function',
      status: 404,
      message: 'no function x',
      invocationId: undefined,
    })
    const invalid = await rejection(mesh.deployChoreography('c', {}))
    expect(invalid).toMatchObject({ code: 'bad-request', status: 400, details: { errors } })
  })

  it('calls an answer that is not the API a protocol-error, keeping its status', async () => {
    const { fetch } = replies(
      { status: 502, text: '<html><body>Bad Gateway</body></html>' },
      { status: 200, text: 'not json' },
      { status: 200, body: { status: 'succeeded' } },
    )
    const fn = connect(URL_, { owner: 'acme', fetch }).fn('x')
    const gateway = await rejection(fn())
    expect(gateway).toMatchObject({ code: 'protocol-error', status: 502 })
    expect(gateway.message).toContain('Bad Gateway')
    expect(await rejection(fn())).toMatchObject({ code: 'protocol-error', status: 200 })
    expect((await rejection(fn())).message).toMatch(/without an invocation id/)
  })

  it('tells an unreachable peer, a slow one and an aborted call apart', async () => {
    const refused = new TypeError('fetch failed', {
      cause: Object.assign(new Error('connect ECONNREFUSED 127.0.0.1:1'), {
        code: 'ECONNREFUSED',
      }),
    })
    const down = connect(URL_, { owner: 'acme', fetch: replies(refused).fetch })
    const unreachable = await rejection(down.functions())
    expect(unreachable).toMatchObject({ code: 'peer-unreachable', status: undefined })
    expect(unreachable.message).toBe(
      `cannot reach ${URL_}/v1/owners/acme/functions: connect ECONNREFUSED 127.0.0.1:1`,
    )
    expect(unreachable.cause).toBe(refused)

    // A peer that never answers: the fetch settles only when its signal aborts.
    const hanging: ClientFetch = (_, init) =>
      new Promise((_resolve, reject) =>
        init.signal.addEventListener('abort', () => reject(init.signal.reason as Error)),
      )
    const slow = connect(URL_, { owner: 'acme', fetch: hanging, timeoutMs: 20 })
    const timedOut = await rejection(slow.fn('x')(1))
    expect(timedOut).toMatchObject({ code: 'timeout', status: undefined })
    expect(timedOut.message).toMatch(/no answer from .* within 20 ms/)
    expect(await rejection(slow.fn('x')(1, { timeoutMs: 5 }))).toMatchObject({ code: 'timeout' })

    const controller = new AbortController()
    const reason = new Error('user gave up')
    const pending = slow.fn('x')(1, { signal: controller.signal, timeoutMs: 60_000 })
    controller.abort(reason)
    await expect(pending).rejects.toBe(reason)
  })
})

describe('fn', () => {
  it('invokes and waits: the output, or the failure as a ChorusClientError', async () => {
    const { fetch, sent } = replies(
      { status: 200, body: { id: 'i1', status: 'succeeded', output: { y: 2 }, peerId: 'p' } },
      {
        status: 200,
        body: {
          id: 'i2',
          status: 'failed',
          error: { code: 'internal', message: 'boom: no such widget' },
          peerId: 'p',
        },
      },
    )
    const mesh = connect(URL_, { owner: 'acme', fetch })
    const resize = mesh.fn<{ x: number }, { y: number }>('images/resize')
    expect(resize.name).toBe('images/resize')
    expect(await resize({ x: 1 }, { priority: 0, idempotencyKey: 'k1' })).toEqual({ y: 2 })
    expect(sent[0]).toMatchObject({
      method: 'POST',
      url: `${URL_}/v1/owners/acme/functions/images/resize/invocations`,
      body: { input: { x: 1 }, priority: 0, idempotencyKey: 'k1', wait: true },
    })
    const failed = await rejection(resize({ x: 2 }))
    expect(failed).toMatchObject({
      code: 'internal',
      message: 'boom: no such widget',
      status: undefined,
      invocationId: 'i2',
      invocation: { id: 'i2', status: 'failed', peerId: 'p' },
    })
  })

  it('sends no input when none is given, and null when null is given', async () => {
    const { fetch, sent } = replies({ status: 200, body: { id: 'i', status: 'succeeded' } })
    const fn = connect(URL_, { owner: 'acme', fetch }).fn('f')
    await fn()
    await fn(null)
    expect(sent.map((s) => s.body)).toEqual([{ wait: true }, { input: null, wait: true }])
  })

  it('encodes names segment by segment', async () => {
    const { fetch, sent } = replies({ status: 200, body: { id: 'i', status: 'succeeded' } })
    const mesh = connect(URL_, { owner: 'a.b_c-d', fetch })
    await mesh.fn('img/re size')()
    await mesh.invocation('x/y?z').status()
    expect(sent.map((s) => s.url)).toEqual([
      `${URL_}/v1/owners/a.b_c-d/functions/img/re%20size/invocations`,
      `${URL_}/v1/invocations/x%2Fy%3Fz`,
    ])
  })
})

describe('submit and result', () => {
  it('submits without waiting, then polls until the invocation has finished', async () => {
    const { fetch, sent } = replies(
      { status: 202, body: { id: 'i1', status: 'queued' } },
      view('queued'),
      view('running', { peerId: 'p' }),
      view('succeeded', { output: 42, peerId: 'p' }),
    )
    const mesh = connect(URL_, { owner: 'acme', fetch, poll: FAST_POLL })
    const job = await mesh.fn('answer').submit('q', { qos: 'cost' })
    expect(job.id).toBe('i1')
    expect(sent[0]?.body).toEqual({ input: 'q', qos: 'cost', wait: false })
    expect(await job.result()).toBe(42)
    expect(sent.slice(1).map((s) => `${s.method} ${s.url}`)).toEqual(
      Array(3).fill(`GET ${URL_}/v1/invocations/i1`),
    )
    // Finished is final: asked no more.
    expect(await job.status()).toMatchObject({ status: 'succeeded', output: 42 })
    expect(await job.result()).toBe(42)
    expect(sent).toHaveLength(4)
  })

  it('rejects with the failure, or with timeout when it does not finish in time', async () => {
    const failing = replies(
      { status: 202, body: { id: 'i1', status: 'queued' } },
      view('failed', { error: { code: 'timeout', message: 'ran past 300 ms' } }),
    )
    const job = await connect(URL_, { owner: 'acme', fetch: failing.fetch, poll: FAST_POLL })
      .fn('slow')
      .submit()
    expect(await rejection(job.result())).toMatchObject({
      code: 'timeout',
      message: 'ran past 300 ms',
      invocationId: 'i1',
    })

    const running = replies(view('running'))
    const mesh = connect(URL_, { owner: 'acme', fetch: running.fetch, poll: FAST_POLL })
    const late = await rejection(mesh.invocation('i1').result({ timeoutMs: 30 }))
    expect(late).toMatchObject({ code: 'timeout', invocationId: 'i1', status: undefined })
    expect(late.message).toBe('invocation i1 did not finish within 30 ms')
    expect(running.sent.length).toBeGreaterThan(2)
  })

  it('stops waiting when its signal aborts', async () => {
    const { fetch } = replies(view('running'))
    const controller = new AbortController()
    const mesh = connect(URL_, { owner: 'acme', fetch, poll: { initialMs: 5, maxMs: 5 } })
    const waiting = mesh.invocation('i1').result({ signal: controller.signal })
    controller.abort(new Error('enough'))
    await expect(waiting).rejects.toThrow('enough')
  })

  it('rides out a few transient failures while polling, but not many, nor other errors', async () => {
    const unavailable = { status: 503, body: { error: { code: 'overloaded', message: 'busy' } } }
    const recovering = replies(unavailable, unavailable, view('succeeded', { output: 'ok' }))
    const mesh = (fetch: ClientFetch) => connect(URL_, { owner: 'acme', fetch, poll: FAST_POLL })
    expect(await mesh(recovering.fetch).invocation('i1').result()).toBe('ok')

    const down = replies(unavailable)
    expect(await rejection(mesh(down.fetch).invocation('i1').result())).toMatchObject({
      code: 'overloaded',
      status: 503,
    })
    expect(down.sent).toHaveLength(4) // the first try and 3 more

    const gone = replies({
      status: 404,
      body: { error: { code: 'unknown-invocation', message: 'no peer knows invocation "i1"' } },
    })
    expect(await rejection(mesh(gone.fetch).invocation('i1').result())).toMatchObject({
      code: 'unknown-invocation',
      status: 404,
    })
    expect(gone.sent).toHaveLength(1)
  })

  it('backs off by doubling, up to a cap', () => {
    expect(Array.from({ length: 8 }, (_, n) => pollDelay(n, DEFAULT_POLL))).toEqual([
      25, 50, 100, 200, 400, 800, 1000, 1000,
    ])
    expect(pollDelay(5000, { initialMs: 3, maxMs: 7 })).toBe(7)
  })
})

describe('choreographies and listings', () => {
  it('invokes a choreography like a function, and its status carries the trace', async () => {
    const trace: RunTrace = {
      id: 'c1',
      choreography: 'pipe',
      status: 'succeeded',
      root: { path: '/definition', kind: 'sequence', status: 'succeeded', attempts: 1 },
    }
    const { fetch, sent } = replies(
      { status: 202, body: { id: 'c1', status: 'queued' } },
      view('succeeded', { id: 'c1', output: [1, 2], trace }),
    )
    const pipe = connect(URL_, { owner: 'acme', fetch, poll: FAST_POLL }).choreography('pipe')
    const run = await pipe.submit({ n: 2 })
    expect(sent[0]?.url).toBe(`${URL_}/v1/owners/acme/choreographies/pipe/invocations`)
    expect(await run.result()).toEqual([1, 2])
    expect((await run.status()).trace).toEqual(trace)
  })

  it('lists functions and choreographies; an owner the mesh does not know has none', async () => {
    const unknownOwner = {
      status: 404,
      body: { error: { code: 'unknown-owner', message: 'no owner acme on this mesh' } },
    }
    const fn = { owner: 'acme', name: 'f', version: 1 }
    const { fetch, sent } = replies(
      { status: 200, body: { functions: [fn] } },
      unknownOwner,
      unknownOwner,
      { status: 200, body: { name: 'f', version: 2 } },
      { status: 200, body: { self: 'p1', peers: [{ peerId: 'p1', state: 'alive' }] } },
    )
    const mesh = connect(URL_, { owner: 'acme', fetch })
    expect(await mesh.functions()).toEqual([fn])
    expect(await mesh.functions()).toEqual([])
    expect(await mesh.choreographies()).toEqual([])
    expect(await mesh.deleteFunction('f')).toEqual({ name: 'f', version: 2 })
    expect((await mesh.peers()).self).toBe('p1')
    expect(sent.map((s) => `${s.method} ${s.url.slice(URL_.length)}`)).toEqual([
      'GET /v1/owners/acme/functions',
      'GET /v1/owners/acme/functions',
      'GET /v1/owners/acme/choreographies',
      'DELETE /v1/owners/acme/functions/f',
      'GET /v1/mesh/peers',
    ])
  })
})

describe('packDirectory', () => {
  const LONG = `${'nested-directory/'.repeat(8)}file-with-a-long-name.mjs` // over 100 bytes
  const VERY_LONG = `${'d'.repeat(120)}/${'e'.repeat(120)}/${'f'.repeat(120)}.js` // over 255: pax

  async function tree(): Promise<string> {
    const dir = tempDir()
    await mkdir(join(dir, 'lib'))
    await mkdir(join(dir, 'empty'))
    await writeFile(join(dir, 'package.json'), '{"main":"lib/main.mjs"}')
    await writeFile(join(dir, 'lib', 'main.mjs'), 'export default () => 1\n')
    await writeFile(join(dir, 'run.sh'), '#!/bin/sh\necho hi\n')
    await chmod(join(dir, 'run.sh'), 0o755)
    await writeFile(join(dir, 'naïve-ünïcode.txt'), 'ü')
    await writeFile(join(dir, 'big.bin'), Buffer.alloc(70_000, 7))
    await mkdir(join(dir, LONG, '..'), { recursive: true })
    await writeFile(join(dir, LONG), 'long')
    await mkdir(join(dir, VERY_LONG, '..'), { recursive: true })
    await writeFile(join(dir, VERY_LONG), 'very long')
    await symlink('lib/main.mjs', join(dir, 'alias.mjs')) // inside: packed as a file
    await symlink('lib', join(dir, 'lib-link')) // inside: packed as a directory
    return dir
  }

  /** Every file and directory under `dir`: path → contents (files) or 'dir', and the mode. */
  async function listing(dir: string): Promise<Record<string, string>> {
    const out: Record<string, string> = {}
    const walk = async (at: string): Promise<void> => {
      for (const entry of await readdir(at, { withFileTypes: true })) {
        const path = join(at, entry.name)
        const rel = relative(dir, path)
        if (entry.isSymbolicLink()) continue
        if (entry.isDirectory()) {
          out[rel] = 'dir'
          await walk(path)
        } else {
          const mode = (await stat(path)).mode & 0o111 ? 'x' : '-'
          out[rel] = `${mode} ${(await readFile(path)).toString('base64')}`
        }
      }
    }
    await walk(dir)
    return out
  }

  it('packs a tree that extractBundle gives back, the same bytes every time', async () => {
    const dir = await tree()
    const tgz = await packDirectory(dir)
    expect([tgz[0], tgz[1]]).toEqual([0x1f, 0x8b])
    const out = tempDir()
    await extractBundle(tgz, out)
    const expected = await listing(dir)
    // Symlinks inside the directory come back as what they point to.
    const got = await listing(out)
    expect(got['alias.mjs']).toBe(got['lib/main.mjs'])
    expect(got['lib-link/main.mjs']).toBe(got['lib/main.mjs'])
    expect(got[VERY_LONG]).toBe(`- ${Buffer.from('very long').toString('base64')}`)
    expect(got['run.sh']?.startsWith('x ')).toBe(true)
    expect(got['empty']).toBe('dir')
    for (const [path, value] of Object.entries(expected)) expect(got[path], path).toBe(value)
    expect(Buffer.from(await packDirectory(dir)).equals(Buffer.from(tgz))).toBe(true)
  })

  it.runIf(hasTar())('writes an archive that tar reads without complaint', async () => {
    const dir = await tree()
    const archive = join(tempDir(), 'bundle.tgz')
    await writeFile(archive, await packDirectory(dir))
    const names = execFileSync('tar', ['-tzf', archive], { encoding: 'utf8' }).split('\n')
    expect(names).toEqual(
      expect.arrayContaining([LONG, VERY_LONG, 'run.sh', 'empty/', 'alias.mjs']),
    )
  })

  it('writes ustar headers with valid checksums and zeroed times and owners', async () => {
    const dir = tempDir()
    await writeFile(join(dir, 'a.js'), 'x')
    const tar = gunzipSync(await packDirectory(dir))
    const header = tar.subarray(0, 512)
    expect(header.toString('latin1', 0, 4)).toBe('a.js')
    expect(header.toString('latin1', 257, 263)).toBe('ustar\0')
    expect(header.toString('latin1', 136, 147)).toBe('0'.repeat(11)) // mtime
    expect(header.toString('latin1', 108, 115)).toBe('0'.repeat(7)) // uid
    let sum = 0
    for (let i = 0; i < 512; i++) sum += i >= 148 && i < 156 ? 0x20 : (header[i] ?? 0)
    expect(parseInt(header.toString('latin1', 148, 154), 8)).toBe(sum)
    expect(tar.length).toBe(512 * 4) // header, data, two zero blocks
  })

  it('refuses symlinks that leave the directory, loops, and trees over its limits', async () => {
    const outside = tempDir()
    await writeFile(join(outside, 'secret'), 'x')
    const escaping = tempDir()
    await symlink(join(outside, 'secret'), join(escaping, 'link'))
    await expect(packDirectory(escaping)).rejects.toMatchObject({
      name: 'PackDirectoryError',
      problem: 'symlink-outside',
      path: 'link',
    })
    const escapingDir = tempDir()
    await mkdir(join(escapingDir, 'sub'))
    await symlink('../..', join(escapingDir, 'sub', 'up'))
    await expect(packDirectory(escapingDir)).rejects.toMatchObject({ problem: 'symlink-outside' })

    const looping = tempDir()
    await mkdir(join(looping, 'a'))
    await symlink('..', join(looping, 'a', 'loop'))
    await expect(packDirectory(looping)).rejects.toMatchObject({
      problem: 'symlink-cycle',
      path: 'a/loop',
    })
    const broken = tempDir()
    await symlink('nowhere', join(broken, 'dangling'))
    await expect(packDirectory(broken)).rejects.toMatchObject({ problem: 'broken-symlink' })

    const full = tempDir()
    for (const name of ['a', 'b', 'c']) await writeFile(join(full, name), '12345')
    await expect(packDirectory(full, { maxEntries: 2 })).rejects.toMatchObject({
      problem: 'too-many-entries',
    })
    await expect(packDirectory(full, { maxBytes: 14 })).rejects.toMatchObject({
      problem: 'too-large',
    })
    await expect(packDirectory(join(full, 'a'))).rejects.toBeInstanceOf(PackDirectoryError)
    // The filter leaves out what it is not asked for, links included.
    const filtered = await packDirectory(escaping, { filter: (path) => path !== 'link' })
    expect(gunzipSync(filtered).every((byte) => byte === 0)).toBe(true)
  })
})

describe('the client stays light', () => {
  it('imports no package and no node:* module, but lazily (only to read and pack a path)', async () => {
    const src = new URL('../../src', import.meta.url).pathname
    const seen = new Set<string>()
    const bad: string[] = []
    const visit = async (file: string): Promise<void> => {
      if (seen.has(file)) return
      seen.add(file)
      const text = await readFile(join(src, file), 'utf8')
      // Static imports and re-exports that load code (not `import type` / `export type`).
      const statics = text.matchAll(/^(?:import|export)\s+(?!type\b)[^'"]*?from\s+'([^']+)'/gm)
      for (const [, specifier = ''] of statics) {
        if (!specifier.startsWith('.')) bad.push(`${file} imports ${specifier}`)
        else await visit(join(file, '..', specifier).replace(/\.js$/, '.ts'))
      }
    }
    await visit('client/index.ts')
    expect(bad).toEqual([])
    expect([...seen].sort()).toEqual([
      'client/client-error.ts',
      'client/function-source.ts',
      'client/index.ts',
      'client/invocation-handle.ts',
      'client/json-http.ts',
      'client/remote-function.ts',
      'names.ts',
    ])
  })
})

function hasTar(): boolean {
  try {
    execFileSync('tar', ['--version'], { stdio: 'ignore' })
    return true
  } catch {
    return false
  }
}
