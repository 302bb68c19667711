// The floor for bench:mesh: a plain keep-alive node:http server in its own process that
// answers every POST with its JSON body wrapped the way a peer answers an echo invocation.
// It does the least an HTTP echo can do; the gap between it and a peer is the peer's cost.
// Prints `floor http://127.0.0.1:PORT` once listening. Run by bench/mesh.ts, not by hand.
import { Buffer } from 'node:buffer'
import { createServer } from 'node:http'
import process from 'node:process'

let next = 0
const server = createServer((req, res) => {
  const chunks = []
  req.on('data', (chunk) => chunks.push(chunk))
  req.on('end', () => {
    const body = chunks.length === 0 ? '{}' : Buffer.concat(chunks).toString()
    const input = JSON.parse(body).input ?? null
    const answer = JSON.stringify({
      id: `floor.${(next++).toString(36)}`,
      status: 'succeeded',
      output: input,
      peerId: 'floor',
    })
    res.writeHead(200, {
      'content-type': 'application/json; charset=utf-8',
      'content-length': Buffer.byteLength(answer),
    })
    res.end(answer)
  })
})
server.keepAliveTimeout = 60_000
server.listen(0, '127.0.0.1', () => {
  const { port } = server.address()
  process.stdout.write(`floor http://127.0.0.1:${port}\n`)
})
process.on('SIGTERM', () => process.exit(0))
process.on('SIGINT', () => process.exit(0))
