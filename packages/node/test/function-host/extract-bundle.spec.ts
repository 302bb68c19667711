import { execFileSync } from 'node:child_process'
import { mkdirSync, readFileSync, statSync, writeFileSync } from 'node:fs'
import { join } from 'node:path'
import { gzipSync } from 'node:zlib'
import { describe, expect, it } from 'vitest'
import { ChorusError } from '../../src/errors.js'
import { extractBundle } from '../../src/function-host/index.js'
import { SLOW, rejection, startHost, tempDir } from './helpers.js'

const LONG = `${'deep/'.repeat(25)}module.mjs` // 135 characters: over ustar's 100

let hasTar = true
try {
  execFileSync('tar', ['--version'], { stdio: 'ignore' })
} catch {
  hasTar = false
}

/** A source tree for a bundle: an ES module entry with a relative import, a long path, a binary. */
function sourceTree(): string {
  const dir = tempDir()
  mkdirSync(join(dir, 'lib'))
  writeFileSync(join(dir, 'package.json'), JSON.stringify({ main: 'lib/main.mjs' }))
  writeFileSync(
    join(dir, 'lib/main.mjs'),
    "import { shout } from './shout.mjs'\nexport default async (input) => shout(input.name)\n",
  )
  writeFileSync(join(dir, 'lib/shout.mjs'), 'export const shout = (s) => `${s.toUpperCase()}!`\n')
  mkdirSync(join(dir, LONG, '..'), { recursive: true })
  writeFileSync(join(dir, LONG), 'export default 1\n')
  writeFileSync(join(dir, 'run.sh'), '#!/bin/sh\necho hi\n', { mode: 0o755 })
  return dir
}

/** Packs `dir` with the system's tar (GNU or bsdtar) in a given format. */
function tarball(dir: string, format: string, prefix = '.'): Buffer {
  const out = join(tempDir(), 'bundle.tgz')
  execFileSync('tar', [`--format=${format}`, '-czf', out, '-C', dir, prefix])
  return readFileSync(out)
}

/** One hand-made ustar header + data, for archives tar itself would not write. */
function entry(name: string, type: string, data = ''): Buffer {
  const header = Buffer.alloc(512)
  header.write(name, 0, 100, 'utf8')
  header.write('0000644\0', 100)
  header.write('0000000\0', 108)
  header.write('0000000\0', 116)
  header.write(`${Buffer.byteLength(data).toString(8).padStart(11, '0')}\0`, 124)
  header.write('00000000000\0', 136)
  header.write(type, 156)
  header.write('ustar\0', 257)
  header.write('00', 263)
  header.fill(0x20, 148, 156)
  let sum = 0
  for (const byte of header) sum += byte
  header.write(`${sum.toString(8).padStart(6, '0')}\0 `, 148)
  const body = Buffer.alloc(Math.ceil(Buffer.byteLength(data) / 512) * 512)
  body.write(data)
  return Buffer.concat([header, body])
}

function archive(...entries: Buffer[]): Buffer {
  return gzipSync(Buffer.concat([...entries, Buffer.alloc(1024)]))
}

describe('extractBundle', SLOW, () => {
  for (const format of ['gnu', 'pax', 'ustar']) {
    it.skipIf(!hasTar)(
      `unpacks a ${format} .tgz made by tar, long names and modes kept`,
      async () => {
        const dest = tempDir()
        // gnu keeps the long path in a ././@LongLink entry, pax in a pax header, ustar in its
        // prefix field
        const result = await extractBundle(tarball(sourceTree(), format), dest)
        expect(result.files).toBe(5)
        expect(readFileSync(join(dest, 'lib/shout.mjs'), 'utf8')).toContain('toUpperCase')
        expect(readFileSync(join(dest, LONG), 'utf8')).toBe('export default 1\n')
        expect(statSync(join(dest, 'run.sh')).mode & 0o111).not.toBe(0)
        expect(statSync(join(dest, 'lib/main.mjs')).mode & 0o111).toBe(0)
      },
    )
  }

  it.skipIf(!hasTar)('strips leading components, like npm pack’s package/', async () => {
    const root = tempDir()
    const source = sourceTree()
    execFileSync('cp', ['-r', source, join(root, 'package')])
    const dest = tempDir()
    await extractBundle(tarball(root, 'pax', 'package'), dest, { strip: 1 })
    expect(readFileSync(join(dest, 'package.json'), 'utf8')).toContain('lib/main.mjs')
  })

  it.skipIf(!hasTar)('gives a nodejs host its codeDir', async () => {
    const dest = tempDir()
    await extractBundle(tarball(sourceTree(), 'pax'), dest)
    const host = await startHost({ runtime: 'nodejs', codeDir: dest, memoryMb: 64, concurrency: 1 })
    expect(await host.run({ name: 'ada' }, { invocationId: 'b1', timeoutMs: 5_000 })).toBe('ADA!')
  })

  it('unpacks a plain tar too', async () => {
    const dest = tempDir()
    const tar = Buffer.concat([entry('a/b.txt', '0', 'bee'), Buffer.alloc(1024)])
    expect(await extractBundle(tar, dest)).toEqual({ files: 1, bytes: 3 })
    expect(readFileSync(join(dest, 'a/b.txt'), 'utf8')).toBe('bee')
  })

  it.each([
    ['a path that climbs out', entry('../evil.txt', '0', 'x'), /climbs out of the bundle/],
    ['an absolute path', entry('/etc/evil', '0', 'x'), /is an absolute path/],
    ['a symlink', entry('link', '2'), /link is a link/],
    ['a hard link', entry('hard', '1'), /hard is a link/],
    ['a device', entry('dev', '3'), /device or a fifo/],
  ])('refuses %s', async (_what, bad, message) => {
    const dest = tempDir()
    const err = await rejection(extractBundle(archive(bad), dest))
    expect(err).toBeInstanceOf(ChorusError)
    expect((err as ChorusError).code).toBe('bad-request')
    expect(err.message).toMatch(message)
  })

  it('refuses more than maxBytes unpacked, and more than maxEntries', async () => {
    const big = archive(entry('a', '0', 'x'.repeat(1000)), entry('b', '0', 'y'.repeat(1000)))
    expect((await rejection(extractBundle(big, tempDir(), { maxBytes: 1500 }))).message).toBe(
      'bundle: larger than 1500 bytes unpacked',
    )
    expect((await rejection(extractBundle(big, tempDir(), { maxEntries: 1 }))).message).toBe(
      'bundle: more than 1 entries',
    )
  })

  it('refuses what is not a tar archive', async () => {
    const err = await rejection(
      extractBundle(gzipSync(Buffer.from('hello'.repeat(200))), tempDir()),
    )
    expect(err.message).toMatch(/^bundle: not a tar archive/)
    const gz = await rejection(extractBundle(Buffer.from([0x1f, 0x8b, 1, 2, 3]), tempDir()))
    expect(gz.message).toMatch(/^bundle: not a gzip archive/)
  })
})
