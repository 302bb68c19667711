/**
 * The one shape of fire-and-forget work in the peer. Work nobody awaits runs here: its
 * failure is reported once to `onFailure` (which logs it with context) and goes no
 * further. Nothing a remote does or fails to do may reach the process as an unhandled
 * rejection; lint forbids the other shapes (`void promise`, a two-argument `.then`).
 *
 * ```ts
 * background(() => channels.request(peer, 'result', view), (err) =>
 *   log.warn({ err, peer }, 'reporting a result failed'))
 * ```
 */
export function background(
  work: PromiseLike<unknown> | (() => unknown),
  onFailure: (err: unknown) => void,
): void {
  const report = (err: unknown): void => {
    try {
      onFailure(err)
    } catch {
      // A failing failure handler has nobody left to tell.
    }
  }
  try {
    const running = typeof work === 'function' ? work() : work
    if (isPromiseLike(running)) Promise.resolve(running).catch(report)
  } catch (err) {
    report(err)
  }
}

function isPromiseLike(value: unknown): value is PromiseLike<unknown> {
  return (
    typeof value === 'object' &&
    value !== null &&
    typeof (value as { then?: unknown }).then === 'function'
  )
}
