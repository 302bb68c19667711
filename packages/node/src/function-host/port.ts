/**
 * Ports on 127.0.0.1 for `process` hosts: the parent picks a free one to hand over in `$PORT`,
 * then polls until the host accepts connections on it.
 */
import { connect, createServer } from 'node:net'
import { setTimeout as sleep } from 'node:timers/promises'

export const LOOPBACK = '127.0.0.1'

/** A port that was free a moment ago (the OS picked it for a listener we closed at once). */
export function freePort(): Promise<number> {
  return new Promise((resolve, reject) => {
    const server = createServer()
    server.unref()
    server.once('error', reject)
    server.listen(0, LOOPBACK, () => {
      const address = server.address()
      const port = typeof address === 'object' && address !== null ? address.port : 0
      server.close(() => (port > 0 ? resolve(port) : reject(new Error('no port was assigned'))))
    })
  })
}

/** Whether a TCP connection to the port is accepted now. */
export function portAccepts(port: number): Promise<boolean> {
  return new Promise((resolve) => {
    const socket = connect({ host: LOOPBACK, port })
    socket.once('connect', () => {
      socket.destroy()
      resolve(true)
    })
    socket.once('error', () => {
      socket.destroy()
      resolve(false)
    })
  })
}

export interface WaitForPortOptions {
  /** When to give up, on `performance.now()`'s clock. */
  readonly deadline: number
  /** Stops polling early (the host died, the start was aborted). */
  readonly signal: AbortSignal
}

/**
 * Polls until the port accepts a connection (→ 'ready'), the deadline passes (→ 'timeout')
 * or the signal aborts (→ 'aborted'). Polls often at first, then every 50 ms.
 */
export async function waitForPort(
  port: number,
  { deadline, signal }: WaitForPortOptions,
): Promise<'ready' | 'timeout' | 'aborted'> {
  let delay = 2
  for (;;) {
    if (signal.aborted) return 'aborted'
    if (await portAccepts(port)) return 'ready'
    const left = deadline - performance.now()
    if (left <= 0) return 'timeout'
    try {
      await sleep(Math.min(delay, left), undefined, { signal })
    } catch {
      return 'aborted'
    }
    delay = Math.min(delay * 2, 50)
  }
}
