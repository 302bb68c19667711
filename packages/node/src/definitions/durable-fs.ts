/** Small helpers for writes that survive a crash: fsync'd files, atomic replacement. */
import { open, rename, rm, type FileHandle } from 'node:fs/promises'
import { dirname } from 'node:path'

/** Makes a create or rename in `dir` durable; where a directory cannot be opened, a no-op. */
export async function syncDir(dir: string): Promise<void> {
  let handle: FileHandle | undefined
  try {
    handle = await open(dir, 'r')
    await handle.sync()
  } catch {
    // Windows cannot fsync a directory; NTFS orders the rename itself.
  } finally {
    await handle?.close().catch(() => undefined)
  }
}

/**
 * Replaces `path` with `data` atomically: a reader (or a peer restarting after a crash)
 * sees the old file or the new one, never a mix. Writes `<path>.tmp`, fsyncs, renames.
 */
export async function writeFileAtomic(path: string, data: string | Uint8Array): Promise<void> {
  const tmp = `${path}.tmp`
  const file = await open(tmp, 'w')
  try {
    await file.writeFile(data)
    await file.sync()
  } catch (err) {
    await file.close().catch(() => undefined)
    await rm(tmp, { force: true })
    throw err
  }
  await file.close()
  await rename(tmp, path)
  await syncDir(dirname(path))
}
