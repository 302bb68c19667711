/**
 * I/O-bound: stores its input as a JSON file (in the host's own temp directory) and waits
 * for a simulated 100 ms round trip to a remote store. Almost all of its time is waiting,
 * so one host can run many at once (it is deployed with a high `concurrency`).
 */
import { Buffer } from 'node:buffer'
import { createHash } from 'node:crypto'
import { readFile, writeFile } from 'node:fs/promises'
import { tmpdir } from 'node:os'
import { join } from 'node:path'
import { setTimeout as delay } from 'node:timers/promises'

export default async (input) => {
  const text = JSON.stringify(input ?? null)
  const key = createHash('sha256').update(text).digest('hex').slice(0, 12)
  const file = join(tmpdir(), `${key}.json`)
  await writeFile(file, text)
  await delay(100) // the network
  const stored = await readFile(file, 'utf8')
  return { key, bytes: Buffer.byteLength(stored) }
}
