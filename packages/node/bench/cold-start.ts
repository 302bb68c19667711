/**
 * cold-start — how long a `nodejs` function host takes to cold-start: spawn + ready + /init,
 * as `FunctionHost.startMs` measures it. Starts and stops N hosts of a trivial function one
 * after the other (after 3 warm-up starts that are not counted, so the OS file cache is warm
 * as it is on a peer that has run a function before), and also reports each host's first run
 * and the warm round trip on a kept-alive host next to it.
 *
 * The floor, measured in the same run and interleaved with the hosts (so that both see the
 * same load on a shared machine): bare Node running a one-line ES module file that says ready
 * over IPC, spawned as a host is (own process group, clean environment): what booting Node
 * costs before a host does anything.
 *
 * It runs the BUILT code (packages/node/dist/function-host): from the sources, the runner
 * would start under tsx's loader, which is not what a peer runs. After the run it checks that
 * no host process is left.
 *
 * Flags: --hosts N (default 30), --memory MB (default 128), --warm N (default 200)
 *
 * Run: npm run build && npx tsx packages/node/bench/cold-start.ts
 */
import { spawn } from 'node:child_process'
import { existsSync, mkdtempSync, rmSync, writeFileSync } from 'node:fs'
import { tmpdir } from 'node:os'
import { join } from 'node:path'
import { parseArgs } from 'node:util'
import type * as FunctionHostModule from '../src/function-host/index.js'
import { ROOT, machineHeader, ms, out, progress, quantile, table, verdict } from './support.js'

const TARGET_P50_MS = 150
const WARMUP_STARTS = 3
const DIST = join(ROOT, 'packages/node/dist/function-host/index.js')
const CODE = 'export default async (input) => ({ ok: true, input })'

const { values: flags } = parseArgs({
  options: {
    hosts: { type: 'string', default: '30' },
    memory: { type: 'string', default: '128' },
    warm: { type: 'string', default: '200' },
  },
})
const HOSTS = positive(flags.hosts, '--hosts')
const MEMORY_MB = positive(flags.memory, '--memory')
const WARM_RUNS = positive(flags.warm, '--warm')

function positive(text: string, flag: string): number {
  const n = Number(text)
  if (!Number.isSafeInteger(n) || n < 1) throw new Error(`${flag} must be a positive integer`)
  return n
}

function alive(pid: number | undefined): boolean {
  if (pid === undefined) return false
  try {
    process.kill(pid, 0)
    return true
  } catch {
    return false
  }
}

/** Spawn → ready over IPC of a bare ES module that does nothing else; the child is then killed. */
async function bareNodeMs(script: string): Promise<number> {
  const began = performance.now()
  const child = spawn(process.execPath, [script], {
    stdio: ['ignore', 'ignore', 'ignore', 'ipc'],
    detached: true,
    env: { PATH: process.env['PATH'] ?? '' },
  })
  const exited = new Promise<void>((resolve) => child.once('exit', () => resolve()))
  await new Promise<void>((resolve, reject) => {
    child.once('message', () => resolve())
    child.once('error', reject)
  })
  const took = performance.now() - began
  child.kill('SIGKILL')
  await exited
  return took
}

function summary(name: string, samples: readonly number[], digits = 1): string[] {
  const sorted = [...samples].sort((a, b) => a - b)
  return [
    name,
    String(sorted.length),
    ms(quantile(sorted, 0.5), digits),
    ms(quantile(sorted, 0.9), digits),
    ms(sorted[sorted.length - 1] ?? Number.NaN, digits),
  ]
}

async function main(): Promise<void> {
  if (!existsSync(DIST)) throw new Error(`${DIST} is missing: run npm run build first`)
  const { FunctionHost } = (await import(DIST)) as typeof FunctionHostModule
  const spec = { runtime: 'nodejs', code: CODE, memoryMb: MEMORY_MB, concurrency: 1 } as const

  const floorDir = mkdtempSync(join(tmpdir(), 'chorus-bench-cold-'))
  const floorScript = join(floorDir, 'ready.mjs')
  writeFileSync(floorScript, 'process.send({})\n')

  out(machineHeader('cold-start: nodejs function hosts (spawn + ready + /init)'))
  const startMs: number[] = []
  const wallMs: number[] = []
  const firstRunMs: number[] = []
  const floorMs: number[] = []
  const pids: (number | undefined)[] = []
  for (let i = 0; i < WARMUP_STARTS + HOSTS; i++) {
    const began = performance.now()
    const host = await FunctionHost.start(spec)
    const started = performance.now()
    await host.run(i, { invocationId: `cold-${i}`, timeoutMs: 10_000 })
    const ran = performance.now()
    pids.push(host.pid)
    await host.stop()
    const floor = await bareNodeMs(floorScript)
    if (i < WARMUP_STARTS) continue
    floorMs.push(floor)
    startMs.push(host.startMs)
    wallMs.push(started - began)
    firstRunMs.push(ran - started)
    if ((i - WARMUP_STARTS + 1) % 10 === 0) progress(`${i - WARMUP_STARTS + 1}/${HOSTS} hosts`)
  }

  progress(`${WARM_RUNS} warm runs on one host`)
  const host = await FunctionHost.start(spec)
  const warmMs: number[] = []
  for (let i = 0; i < 20 + WARM_RUNS; i++) {
    const began = performance.now()
    await host.run(i, { invocationId: `warm-${i}`, timeoutMs: 10_000 })
    if (i >= 20) warmMs.push(performance.now() - began)
  }
  pids.push(host.pid)
  await host.stop()

  rmSync(floorDir, { recursive: true, force: true })
  const left = pids.filter(alive)
  const sortedStart = [...startMs].sort((a, b) => a - b)
  const p50 = quantile(sortedStart, 0.5)
  out(
    table(
      ['figure', 'n', 'p50', 'p90', 'max'],
      [
        summary('cold start (startMs: spawn + ready + /init)', startMs),
        summary('FunctionHost.start() as the caller sees it', wallMs),
        summary('first run on a fresh host', firstRunMs, 2),
        summary('warm run (keep-alive round trip)', warmMs, 3),
        summary('floor: bare node boots an ES module, ready over IPC', floorMs),
      ],
      [1, 2, 3, 4],
    ),
  )
  out(
    table(
      ['target', 'measured', 'verdict'],
      [[`cold start p50 ≤ ${TARGET_P50_MS} ms`, ms(p50, 1), verdict(p50, TARGET_P50_MS, 'le')]],
    ),
  )
  out(`host processes left after stop(): ${left.length === 0 ? 'none' : left.join(', ')}`)
  if (left.length > 0) process.exitCode = 1
}

await main()
