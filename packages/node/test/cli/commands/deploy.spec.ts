/** `chorus deploy` against a fake peer: code from a path or an endpoint. */
import { mkdir, mkdtemp, readFile, rm, symlink, writeFile } from 'node:fs/promises'
import { tmpdir } from 'node:os'
import { join } from 'node:path'
import { BUNDLE_EXTENSIONS, MODULE_EXTENSIONS } from '../../../src/client/index.js'
import { extractBundle } from '../../../src/function-host/extract-bundle.js'
import { afterAll, beforeAll, describe, expect, it } from 'vitest'
import type { HttpServer } from '../../../src/http/http-api.js'
import type { FakePeerApi } from '../../fake-peer-api.js'
import { run, startFakePeer } from '../support.js'

let api: FakePeerApi
let server: HttpServer
let peer: string[]

beforeAll(async () => {
  ;({ api, server, peer } = await startFakePeer())
})

afterAll(async () => {
  await server.close()
})

describe('chorus deploy', () => {
  it('packs a directory into a bundle, and refuses one with a symlink leading outside it', async () => {
    const dir = await mkdtemp(join(tmpdir(), 'chorus-cli-dir-'))
    const fn = join(dir, 'fn')
    await mkdir(join(fn, 'lib'), { recursive: true })
    await writeFile(join(fn, 'index.js'), "export { default } from '../lib/impl.js'\n")
    await writeFile(join(fn, 'lib', 'impl.js'), 'export default async (x) => x\n')
    const packed = await run(['deploy', 'acme/dir', fn, ...peer])
    expect({ code: packed.code, stderr: packed.stderr }).toEqual({ code: 0, stderr: '' })
    const sent = api.deploys.at(-1)?.code
    expect(sent?.[0]).toBe(0x1f) // gzip: sent as codeBase64
    const out = join(dir, 'out')
    await mkdir(out)
    await extractBundle(sent ?? new Uint8Array(), out)
    expect(await readFile(join(out, 'lib', 'impl.js'), 'utf8')).toBe(
      'export default async (x) => x\n',
    )

    await symlink('/etc/hostname', join(fn, 'leak'))
    const refused = await run(['deploy', 'acme/dir', fn, ...peer])
    expect(refused.code).toBe(2)
    expect(refused.stderr).toMatch(/cannot pack .*fn.*outside/)
    await rm(dir, { recursive: true, force: true })
  })

  it('deploys an external endpoint with --url (provider http, no code)', async () => {
    const done = await run([
      'deploy',
      'acme/geo',
      '--url',
      'https://geo.example.com/run',
      '--timeout',
      '5000',
      ...peer,
    ])
    expect({ code: done.code, stderr: done.stderr }).toEqual({ code: 0, stderr: '' })
    expect(api.deploys.at(-1)).toMatchObject({
      owner: 'acme',
      name: 'geo',
      provider: 'http',
      url: 'https://geo.example.com/run',
      timeoutMs: 5000,
    })
    expect(api.deploys.at(-1)?.code).toBeUndefined()
  })

  it('deploys a module file with its settings, and a new version the second time', async () => {
    const dir = await mkdtemp(join(tmpdir(), 'chorus-cli-deploy-'))
    const file = join(dir, 'double.mjs')
    await writeFile(file, 'export default async (x) => x * 2\n')
    const first = await run([
      'deploy',
      'acme/double',
      file,
      '--memory',
      '256',
      '--timeout',
      '5000',
      ...peer,
    ])
    expect({ code: first.code, stderr: first.stderr }).toEqual({ code: 0, stderr: '' })
    expect(first.stdout).toMatch(/function\s+acme\/double\n/)
    expect(first.stdout).toMatch(/version\s+1\n/)
    expect(api.deploys.at(-1)).toMatchObject({
      owner: 'acme',
      name: 'double',
      runtime: 'nodejs',
      memoryMb: 256,
      timeoutMs: 5000,
    })
    const sent = api.deploys.at(-1)?.code
    expect(sent === undefined ? '' : Buffer.from(sent).toString('utf8')).toBe(
      'export default async (x) => x * 2\n',
    )
    const second = await run(['deploy', 'acme/double', file, '--json', ...peer])
    expect(JSON.parse(second.stdout)).toMatchObject({ name: 'double', version: 2 })
    await rm(dir, { recursive: true, force: true })
  })

  it('sends --batch and --batch-wait as the batch setting', async () => {
    const dir = await mkdtemp(join(tmpdir(), 'chorus-cli-batch-'))
    const file = join(dir, 'score.mjs')
    await writeFile(file, 'export default async (x) => x\n')
    const argv = ['deploy', 'acme/score', file, '--concurrency', '8', '--batch', '8']
    expect((await run([...argv, '--batch-wait', '0', ...peer])).code).toBe(0)
    expect(api.deploys.at(-1)).toMatchObject({ concurrency: 8, batch: { size: 8, waitMs: 0 } })
    expect((await run([...argv, ...peer])).code).toBe(0)
    expect(api.deploys.at(-1)?.batch).toEqual({ size: 8 })
    await rm(dir, { recursive: true, force: true })
  })

  it.each([
    [['deploy', 'acme/double'], /expected <owner>\/<function> <file-or-dir>/],
    [['deploy', 'acme/f', 'x.mjs', '--url', 'http://127.0.0.1:1/'], /with --url, expected/],
    [['deploy', 'acme/f', '--url', 'http://x/', '--command', '["a"]'], /--url takes no --command/],
    [['deploy', 'nofunction', 'x.mjs'], /expected <owner>\/<function>/],
    [['deploy', 'acme/f', '/nonexistent/file.mjs'], /cannot read/],
    [['deploy', 'acme/f', '/tmp', '--memory', '0'], /--memory must be a positive integer/],
    [['deploy', 'acme/f', '/tmp', '--runtime', 'python'], /--runtime must be nodejs or process/],
    [['deploy', 'acme/f', '/tmp', '--command', 'ls'], /--command must be a JSON array/],
    [['deploy', 'acme/f', '/tmp', '--batch', '0'], /--batch must be a positive integer/],
    [['deploy', 'acme/f', '/tmp', '--batch-wait', '5'], /--batch-wait needs --batch/],
    [['deploy', 'acme/f', '/tmp', '--batch', '2', '--batch-wait', 'soon'], /--batch-wait must be/],
  ])('refuses %j as a usage error', async (argv, message) => {
    const { code, stderr } = await run([...argv, ...peer])
    expect(code).toBe(2)
    expect(stderr).toMatch(message)
  })
})

