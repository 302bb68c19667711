/**
 * What the function-host tests share: real hosts that are always stopped, temp dirs that are
 * always removed, and checks on real PIDs.
 */
import { existsSync, mkdtempSync, readdirSync, readFileSync, rmSync } from 'node:fs'
import { tmpdir } from 'node:os'
import { join } from 'node:path'
import { afterEach } from 'vitest'
import {
  FunctionHost,
  WorkerHostPool,
  type FunctionHostOptions,
  type FunctionHostSpec,
  type WorkerHostPoolInit,
} from '../../src/function-host/index.js'

const hosts = new Set<FunctionHost>()
const pools = new Set<WorkerHostPool>()
const dirs = new Set<string>()

afterEach(async () => {
  await Promise.all([...hosts].map((host) => host.stop()))
  await Promise.all([...pools].map((pool) => pool.stop()))
  hosts.clear()
  pools.clear()
  for (const dir of dirs) rmSync(dir, { recursive: true, force: true })
  dirs.clear()
})

/** Starts a host that the test's cleanup stops. */
export async function startHost(
  spec: FunctionHostSpec,
  options: FunctionHostOptions = {},
): Promise<FunctionHost> {
  const host = await FunctionHost.start(spec, options)
  hosts.add(host)
  return host
}

/** A pool that the test's cleanup stops. */
export function makePool(init: WorkerHostPoolInit): WorkerHostPool {
  const pool = new WorkerHostPool(init)
  pools.add(pool)
  return pool
}

/** A temp dir that the test's cleanup removes. */
export function tempDir(): string {
  const dir = mkdtempSync(join(tmpdir(), 'chorus-fh-test-'))
  dirs.add(dir)
  return dir
}

/** A nodejs spec for a module source. */
export function nodejs(code: string, spec: Partial<FunctionHostSpec> = {}): FunctionHostSpec {
  return { runtime: 'nodejs', code, memoryMb: 128, concurrency: 1, ...spec }
}

/** Whether a process with this PID exists (a zombie counts: its parent has not reaped it). */
export function pidAlive(pid: number | undefined): boolean {
  if (pid === undefined) return false
  try {
    process.kill(pid, 0)
    return true
  } catch (err) {
    return (err as NodeJS.ErrnoException).code === 'EPERM'
  }
}

/** Whether a process is dead: exited, or a zombie (killed, waiting for a reaper). */
export function gone(pid: number | undefined): boolean {
  if (!pidAlive(pid)) return true
  if (!existsSync('/proc/self/stat')) return false
  try {
    const stat = readFileSync(`/proc/${pid}/stat`, 'utf8')
    return stat.slice(stat.lastIndexOf(')') + 2).startsWith('Z')
  } catch {
    return true
  }
}

/** PIDs of the live (not zombie) processes in a process group (Linux: from /proc). */
export function processGroup(pgid: number): number[] {
  if (!existsSync('/proc/self/stat')) return []
  const pids: number[] = []
  for (const name of readdirSync('/proc')) {
    if (!/^\d+$/.test(name)) continue
    try {
      const stat = readFileSync(`/proc/${name}/stat`, 'utf8')
      // pid (comm) state ppid pgrp ... — comm may hold spaces and parentheses
      const fields = stat.slice(stat.lastIndexOf(')') + 2).split(' ')
      if (Number(fields[2]) === pgid && fields[0] !== 'Z') pids.push(Number(name))
    } catch {
      // gone meanwhile
    }
  }
  return pids
}

export { waitFor } from '../wait-for.js'

/** Resolves with what a promise rejected with; fails if it resolved. */
export async function rejection(promise: Promise<unknown>): Promise<Error> {
  try {
    await promise
  } catch (err) {
    return err as Error
  }
  throw new Error('expected a rejection')
}

/** Test timeouts: hosts are real processes, started from TypeScript under tsx on a busy machine. */
export const SLOW = { timeout: 60_000 }
