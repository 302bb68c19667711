/**
 * `connect`, `MeshClient` and `Mesh` against a fake `fetch`: what each call sends and what
 * it makes of the answer. The SDK against a real peer is in test/client.spec.ts.
 */
import { mkdir, readFile, symlink, writeFile } from 'node:fs/promises'
import { join } from 'node:path'
import { describe, expect, it } from 'vitest'
import { ChorusClientError, connect, type RunTrace } from '../../src/client/index.js'
import { extractBundle } from '../../src/function-host/extract-bundle.js'
import { FAST_POLL, rejection, replies, tempDir, URL_, view } from './support.js'

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

describe('a client with no owner', () => {
  it('asks what any caller may: the peers, the schedulers, an invocation', async () => {
    const scheduler = { owner: 'acme', provider: 'mesh', peerId: 'p1', guid: 'g', epoch: 1 }
    const { fetch, sent } = replies(
      { status: 200, body: { self: 'p1', peers: [{ peerId: 'p1', state: 'alive' }] } },
      { status: 200, body: { schedulers: [scheduler] } },
      { status: 200, body: { schedulers: [] } },
      { status: 200, body: { id: 'i 1', status: 'running' } },
    )
    const client = connect(`${URL_}/`, { fetch })
    expect(client.url).toBe(URL_)
    expect('deploy' in client).toBe(false)
    expect((await client.peers()).self).toBe('p1')
    expect(await client.schedulers()).toEqual([scheduler])
    expect(await client.schedulers({ local: true })).toEqual([])
    expect(await client.invocation('i 1').status()).toEqual({ id: 'i 1', status: 'running' })
    expect(sent.map((s) => `${s.method} ${s.url.slice(URL_.length)}`)).toEqual([
      'GET /v1/mesh/peers',
      'GET /v1/mesh/schedulers',
      'GET /v1/mesh/schedulers?local=1',
      'GET /v1/invocations/i%201',
    ])
  })

  it('acts for an owner through the same peer with forOwner, checking the owner first', async () => {
    const { fetch, sent } = replies({ status: 200, body: { functions: [] } })
    const client = connect(URL_, { fetch, timeoutMs: 1_000 })
    const acme = client.forOwner('acme')
    expect({ url: acme.url, owner: acme.owner }).toEqual({ url: URL_, owner: 'acme' })
    expect(await acme.functions()).toEqual([])
    expect(sent[0]?.url).toBe(`${URL_}/v1/owners/acme/functions`)
    expect(() => client.forOwner('a/b')).toThrow(ChorusClientError)
    expect(() => client.forOwner('')).toThrow(/owner must not be empty/)
    expect(() => connect('ftp://peer')).toThrow(/http: or https:/)
    expect(sent).toHaveLength(1)
  })
})

describe('one function or choreography, and strict listings', () => {
  it('gets one by name, each segment encoded', async () => {
    const fn = { owner: 'acme', name: 'img/re size', version: 3 }
    const pipe = { owner: 'acme', name: 'pipe', version: 1, definition: { function: 'f' } }
    const { fetch, sent } = replies({ status: 200, body: fn }, { status: 200, body: pipe })
    const mesh = connect(URL_, { owner: 'acme', fetch })
    expect(await mesh.getFunction('img/re size')).toEqual(fn)
    expect(await mesh.getChoreography('pipe')).toEqual(pipe)
    expect(sent.map((s) => `${s.method} ${s.url.slice(URL_.length)}`)).toEqual([
      'GET /v1/owners/acme/functions/img/re%20size',
      'GET /v1/owners/acme/choreographies/pipe',
    ])
  })

  it('rejects an unknown owner with strict, where the default answers none', async () => {
    const unknownOwner = {
      status: 404,
      body: { error: { code: 'unknown-owner', message: 'no owner acme on this mesh' } },
    }
    const { fetch } = replies(unknownOwner)
    const mesh = connect(URL_, { owner: 'acme', fetch })
    expect(await mesh.choreographies()).toEqual([])
    expect(await rejection(mesh.choreographies({ strict: true }))).toMatchObject({
      code: 'unknown-owner',
      status: 404,
    })
    expect(await rejection(mesh.functions({ strict: true }))).toMatchObject({
      code: 'unknown-owner',
    })
    const missing = replies({
      status: 404,
      body: { error: { code: 'unknown-choreography', message: 'no choreography x' } },
    })
    const other = connect(URL_, { owner: 'acme', fetch: missing.fetch })
    expect(await rejection(other.getChoreography('x'))).toMatchObject({
      code: 'unknown-choreography',
      status: 404,
    })
  })
})
