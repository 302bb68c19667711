import { appendFile, readFile, stat, writeFile } from 'node:fs/promises'
import { afterEach, describe, expect, it } from 'vitest'
import { canonicalJson } from '../../src/definitions/canonical-json.js'
import { DefinitionLog } from '../../src/definitions/definition-log.js'
import type { DefinitionOp } from '../../src/definitions/definition-op.js'
import { DefinitionStore, SNAPSHOT_FORMAT } from '../../src/definitions/definition-store.js'
import { SPEC, tempDir } from './support.js'

const NOW = 1_000_000
const cleanups: (() => Promise<void>)[] = []
afterEach(async () => {
  await Promise.all(cleanups.splice(0).map((c) => c()))
})

async function dataDir(): Promise<string> {
  const { dir, remove } = await tempDir()
  cleanups.push(remove)
  return dir
}

/** A log with `n` functions deployed, and the operations that made it. */
function deployed(n: number, self = 'p1'): { log: DefinitionLog; ops: DefinitionOp[] } {
  const log = new DefinitionLog({ self })
  const ops: DefinitionOp[] = []
  for (let i = 0; i < n; i++) {
    const out = log.change(
      { type: 'deploy-function', owner: 'acme', name: `f${i % 7}`, spec: SPEC },
      NOW + i,
    )
    if (out.type !== 'applied') throw new Error(out.type)
    ops.push(out.op)
  }
  return { log, ops }
}

/** The state a peer restarting on `dir` would have. */
async function reload(dir: string): Promise<{ state: string[]; skipped: number; torn: boolean }> {
  const store = new DefinitionStore(dir)
  const loaded = await store.load()
  await store.close()
  const log = new DefinitionLog({ self: 'p1' })
  for (const op of loaded.ops) log.restore(op)
  return { state: stateOf(log), skipped: loaded.skippedLines, torn: loaded.tornTail }
}

function stateOf(log: DefinitionLog): string[] {
  return log.entries().map(canonicalJson).sort()
}

describe('DefinitionStore', () => {
  it('starts empty, persists appends, and loads them back', async () => {
    const dir = await dataDir()
    const store = new DefinitionStore(dir)
    expect(await store.load()).toEqual({ ops: [], skippedLines: 0, tornTail: false })
    const { log, ops } = deployed(10)
    for (const op of ops) await store.append([op])
    await store.close()
    expect((await readFile(store.logPath, 'utf8')).trim().split('\n')).toHaveLength(10)
    expect((await reload(dir)).state).toEqual(stateOf(log))
  })

  it('writes appends that arrive together, each resolved once on disk', async () => {
    const dir = await dataDir()
    const store = new DefinitionStore(dir)
    await store.load()
    const { log, ops } = deployed(50)
    await Promise.all(ops.map((op) => store.append([op])))
    await store.close()
    expect((await reload(dir)).state).toEqual(stateOf(log))
  })

  it('ignores a torn last line, cuts it off, and appends cleanly after it', async () => {
    const dir = await dataDir()
    const store = new DefinitionStore(dir)
    await store.load()
    const { ops } = deployed(3)
    await store.append(ops.slice(0, 2))
    await store.close()
    // A crash in the middle of writing the third line.
    const third = JSON.stringify(ops[2])
    await appendFile(store.logPath, third.slice(0, third.length - 10))
    const again = new DefinitionStore(dir)
    const loaded = await again.load()
    expect(loaded).toMatchObject({ skippedLines: 1, tornTail: true })
    expect(loaded.ops).toHaveLength(2)
    const text = await readFile(again.logPath, 'utf8')
    expect(text.endsWith('\n')).toBe(true)
    await again.append([ops[2]!])
    await again.close()
    const log = new DefinitionLog({ self: 'p1' })
    for (const op of ops) log.restore(op)
    expect(await reload(dir)).toEqual({ state: stateOf(log), skipped: 0, torn: false })
  })

  it('skips a garbled line in the middle and keeps the rest', async () => {
    const dir = await dataDir()
    const store = new DefinitionStore(dir)
    await store.load()
    const { ops } = deployed(2)
    await store.append([ops[0]!])
    await store.close()
    await appendFile(store.logPath, '{"kind":\u0000garbage\n')
    const again = new DefinitionStore(dir)
    await again.load()
    await again.append([ops[1]!])
    await again.close()
    const reloaded = await reload(dir)
    expect(reloaded.skipped).toBe(1)
    expect(reloaded.state).toHaveLength(2)
  })

  it('compacts into a snapshot every compactEvery appends, emptying the log', async () => {
    const dir = await dataDir()
    const { log, ops } = deployed(25)
    const store = new DefinitionStore(dir, { compactEvery: 10, snapshot: () => log.entries() })
    await store.load()
    for (const op of ops) await store.append([op])
    expect(store.appendsSinceCompaction).toBe(5)
    const snapshot = JSON.parse(await readFile(store.snapshotPath, 'utf8')) as {
      format: string
      ops: unknown[]
    }
    expect(snapshot.format).toBe(SNAPSHOT_FORMAT)
    expect(snapshot.ops).toHaveLength(7)
    expect((await readFile(store.logPath, 'utf8')).trim().split('\n')).toHaveLength(5)
    await store.close()
    // Closing compacts too.
    expect((await stat(store.logPath)).size).toBe(0)
    expect((await reload(dir)).state).toEqual(stateOf(log))
  })

  it('compacts on demand with the operations given', async () => {
    const dir = await dataDir()
    const { log, ops } = deployed(5)
    const store = new DefinitionStore(dir)
    await store.load()
    await store.append(ops)
    await store.compact(log.entries())
    expect(store.appendsSinceCompaction).toBe(0)
    await store.close()
    expect((await reload(dir)).state).toEqual(stateOf(log))
  })

  it('loads the union of snapshot and log after a crash between the two steps of a compaction', async () => {
    const dir = await dataDir()
    const { log, ops } = deployed(6)
    const store = new DefinitionStore(dir)
    await store.load()
    await store.append(ops)
    await store.close()
    // The snapshot was renamed into place, the log not yet emptied; and a stray temp file.
    await writeFile(
      store.snapshotPath,
      JSON.stringify({ format: SNAPSHOT_FORMAT, ops: log.entries() }),
    )
    await writeFile(`${store.snapshotPath}.tmp`, '{"format":"chorus-defin')
    expect((await reload(dir)).state).toEqual(stateOf(log))
  })

  it('refuses to start on a snapshot that is not one, with a clear error', async () => {
    const dir = await dataDir()
    const store = new DefinitionStore(dir)
    await store.load()
    await store.close()
    await writeFile(store.snapshotPath, '{"format":"something-else","ops":[]}')
    await expect(new DefinitionStore(dir).load()).rejects.toThrow(
      /is not a chorus-definitions\/1 snapshot/,
    )
    await writeFile(store.snapshotPath, 'not json')
    await expect(new DefinitionStore(dir).load()).rejects.toThrow(/snapshot.json is not JSON/)
  })

  it('refuses appends once closed', async () => {
    const store = new DefinitionStore(await dataDir())
    await store.load()
    await store.close()
    await expect(store.append(deployed(1).ops)).rejects.toMatchObject({ code: 'shutting-down' })
  })
})
