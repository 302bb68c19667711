import { spawn } from 'node:child_process'
import { readdirSync, writeFileSync } from 'node:fs'
import { createRequire } from 'node:module'
import { join } from 'node:path'
import { createInterface } from 'node:readline'
import { pathToFileURL } from 'node:url'
import { afterEach, describe, expect, it } from 'vitest'
import { SLOW, gone, tempDir, waitFor } from './helpers.js'

/** A peer stand-in: starts hosts, prints their PIDs, then exits or waits to be killed. */
const PARENT = `
const { FunctionHost } = await import(process.argv[2])
const [mode, tmpDir] = process.argv.slice(3)
const spec = { memoryMb: 64, concurrency: 1 }
const nodejs = await FunctionHost.start({ ...spec, runtime: 'nodejs', code: 'export default async () => 1' }, { tmpDir })
const serve = "require('http').createServer((q, s) => s.end('1')).listen(process.env.PORT, '127.0.0.1')"
const proc = await FunctionHost.start({ ...spec, runtime: 'process', command: [process.execPath, '-e', serve] }, { tmpDir })
process.stdout.write(JSON.stringify({ nodejs: nodejs.pid, process: proc?.pid }) + '\\n')
if (mode === 'exit') process.exit(0)
setInterval(() => {}, 1000)
`

const INDEX = new URL('../../src/function-host/index.ts', import.meta.url).href
const TSX = pathToFileURL(createRequire(import.meta.url).resolve('tsx')).href
const spawned: number[] = []

afterEach(() => {
  for (const pid of spawned.splice(0)) {
    try {
      process.kill(pid, 'SIGKILL')
    } catch {
      // gone
    }
  }
})

/** Runs the parent and resolves with the PIDs of the hosts it started, and their temp dirs' dir. */
async function parent(mode: 'exit' | 'wait') {
  const script = join(tempDir(), 'parent.mjs')
  const hostDirs = tempDir()
  writeFileSync(script, PARENT)
  const child = spawn(process.execPath, ['--import', TSX, script, INDEX, mode, hostDirs], {
    stdio: ['ignore', 'pipe', 'inherit'],
  })
  if (child.pid !== undefined) spawned.push(child.pid)
  const lines = createInterface({ input: child.stdout })
  const exited = new Promise<void>((resolve) => child.once('exit', () => resolve()))
  for await (const line of lines) {
    const pids = JSON.parse(line) as { nodejs: number; process?: number }
    spawned.push(pids.nodejs, ...(pids.process === undefined ? [] : [pids.process]))
    // A parent in 'exit' mode may already be removing them: it exits right after printing.
    if (mode === 'wait') expect(readdirSync(hostDirs)).toHaveLength(2)
    return { child, exited, pids, hostDirs }
  }
  throw new Error('the parent printed nothing')
}

describe('function hosts and their temp dirs never outlive their parent', SLOW, () => {
  it('are killed when the parent exits', async () => {
    const { exited, pids, hostDirs } = await parent('exit')
    await exited
    await waitFor('the hosts to be gone', () => gone(pids.nodejs) && gone(pids.process))
    expect(readdirSync(hostDirs)).toEqual([])
  })

  it('leave when the parent is SIGKILLed (the IPC channel closes), process hosts with what they run', async () => {
    const { child, exited, pids, hostDirs } = await parent('wait')
    expect(gone(pids.nodejs)).toBe(false)
    expect(gone(pids.process)).toBe(false)
    child.kill('SIGKILL')
    await exited
    await waitFor('the nodejs host to be gone', () => gone(pids.nodejs))
    await waitFor('the process host to be gone', () => gone(pids.process))
    await waitFor('their temp dirs to be removed', () => readdirSync(hostDirs).length === 0)
  })
})
