/** Small values as the CLI prints them: ages, times, JSON, peer ids. */

/** `now`, `250ms`, `42s`, `1m05s`, `2h07m`; `?` for what is not an age. */
export function formatAge(ms: number): string {
  if (!Number.isFinite(ms) || ms < 0) return '?'
  if (ms === 0) return 'now'
  if (ms < 1_000) return `${Math.round(ms)}ms`
  const s = Math.floor(ms / 1_000)
  if (s < 60) return `${s}s`
  if (s < 3_600) return `${Math.floor(s / 60)}m${String(s % 60).padStart(2, '0')}s`
  return `${Math.floor(s / 3_600)}h${String(Math.floor(s / 60) % 60).padStart(2, '0')}m`
}

/** Epoch milliseconds as ISO 8601 (UTC); `?` for what is not a time. */
export function formatTime(ms: number): string {
  const time = new Date(ms)
  return Number.isNaN(time.getTime()) ? '?' : time.toISOString()
}

/** Short JSON on one line; longer JSON pretty-printed. */
export function formatJson(value: unknown): string {
  const compact = JSON.stringify(value) ?? 'undefined'
  return compact.length <= 80 ? compact : JSON.stringify(value, null, 2)
}

/** `12D3…x7Q9ab`: enough of a peer id to tell peers apart in a trace. */
export function shortPeerId(id: string): string {
  return id.length <= 16 ? id : `${id.slice(0, 4)}…${id.slice(-6)}`
}
