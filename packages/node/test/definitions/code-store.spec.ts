import { createHash } from 'node:crypto'
import { mkdir, readFile, readdir, writeFile } from 'node:fs/promises'
import { join } from 'node:path'
import { afterEach, describe, expect, it } from 'vitest'
import { CodeStore, sha256Hex } from '../../src/definitions/code-store.js'
import { CodeIntegrityError, CodeTooLargeError } from '../../src/definitions/errors.js'
import { tempDir } from './support.js'

const cleanups: (() => Promise<void>)[] = []
afterEach(async () => {
  await Promise.all(cleanups.splice(0).map((c) => c()))
})

async function openStore(maxBytes?: number): Promise<{ store: CodeStore; dir: string }> {
  const { dir, remove } = await tempDir()
  cleanups.push(remove)
  const store = new CodeStore(dir, maxBytes === undefined ? {} : { maxBytes })
  await store.open()
  return { store, dir }
}

const code = new TextEncoder().encode('export default async (x) => x * 2\n')
const digest = createHash('sha256').update(code).digest('hex')

async function tmpFiles(dir: string): Promise<string[]> {
  return readdir(join(dir, 'code', 'tmp'))
}

describe('CodeStore', () => {
  it('stores bytes under their sha256 and gives them back', async () => {
    const { store, dir } = await openStore()
    expect(await store.has(digest)).toBe(false)
    expect(await store.get(digest)).toBeUndefined()
    expect(await store.put(code)).toBe(digest)
    expect(store.path(digest)).toBe(join(dir, 'code', 'sha256', digest))
    expect(await readFile(store.path(digest))).toEqual(Buffer.from(code))
    expect(await store.has(digest)).toBe(true)
    expect(await store.size(digest)).toBe(code.byteLength)
    expect(await store.get(digest)).toEqual(new Uint8Array(code))
    // Storing it again is a no-op.
    expect(await store.put(code, digest)).toBe(digest)
    expect(await store.list()).toEqual([digest])
    expect(await tmpFiles(dir)).toEqual([])
  })

  it('refuses bytes that do not match the digest they came with, and stores nothing', async () => {
    const { store, dir } = await openStore()
    const wrong = sha256Hex(new TextEncoder().encode('something else'))
    const err = await store.put(code, wrong).catch((e: unknown) => e)
    expect(err).toBeInstanceOf(CodeIntegrityError)
    expect(err).toMatchObject({ code: 'bad-request', expected: wrong, actual: digest })
    expect(await store.list()).toEqual([])
    expect(await tmpFiles(dir)).toEqual([])
  })

  it('refuses and removes a blob that was changed on disk', async () => {
    const { store } = await openStore()
    await store.put(code)
    await writeFile(store.path(digest), 'export default () => "evil"')
    await expect(store.get(digest)).rejects.toBeInstanceOf(CodeIntegrityError)
    expect(await store.has(digest)).toBe(false)
  })

  it('refuses code over the size limit', async () => {
    const { store } = await openStore(10)
    await expect(store.put(code)).rejects.toBeInstanceOf(CodeTooLargeError)
    const writer = store.writer()
    await writer.write(code.subarray(0, 8))
    await expect(writer.write(code.subarray(8, 16))).rejects.toMatchObject({
      code: 'body-too-large',
    })
    await writer.abort()
    expect(await store.list()).toEqual([])
  })

  it('writes a blob in pieces, checking the digest of the whole before it is stored', async () => {
    const { store, dir } = await openStore()
    const good = store.writer(digest, 'peerX')
    for (let at = 0; at < code.byteLength; at += 5) await good.write(code.subarray(at, at + 5))
    expect(good.written).toBe(code.byteLength)
    expect(await good.commit()).toBe(digest)
    expect(await store.get(digest)).toEqual(new Uint8Array(code))

    const other = sha256Hex(new TextEncoder().encode('other'))
    const bad = store.writer(other, 'peerX')
    await bad.write(code)
    const err = await bad.commit().catch((e: unknown) => e)
    expect(err).toBeInstanceOf(CodeIntegrityError)
    expect(err).toMatchObject({ code: 'protocol-error', from: 'peerX' })
    expect((err as Error).message).toMatch(/refused code from peerX: its sha256 is/)
    expect(await store.has(other)).toBe(false)
    expect(await tmpFiles(dir)).toEqual([])
  })

  it('stores an empty blob', async () => {
    const { store } = await openStore()
    const empty = await store.put(new Uint8Array())
    expect(empty).toBe(sha256Hex(new Uint8Array()))
    expect(await store.get(empty)).toEqual(new Uint8Array())
  })

  it('reads ranges of a blob', async () => {
    const { store } = await openStore()
    await store.put(code)
    expect(await store.read(digest, 0, 6)).toEqual({
      size: code.byteLength,
      data: code.subarray(0, 6),
    })
    expect((await store.read(digest, code.byteLength - 3, 100))?.data).toEqual(code.subarray(-3))
    expect((await store.read(digest, code.byteLength + 5, 10))?.data).toEqual(new Uint8Array())
    expect(await store.read('f'.repeat(64), 0, 10)).toBeUndefined()
  })

  it('removes temp files a crash left behind when it opens', async () => {
    const { store, dir } = await openStore()
    await writeFile(join(dir, 'code', 'tmp', 'dead.part'), 'half')
    await store.open()
    expect(await tmpFiles(dir)).toEqual([])
  })

  it('never builds a path from something that is not a digest', async () => {
    const { store, dir } = await openStore()
    await mkdir(join(dir, 'secret'), { recursive: true })
    expect(() => store.path('../../secret')).toThrow(/not a sha256 digest/)
    expect(await store.has('../../secret')).toBe(false)
    expect(await store.get('../../secret')).toBeUndefined()
    expect(await store.read('../x', 0, 1)).toBeUndefined()
  })
})
