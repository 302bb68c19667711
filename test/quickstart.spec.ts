/**
 * `examples/quickstart` as a user runs it (from the sources, so no build is needed): it must
 * finish with exit code 0 and print what the README shows, and it must leave no peer
 * running, whether it finishes or is interrupted.
 */
import { spawn, type ChildProcess } from 'node:child_process'
import { existsSync, readdirSync, readFileSync } from 'node:fs'
import { afterEach, describe, expect, it } from 'vitest'
import { waitFor } from './support/mesh.js'

const ROOT = new URL('../', import.meta.url).pathname

interface Run {
  readonly child: ChildProcess
  /** Everything printed so far, stdout and stderr apart. */
  readonly out: { stdout: string; stderr: string }
  readonly exited: Promise<{ code: number | null; signal: NodeJS.Signals | null }>
}

const runs: Run[] = []

/** Starts the quickstart in its own process group, so that the group can be checked and cleaned. */
function quickstart(): Run {
  const child = spawn(
    process.execPath,
    [
      '--conditions=chorus-source',
      '--import',
      'tsx',
      'examples/quickstart/quickstart.ts',
      '--from-source',
    ],
    { cwd: ROOT, detached: true, stdio: ['ignore', 'pipe', 'pipe'] },
  )
  const out = { stdout: '', stderr: '' }
  child.stdout?.on('data', (chunk: Buffer) => (out.stdout += chunk.toString()))
  child.stderr?.on('data', (chunk: Buffer) => (out.stderr += chunk.toString()))
  const exited = new Promise<{ code: number | null; signal: NodeJS.Signals | null }>((resolve) =>
    child.once('exit', (code, signal) => resolve({ code, signal })),
  )
  const run = { child, out, exited }
  runs.push(run)
  return run
}

/**
 * Whether a process of the group led by `pid` (the quickstart and its peers) still runs.
 * Zombies do not count: an exited helper (tsx's esbuild) waits a moment to be reaped by init.
 */
function groupAlive(pid: number): boolean {
  if (!existsSync('/proc/self/stat')) {
    try {
      process.kill(-pid, 0)
      return true
    } catch {
      return false
    }
  }
  return readdirSync('/proc')
    .filter((entry) => /^\d+$/.test(entry))
    .some((entry) => {
      try {
        // pid (comm) state ppid pgrp …; comm may hold spaces and parentheses.
        const stat = readFileSync(`/proc/${entry}/stat`, 'utf8')
        const [state, , pgrp] = stat.slice(stat.lastIndexOf(')') + 2).split(' ')
        return Number(pgrp) === pid && state !== 'Z'
      } catch {
        return false // it exited while we looked
      }
    })
}

/**
 * Waits until no process of the quickstart's group is left: its peers were stopped before it
 * exited, but a helper (tsx's esbuild service) may take a moment to notice and exit.
 */
async function noneLeft(run: Run): Promise<void> {
  const pid = run.child.pid ?? 0
  await waitFor('every process of the quickstart to exit', () => !groupAlive(pid), 5_000)
}

/** Waits for the exit, up to `timeoutMs`; throws (with what was printed) if it does not come. */
async function exitOf(run: Run, timeoutMs: number): Promise<number | null> {
  let timer: ReturnType<typeof setTimeout> | undefined
  const late = new Promise<'late'>(
    (resolve) => (timer = setTimeout(() => resolve('late'), timeoutMs)),
  )
  const result = await Promise.race([run.exited, late])
  clearTimeout(timer)
  if (result === 'late') {
    throw new Error(
      `the quickstart did not exit within ${timeoutMs} ms\n${run.out.stdout}\n${run.out.stderr}`,
    )
  }
  return result.code
}

afterEach(async () => {
  // Whatever happened, nothing the quickstart started outlives the test: a quickstart still
  // running gets SIGTERM (it stops its peers) and 10 s, then its whole group gets SIGKILL.
  for (const run of runs.splice(0)) {
    const pid = run.child.pid
    if (pid === undefined) continue
    if (run.child.exitCode === null && run.child.signalCode === null) {
      run.child.kill('SIGTERM')
      let timer: ReturnType<typeof setTimeout> | undefined
      await Promise.race([
        run.exited,
        new Promise((resolve) => (timer = setTimeout(resolve, 10_000))),
      ])
      clearTimeout(timer)
    }
    try {
      process.kill(-pid, 'SIGKILL')
    } catch {
      // nothing left in the group: the usual case
    }
  }
})

describe('examples/quickstart', () => {
  it('runs functions and the choreography on three peers and prints what the README shows', async () => {
    const run = quickstart()
    const code = await exitOf(run, 150_000)
    const { stdout, stderr } = run.out
    expect(code, `${stdout}\n${stderr}`).toBe(0)
    expect(stdout).toContain('Mesh formed: every peer sees all 3 alive')
    expect(stdout).toMatch(
      /primes\s+CPU\s+peer2\s+peer\d\s+cold\s+\d+ ms\s+\{"from":0,"to":1000000,"count":78498\}/,
    )
    expect(stdout).toMatch(/primes\s+CPU\s+peer3\s+peer\d\s+warm\s/)
    expect(stdout).toMatch(
      /store\s+I\/O\s+peer3\s+peer\d\s+cold\s+\d+ ms\s+\{"key":"[0-9a-f]{12}","bytes":21\}/,
    )
    expect(stdout).toMatch(
      /validate\s+fails\s+peer2\s+peer\d\s+cold\s+\d+ ms\s+✗ \S+: order 9: quantity must be a positive number, got -1/,
    )
    expect(stdout).toMatch(
      /ChorusClientError \S+: order 11: quantity must be a positive number, got 0\n\s+\(invocation \S+\)/,
    )
    expect(stdout).toMatch(/round 1: 12 succeeded in/)
    expect(stdout).toMatch(/round 2: 12 succeeded in/)
    expect(stdout).toMatch(/output: \[\{"primes":148933\},\{"key":"[0-9a-f]{12}","bytes":\d+\}\]/)
    for (const step of ['pipeline', 'split', 'count', 'item 3', 'report', 'total', 'store']) {
      expect(stdout).toMatch(new RegExp(`^\\s+${step}\\s.*succeeded`, 'm'))
    }
    expect(stdout.trimEnd().endsWith('Stopped.')).toBe(true)
    await noneLeft(run)
  }, 180_000)

  it('stops its peers when interrupted', async () => {
    const run = quickstart()
    await waitFor('the mesh to form', () => run.out.stdout.includes('Mesh formed'), 60_000, 50)
    run.child.kill('SIGINT')
    expect(await exitOf(run, 30_000)).toBe(130)
    expect(run.out.stderr).toContain('SIGINT: stopping the peers')
    await noneLeft(run)
  }, 120_000)
})
