/**
 * The definition log on disk: `<dataDir>/definitions/ops.jsonl`, one operation per line,
 * appended and fsync'd before `append` resolves (appends that arrive together share one
 * fsync), and `<dataDir>/definitions/snapshot.json`, the state compacted into one file.
 *
 * Compaction writes the snapshot to a temp file, fsyncs it, renames it over the old one,
 * then empties the log. A crash at any point leaves a snapshot and a log whose union holds
 * every operation (re-applying one twice changes nothing). A crash in the middle of an
 * append leaves a torn last line: `load` ignores it and cuts it off.
 */
import { mkdir, open, readFile, rm, truncate, type FileHandle } from 'node:fs/promises'
import { join } from 'node:path'
import { ChorusError } from '../errors.js'
import type { DefinitionOp } from './definition-op.js'
import { writeFileAtomic } from './durable-fs.js'
import type { Logger } from '../observability/logger.js'

export const SNAPSHOT_FORMAT = 'chorus-definitions/1'

/** Appended lines after which the store compacts on its own. */
export const DEFAULT_COMPACT_EVERY = 1000

export interface DefinitionStoreInit {
  /** Compact after this many appended operations (needs `snapshot`). */
  compactEvery?: number
  /** The operations a snapshot should hold now: the log's `entries()`. */
  snapshot?: () => readonly DefinitionOp[]
  log?: Logger
}

/** What `load` read: operations to restore (unchecked), and what it had to skip. */
export interface LoadedDefinitions {
  readonly ops: unknown[]
  /** Lines of the log that were not JSON (a torn last line among them). */
  readonly skippedLines: number
  /** The log ended in a partial line, which was cut off. */
  readonly tornTail: boolean
}

interface PendingAppend {
  readonly text: string
  readonly count: number
  readonly resolve: () => void
  readonly reject: (err: unknown) => void
}

export class DefinitionStore {
  readonly dir: string
  readonly logPath: string
  readonly snapshotPath: string
  readonly #init: DefinitionStoreInit
  readonly #compactEvery: number
  #file: FileHandle | undefined
  #tail: Promise<void> = Promise.resolve()
  #pending: PendingAppend[] = []
  #sinceCompaction = 0
  #closed = false

  constructor(dataDir: string, init: DefinitionStoreInit = {}) {
    this.dir = join(dataDir, 'definitions')
    this.logPath = join(this.dir, 'ops.jsonl')
    this.snapshotPath = join(this.dir, 'snapshot.json')
    this.#init = init
    this.#compactEvery = init.compactEvery ?? DEFAULT_COMPACT_EVERY
  }

  /** Operations appended since the last compaction. */
  get appendsSinceCompaction(): number {
    return this.#sinceCompaction
  }

