/**
 * Function hosts run in their own process group (spawned `detached`), so that killing one
 * kills whatever it started too: `kill(-pgid, SIGKILL)`. Every live group is remembered with
 * its host's temp dir; when this process exits, all of them are killed and their dirs removed,
 * so hosts never outlive the peer that started them. (A `nodejs` host, and a `process` host's
 * supervisor, also exit, removing the temp dir, when their IPC channel closes, which covers a
 * peer that was SIGKILLed.)
 */
import type { ChildProcess } from 'node:child_process'
import { rmSync } from 'node:fs'

/** Whether hosts get a process group of their own (POSIX); on Windows only the child is killed. */
export const OWN_PROCESS_GROUP = process.platform !== 'win32'

/** Live hosts: the child and its temp dir. */
const live = new Map<ChildProcess, string>()
let exitHookInstalled = false

function cleanUpOnExit(): void {
  for (const [child, tmpDir] of live) {
    killProcessTree(child, 'SIGKILL')
    try {
      rmSync(tmpDir, { recursive: true, force: true })
    } catch {
      // the peer is exiting: nothing better to do
    }
  }
  live.clear()
}

/** Remembers a host until `forgetProcessGroup`: killed, and its temp dir removed, on exit. */
export function trackProcessGroup(child: ChildProcess, tmpDir: string): void {
  if (child.pid === undefined) return
  live.set(child, tmpDir)
  if (!exitHookInstalled) {
    exitHookInstalled = true
    process.on('exit', cleanUpOnExit)
  }
}

export function forgetProcessGroup(child: ChildProcess): void {
  live.delete(child)
}

/** Sends `signal` to the child's whole process group (or, without groups, to the child). */
export function killProcessTree(child: ChildProcess, signal: NodeJS.Signals = 'SIGKILL'): void {
  if (child.pid === undefined) return
  if (!OWN_PROCESS_GROUP) {
    child.kill(signal)
    return
  }
  try {
    process.kill(-child.pid, signal)
  } catch {
    // ESRCH: every process of the group is gone already
  }
}
