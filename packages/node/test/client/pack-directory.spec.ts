/** `packDirectory`, read back with the peer's own `extractBundle` (and `tar`, where there is one). */
import { execFileSync } from 'node:child_process'
import { chmod, mkdir, readdir, readFile, stat, symlink, writeFile } from 'node:fs/promises'
import { join, relative } from 'node:path'
import { gunzipSync } from 'node:zlib'
import { describe, expect, it } from 'vitest'
import { extractBundle } from '../../src/function-host/extract-bundle.js'
import { PackDirectoryError, packDirectory } from '../../src/client/pack-directory.js'
import { tempDir } from './support.js'

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

function hasTar(): boolean {
  try {
    execFileSync('tar', ['--version'], { stdio: 'ignore' })
    return true
  } catch {
    return false
  }
}