  /** Reads the snapshot and the log, repairs a torn tail, and opens the log for appends. */
  async load(): Promise<LoadedDefinitions> {
    if (this.#file) throw new ChorusError('internal', 'definition store loaded twice')
    await mkdir(this.dir, { recursive: true })
    await rm(`${this.snapshotPath}.tmp`, { force: true })
    const ops = await this.#readSnapshot()
    const { lines, skippedLines, tornTail, validBytes } = await this.#readLog()
    if (tornTail) await truncate(this.logPath, validBytes)
    this.#file = await open(this.logPath, 'a')
    this.#sinceCompaction = lines.length
    return { ops: [...ops, ...lines], skippedLines, tornTail }
  }

  /** Appends operations; resolves once they are on disk. */
  append(ops: readonly DefinitionOp[]): Promise<void> {
    if (this.#closed) {
      return Promise.reject(new ChorusError('shutting-down', 'the definition store is closed'))
    }
    if (ops.length === 0) return Promise.resolve()
    const text = ops.map((op) => `${JSON.stringify(op)}\n`).join('')
    return new Promise<void>((resolve, reject) => {
      this.#pending.push({ text, count: ops.length, resolve, reject })
      this.#enqueue(() => this.#flush())
    })
  }

  /** Writes `ops` (or the `snapshot` of init) as the snapshot and empties the log. */
  compact(ops?: readonly DefinitionOp[]): Promise<void> {
    return new Promise<void>((resolve, reject) => {
      this.#enqueue(async () => {
        try {
          await this.#compactNow(ops)
          resolve()
        } catch (err) {
          reject(err instanceof Error ? err : new Error(String(err)))
        }
      })
    })
  }

  /** Waits for pending appends, compacts (with a `snapshot`), and closes the log. */
  async close(): Promise<void> {
    if (this.#closed) return
    this.#closed = true
    await new Promise<void>((resolve) => {
      this.#enqueue(async () => {
        try {
          if (this.#init.snapshot && this.#file) await this.#compactNow()
        } catch (err) {
          this.#init.log?.warn({ err }, 'compaction at close failed')
        }
        await this.#file?.close().catch(() => undefined)
        this.#file = undefined
        resolve()
      })
    })
  }

  // ----------------------------------------------------------------------------------

  /** Runs jobs one at a time, in order; a job's failure is its own (jobs catch their errors). */
  #enqueue(job: () => Promise<void>): void {
    this.#tail = this.#tail
      .then(job)
      .catch((err: unknown) => this.#init.log?.warn({ err }, 'definition store write failed'))
  }

  async #flush(): Promise<void> {
    const batch = this.#pending
    if (batch.length === 0) return
    this.#pending = []
    try {
      const file = this.#file
      if (!file) throw new ChorusError('internal', 'definition store is not loaded')
      await file.appendFile(batch.map((p) => p.text).join(''))
      await file.sync()
    } catch (err) {
      for (const p of batch) p.reject(err)
      return
    }
    for (const p of batch) {
      this.#sinceCompaction += p.count
      p.resolve()
    }
    if (this.#init.snapshot && this.#sinceCompaction >= this.#compactEvery) {
      await this.#compactNow().catch((err: unknown) =>
        this.#init.log?.warn({ err }, 'compaction failed'),
      )
    }
  }

  async #compactNow(given?: readonly DefinitionOp[]): Promise<void> {
    const file = this.#file
    if (!file) throw new ChorusError('internal', 'definition store is not loaded')
    // Taken now, after every earlier append: it holds all they wrote.
    const ops = given ?? this.#init.snapshot?.() ?? []
    await writeFileAtomic(this.snapshotPath, JSON.stringify({ format: SNAPSHOT_FORMAT, ops }))
    await file.truncate(0)
    await file.sync()
    this.#sinceCompaction = 0
  }

  async #readSnapshot(): Promise<unknown[]> {
    let text: string
    try {
      text = await readFile(this.snapshotPath, 'utf8')
    } catch (err) {
      if ((err as NodeJS.ErrnoException).code === 'ENOENT') return []
      throw err
    }
    let body: unknown
    try {
      body = JSON.parse(text)
    } catch {
      throw new ChorusError('internal', `${this.snapshotPath} is not JSON`, {
        path: this.snapshotPath,
      })
    }
    const { format, ops } = (body ?? {}) as { format?: unknown; ops?: unknown }
    if (format !== SNAPSHOT_FORMAT || !Array.isArray(ops)) {
      throw new ChorusError(
        'internal',
        `${this.snapshotPath} is not a ${SNAPSHOT_FORMAT} snapshot (format ${String(format)})`,
        { path: this.snapshotPath },
      )
    }
    return ops as unknown[]
  }

  async #readLog(): Promise<{
    lines: unknown[]
    skippedLines: number
    tornTail: boolean
    validBytes: number
  }> {
    let bytes: Buffer
    try {
      bytes = await readFile(this.logPath)
    } catch (err) {
      if ((err as NodeJS.ErrnoException).code === 'ENOENT') {
        return { lines: [], skippedLines: 0, tornTail: false, validBytes: 0 }
      }
      throw err
    }
    // Everything after the last newline is a line whose write did not finish.
    const validBytes = bytes.lastIndexOf(0x0a) + 1
    const tornTail = validBytes < bytes.byteLength
    const lines: unknown[] = []
    let skippedLines = tornTail ? 1 : 0
    for (const line of bytes.subarray(0, validBytes).toString('utf8').split('\n')) {
      if (line.trim() === '') continue
      try {
        lines.push(JSON.parse(line))
      } catch {
        skippedLines++
      }
    }
    if (skippedLines > 0) {
      this.#init.log?.warn({ file: this.logPath, skippedLines }, 'skipped unreadable lines')
    }
    return { lines, skippedLines, tornTail, validBytes }
  }
}
