/**
 * Content-addressed code on disk: `<dataDir>/code/sha256/<hex>`, where hex is the sha256 of
 * the bytes. A blob is written to `<dataDir>/code/tmp/` and renamed into place once its
 * digest checks out, so a reader never sees a half-written or unverified blob, and a crash
 * leaves at most a temp file (removed at the next `open`).
 */
import { createHash, randomBytes, type Hash } from 'node:crypto'
import {
  mkdir,
  open as openFile,
  readFile,
  readdir,
  rename,
  rm,
  stat,
  type FileHandle,
} from 'node:fs/promises'
import { join } from 'node:path'
import { ChorusError } from '../errors.js'
import { syncDir } from './durable-fs.js'
import { isDigest } from './digest.js'
import { CodeIntegrityError, CodeTooLargeError } from './errors.js'

// Blobs are named by their digest; the replicator has always found the check here.
export { isDigest } from './digest.js'

/** Largest code blob by default: 50 MiB. */
export const DEFAULT_MAX_CODE_BYTES = 50 * 1024 * 1024

export function sha256Hex(bytes: Uint8Array): string {
  return createHash('sha256').update(bytes).digest('hex')
}

export interface CodeStoreInit {
  /** Largest blob accepted. */
  maxBytes?: number
}

/** An incremental write of one blob: bytes in, then `commit` verifies and stores them. */
export interface CodeWriter {
  readonly written: number
  write(chunk: Uint8Array): Promise<void>
  /** Checks the digest; stores the blob and returns its digest, or refuses and throws. */
  commit(): Promise<string>
  /** Drops what was written. */
  abort(): Promise<void>
}

export class CodeStore {
  readonly root: string
  readonly maxBytes: number
  readonly #blobs: string
  readonly #tmp: string

  constructor(dataDir: string, init: CodeStoreInit = {}) {
    this.root = join(dataDir, 'code')
    this.#blobs = join(this.root, 'sha256')
    this.#tmp = join(this.root, 'tmp')
    this.maxBytes = init.maxBytes ?? DEFAULT_MAX_CODE_BYTES
  }

