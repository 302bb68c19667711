/**
 * What a code path is (`codeFileKind`): the one rule the SDK's `deploy` reads paths by, and
 * `chorus deploy` with it (test/cli/commands/deploy.spec.ts checks the CLI follows it too).
 */
import { writeFile } from 'node:fs/promises'
import { join } from 'node:path'
import { describe, expect, it } from 'vitest'
import {
  BUNDLE_EXTENSIONS,
  MODULE_EXTENSIONS,
  codeFileKind,
  connect,
} from '../../src/client/index.js'
import { rejection, replies, tempDir, URL_ } from './support.js'

describe('codeFileKind', () => {
  it.each([
    ['resize.js', 'module'],
    ['resize.mjs', 'module'],
    ['RESIZE.MJS', 'module'],
    ['./lib/a.b.js', 'module'],
    ['app.tgz', 'bundle'],
    ['app.tar.gz', 'bundle'],
    ['App.TGZ', 'bundle'],
    ['resize.ts', undefined],
    ['resize.cjs', undefined],
    ['resize.json', undefined],
    ['app.gz', undefined],
    ['resize', undefined],
    ['js', undefined],
  ])('%s is %s', (path, kind) => {
    expect(codeFileKind(path)).toBe(kind)
  })

  it('is what the extension lists say', () => {
    for (const ext of MODULE_EXTENSIONS) expect(codeFileKind(`f${ext}`)).toBe('module')
    for (const ext of BUNDLE_EXTENSIONS) expect(codeFileKind(`f${ext}`)).toBe('bundle')
  })
})

describe('deploying from a path', () => {
  it('reads by codeFileKind, whatever the case of the extension', async () => {
    const dir = tempDir()
    await writeFile(join(dir, 'UPPER.MJS'), 'export default async () => 1\n')
    await writeFile(join(dir, 'app.tar.gz'), Buffer.from([0x1f, 0x8b, 9]))
    const { fetch, sent } = replies({ status: 201, body: { name: 'f', version: 1 } })
    const mesh = connect(URL_, { owner: 'acme', fetch })
    await mesh.deploy('a', join(dir, 'UPPER.MJS'))
    await mesh.deploy('b', join(dir, 'app.tar.gz'))
    expect(sent.map((s) => s.body)).toEqual([
      { name: 'a', runtime: 'nodejs', code: 'export default async () => 1\n' },
      { name: 'b', runtime: 'nodejs', codeBase64: Buffer.from([0x1f, 0x8b, 9]).toString('base64') },
    ])
  })

  it('refuses any other file, before reading it and sending anything', async () => {
    const dir = tempDir()
    const { fetch, sent } = replies({ status: 201, body: {} })
    const mesh = connect(URL_, { owner: 'acme', fetch })
    for (const name of ['fn.ts', 'fn.cjs', 'fn']) {
      await writeFile(join(dir, name), 'export default 1')
      const refused = await rejection(mesh.deploy('x', join(dir, name)))
      expect(refused).toMatchObject({ code: 'bad-request', status: undefined })
      expect(refused.message).toBe(
        `${join(dir, name)}: expected a .js or .mjs module, a .tgz bundle or a directory`,
      )
    }
    expect(sent).toEqual([])
  })
})