describe('chorus deploy reads code paths by the SDK rule (codeFileKind)', () => {
  let dir: string

  beforeAll(async () => {
    dir = await mkdtemp(join(tmpdir(), 'chorus-cli-kinds-'))
  })

  afterAll(async () => {
    await rm(dir, { recursive: true, force: true })
  })

  it('sends a module of any case as code, and a .tar.gz as a bundle', async () => {
    const module = join(dir, 'LOUD.MJS')
    await writeFile(module, 'export default async () => 1\n')
    expect((await run(['deploy', 'acme/loud', module, ...peer])).code).toBe(0)
    expect(Buffer.from(api.deploys.at(-1)?.code ?? []).toString('utf8')).toBe(
      'export default async () => 1\n',
    )
    const bundle = join(dir, 'app.tar.gz')
    await writeFile(bundle, Buffer.from([0x1f, 0x8b, 8, 0]))
    expect((await run(['deploy', 'acme/app', bundle, ...peer])).code).toBe(0)
    expect([...(api.deploys.at(-1)?.code ?? [])]).toEqual([0x1f, 0x8b, 8, 0])
  })

  it('refuses any other file as the SDK does, a usage error, sending nothing', async () => {
    for (const name of ['fn.ts', 'fn.cjs', 'fn.json', 'fn']) {
      const path = join(dir, name)
      await writeFile(path, 'export default async () => 1\n')
      const before = api.deploys.length
      const { code, stdout, stderr } = await run(['deploy', 'acme/f', path, ...peer])
      expect({ code, stdout }).toEqual({ code: 2, stdout: '' })
      expect(stderr).toBe(
        `chorus deploy: ${path}: expected a .js or .mjs module, a .tgz bundle or a directory\n`,
      )
      expect(api.deploys).toHaveLength(before)
    }
  })

  it('names every extension the rule takes in its help', async () => {
    const { stdout } = await run(['deploy', '--help'])
    for (const ext of [...MODULE_EXTENSIONS, ...BUNDLE_EXTENSIONS]) expect(stdout).toContain(ext)
    expect(stdout.split('\n').every((line) => line.length <= 100)).toBe(true)
  })

  it('refuses an endpoint that is not http(s) before sending anything', async () => {
    const before = api.deploys.length
    const { code, stderr } = await run(['deploy', 'acme/f', '--url', 'ftp://x/run', ...peer])
    expect(code).toBe(2)
    expect(stderr).toBe('chorus deploy: url must be an http:// or https:// URL\n')
    expect(api.deploys).toHaveLength(before)
  })
})