  /** Creates the directories and removes temp files a crash left behind. */
  async open(): Promise<void> {
    await mkdir(this.#blobs, { recursive: true })
    await rm(this.#tmp, { recursive: true, force: true })
    await mkdir(this.#tmp, { recursive: true })
  }

  /** Where the blob with this digest is (or would be). */
  path(digest: string): string {
    if (!isDigest(digest)) throw new ChorusError('bad-request', `not a sha256 digest: ${digest}`)
    return join(this.#blobs, digest)
  }

  async has(digest: string): Promise<boolean> {
    return (await this.size(digest)) !== undefined
  }

  /** The blob's size in bytes, or undefined if it is not here. */
  async size(digest: string): Promise<number | undefined> {
    if (!isDigest(digest)) return undefined
    try {
      return (await stat(this.path(digest))).size
    } catch (err) {
      if (isNotFound(err)) return undefined
      throw err
    }
  }

  /** Digests of the blobs here. */
  async list(): Promise<string[]> {
    return (await readdir(this.#blobs)).filter((name) => isDigest(name)).sort()
  }

  /**
   * Stores `bytes` and returns their digest. With `expected`, bytes of another digest are
   * refused (CodeIntegrityError) and nothing is stored.
   */
  async put(bytes: Uint8Array, expected?: string): Promise<string> {
    if (bytes.byteLength > this.maxBytes) {
      throw new CodeTooLargeError({ size: bytes.byteLength, limit: this.maxBytes })
    }
    const digest = sha256Hex(bytes)
    if (expected !== undefined && digest !== expected) {
      throw new CodeIntegrityError({ expected, actual: digest })
    }
    if (await this.has(digest)) return digest
    const writer = this.writer(digest)
    try {
      await writer.write(bytes)
    } catch (err) {
      await writer.abort()
      throw err
    }
    return writer.commit()
  }

  /**
   * A writer for a blob that should have digest `expected` (bytes from another peer): the
   * bytes go to a temp file as they come and are hashed on the way.
   */
  writer(expected?: string, from?: string): CodeWriter {
    return new TempBlobWriter(this, this.#tmp, this.maxBytes, expected, from)
  }

  /**
   * The blob's bytes, checked against their digest; undefined if it is not here. A blob that
   * no longer matches (changed on disk) is removed and refused.
   */
  async get(digest: string): Promise<Uint8Array | undefined> {
    if (!isDigest(digest)) return undefined
    let bytes: Uint8Array
    try {
      const buffer = await readFile(this.path(digest))
      bytes = new Uint8Array(buffer.buffer, buffer.byteOffset, buffer.byteLength)
    } catch (err) {
      if (isNotFound(err)) return undefined
      throw err
    }
    const actual = sha256Hex(bytes)
    if (actual !== digest) {
      await rm(this.path(digest), { force: true })
      throw new CodeIntegrityError({ expected: digest, actual })
    }
    return bytes
  }

  /** Up to `length` bytes from `offset` (unchecked: the reader verifies the whole). */
  async read(
    digest: string,
    offset: number,
    length: number,
  ): Promise<{ size: number; data: Uint8Array } | undefined> {
    if (!isDigest(digest)) return undefined
    let file: FileHandle
    try {
      file = await openFile(this.path(digest), 'r')
    } catch (err) {
      if (isNotFound(err)) return undefined
      throw err
    }
    try {
      const { size } = await file.stat()
      const want = Math.max(0, Math.min(length, size - offset))
      const data = new Uint8Array(want)
      let at = 0
      while (at < want) {
        const { bytesRead } = await file.read(data, at, want - at, offset + at)
        if (bytesRead === 0) break
        at += bytesRead
      }
      return { size, data: data.subarray(0, at) }
    } finally {
      await file.close()
    }
  }

  /** @internal Moves a verified temp file into place. */
  async install(tmpPath: string, digest: string): Promise<void> {
    if (await this.has(digest)) {
      await rm(tmpPath, { force: true })
      return
    }
    await rename(tmpPath, this.path(digest))
    await syncDir(this.#blobs)
  }
}

class TempBlobWriter implements CodeWriter {
  readonly #hash: Hash = createHash('sha256')
  readonly #path: string
  #file: Promise<FileHandle> | undefined
  #written = 0
  #done = false

  constructor(
    private readonly store: CodeStore,
    tmpDir: string,
    private readonly maxBytes: number,
    private readonly expected: string | undefined,
    private readonly from: string | undefined,
  ) {
    this.#path = join(tmpDir, `${randomBytes(8).toString('hex')}.part`)
  }

  get written(): number {
    return this.#written
  }

  async write(chunk: Uint8Array): Promise<void> {
    if (this.#done) throw new ChorusError('internal', 'write after commit or abort')
    if (this.#written + chunk.byteLength > this.maxBytes) {
      throw new CodeTooLargeError({ size: this.#written + chunk.byteLength, limit: this.maxBytes })
    }
    this.#hash.update(chunk)
    this.#written += chunk.byteLength
    this.#file ??= openFile(this.#path, 'wx')
    const file = await this.#file
    await file.writeFile(chunk)
  }

  async commit(): Promise<string> {
    if (this.#done) throw new ChorusError('internal', 'commit after commit or abort')
    this.#done = true
    const digest = this.#hash.digest('hex')
    try {
      if (this.expected !== undefined && digest !== this.expected) {
        throw new CodeIntegrityError({
          expected: this.expected,
          actual: digest,
          ...(this.from === undefined ? {} : { from: this.from }),
        })
      }
      this.#file ??= openFile(this.#path, 'wx')
      const file = await this.#file
      await file.sync()
      await file.close()
      this.#file = undefined
      await this.store.install(this.#path, digest)
      return digest
    } catch (err) {
      await this.#discard()
      throw err
    }
  }

  async abort(): Promise<void> {
    this.#done = true
    await this.#discard()
  }

  async #discard(): Promise<void> {
    const file = this.#file
    this.#file = undefined
    if (file) await (await file.catch(() => undefined))?.close().catch(() => undefined)
    await rm(this.#path, { force: true })
  }
}

function isNotFound(err: unknown): boolean {
  return (err as NodeJS.ErrnoException | undefined)?.code === 'ENOENT'
}
