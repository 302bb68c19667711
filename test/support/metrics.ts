/** Reads one sample's value from Prometheus text (0 when absent). */
export function metricValue(
  text: string,
  name: string,
  labels: Record<string, string> = {},
): number {
  const wanted = Object.entries(labels).map(([k, v]) => `${k}="${v}"`)
  let total = 0
  for (const line of text.split('\n')) {
    if (!line.startsWith(name)) continue
    const rest = line.slice(name.length)
    if (rest[0] !== '{' && rest[0] !== ' ') continue
    if (!wanted.every((w) => rest.includes(w))) continue
    total += Number(line.slice(line.lastIndexOf(' ') + 1))
  }
  return total
}

/** The sum of one metric's matching samples over the peers' expositions. */
export async function metricSum(
  peers: readonly { readonly api: { metricsText(): Promise<string> } }[],
  name: string,
  labels: Record<string, string> = {},
): Promise<number> {
  const texts = await Promise.all(peers.map((p) => p.api.metricsText()))
  return texts.reduce((n, text) => n + metricValue(text, name, labels), 0)
}
