// Preload for bench:gossip --soak: blocks this process's event loop with a busy-wait of
// CHORUS_BENCH_STALL_MS (default 400) every CHORUS_BENCH_STALL_EVERY_MS (default 2000),
// the way a long synchronous task or a GC pause would, without touching the peer's code:
//   node --import ./packages/node/bench/stall.js packages/node/dist/cli.js start …
// Each stall's real length is appended to CHORUS_BENCH_STALL_LOG when that is set.
import { appendFileSync } from 'node:fs'
import { performance } from 'node:perf_hooks'
import process from 'node:process'
import { setInterval } from 'node:timers'

const stallMs = Number(process.env.CHORUS_BENCH_STALL_MS ?? 400)
const everyMs = Number(process.env.CHORUS_BENCH_STALL_EVERY_MS ?? 2000)
const log = process.env.CHORUS_BENCH_STALL_LOG

if (stallMs > 0 && everyMs > 0) {
  const timer = setInterval(() => {
    const start = performance.now()
    while (performance.now() - start < stallMs) {
      // busy-wait: nothing else runs on this event loop meanwhile
    }
    if (log) appendFileSync(log, `${Date.now()} ${(performance.now() - start).toFixed(1)}\n`)
  }, everyMs)
  timer.unref()
}
