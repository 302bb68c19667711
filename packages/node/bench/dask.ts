/**
 * Runs `dask_e2e.py` under Debian's Python (`/usr/bin/python3`, where `python3-distributed`
 * installs `distributed`) and reads the JSON line it prints. Never throws: anything that keeps
 * Dask from running (no Python, no `distributed`, a crash, the time limit) comes back as
 * `{ type: 'skipped', reason }` so bench:e2e can say so and carry on.
 *
 * The script and its LocalCluster's worker processes run in their own process group, which is
 * killed whole (by its id, the script's PID) when the time limit passes and when this process
 * exits; the workers' scratch directory is a temp dir of ours, removed either way.
 */
import { existsSync } from 'node:fs'
import { join } from 'node:path'
import { BENCH_DIR, makeTempDir, removeTempDir, spawnChild } from './support.js'

export const PYTHON = '/usr/bin/python3'
export const DASK_SCRIPT = join(BENCH_DIR, 'dask_e2e.py')

export interface DaskFigures {
  readonly type: 'measured'
  readonly dask: string
  readonly distributed: string
  readonly python: string
  readonly workers: number
  readonly threadsPerWorker: number
  readonly startupS: number
  readonly submit: {
    readonly n: number
    readonly p50Ms: number
    readonly p90Ms: number
    readonly p99Ms: number
    readonly maxMs: number
  }
  readonly map: { readonly tasks: number; readonly wallS: number; readonly perSecond: number }
}

export type DaskResult = DaskFigures | { readonly type: 'skipped'; readonly reason: string }

export interface DaskOptions {
  readonly samples: number
  readonly tasks: number
  readonly timeoutMs: number
}

export async function runDask(options: DaskOptions): Promise<DaskResult> {
  if (!existsSync(PYTHON)) return { type: 'skipped', reason: `${PYTHON} not found` }
  const scratch = makeTempDir('chorus-bench-dask-')
  const c = spawnChild(
    'dask',
    PYTHON,
    [
      DASK_SCRIPT,
      '--samples',
      String(options.samples),
      '--tasks',
      String(options.tasks),
      '--scratch',
      scratch,
    ],
    { detached: true, env: { ...process.env, PYTHONUNBUFFERED: '1' } },
  )
  const killGroup = (): void => {
    try {
      process.kill(-c.pid, 'SIGKILL')
    } catch {
      // the group is gone
    }
  }
  process.once('exit', killGroup)
  let stdout = ''
  c.child.stdout?.setEncoding('utf8')
  c.child.stdout?.on('data', (text: string) => (stdout += text))
  let timedOut = false
  const timer = setTimeout(() => {
    timedOut = true
    killGroup()
  }, options.timeoutMs)
  try {
    await c.exited
  } finally {
    clearTimeout(timer)
    // LocalCluster closes its workers in `finally`; whatever is left goes with the group.
    killGroup()
    process.off('exit', killGroup)
    removeTempDir(scratch)
  }
  if (timedOut) {
    return { type: 'skipped', reason: `${DASK_SCRIPT} took over ${options.timeoutMs} ms` }
  }
  const line = stdout.trim().split('\n').pop() ?? ''
  let parsed: unknown
  try {
    parsed = JSON.parse(line)
  } catch {
    const code = c.child.exitCode ?? c.child.signalCode
    return {
      type: 'skipped',
      reason: `${DASK_SCRIPT} exited (${code}) without its JSON line; stderr:\n${c.stderrTail()}`,
    }
  }
  const answer = parsed as Partial<Omit<DaskFigures, 'type'>> & { skipped?: unknown }
  if (typeof answer.skipped === 'string') return { type: 'skipped', reason: answer.skipped }
  if (answer.submit === undefined || answer.map === undefined) {
    return { type: 'skipped', reason: `unexpected output of ${DASK_SCRIPT}: ${line.slice(0, 200)}` }
  }
  return { ...(answer as Omit<DaskFigures, 'type'>), type: 'measured' }
}
