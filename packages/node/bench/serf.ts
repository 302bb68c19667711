/**
 * Just enough of Serf's RPC protocol (the one `serf members -rpc-addr …` speaks: msgpack
 * objects back to back on a TCP connection) to ask an agent for its members over one
 * long-lived connection. Polling 20 agents every 20 ms by running `serf members` would
 * fork 1,000 processes a second on a 2-core machine and slow the agents it measures.
 */
import { Socket, createServer } from 'node:net'
import { createSocket } from 'node:dgram'

export interface SerfMember {
  readonly name: string
  readonly status: string
}

class Incomplete extends Error {}

/** Decodes one msgpack value at `offset`; throws Incomplete when `buf` ends first. */
function decode(buf: Buffer, offset: number): { value: unknown; offset: number } {
  let at = offset
  const need = (n: number): void => {
    if (at + n > buf.length) throw new Incomplete()
  }
  const read = (): unknown => {
    need(1)
    const b = buf[at++] ?? 0
    if (b <= 0x7f) return b
    if (b >= 0xe0) return b - 0x100
    if (b >= 0x80 && b <= 0x8f) return map(b & 0x0f)
    if (b >= 0x90 && b <= 0x9f) return array(b & 0x0f)
    if (b >= 0xa0 && b <= 0xbf) return str(b & 0x1f)
    switch (b) {
      case 0xc0:
        return null
      case 0xc2:
        return false
      case 0xc3:
        return true
      case 0xc4:
      case 0xd9:
        need(1)
        return str(buf[at++] ?? 0)
      case 0xc5:
      case 0xda:
        need(2)
        at += 2
        return str(buf.readUInt16BE(at - 2))
      case 0xc6:
      case 0xdb:
        need(4)
        at += 4
        return str(buf.readUInt32BE(at - 4))
      case 0xca:
        need(4)
        at += 4
        return buf.readFloatBE(at - 4)
      case 0xcb:
        need(8)
        at += 8
        return buf.readDoubleBE(at - 8)
      case 0xcc:
        need(1)
        return buf[at++] ?? 0
      case 0xcd:
        need(2)
        at += 2
        return buf.readUInt16BE(at - 2)
      case 0xce:
        need(4)
        at += 4
        return buf.readUInt32BE(at - 4)
      case 0xcf:
        need(8)
        at += 8
        return Number(buf.readBigUInt64BE(at - 8))
      case 0xd0:
        need(1)
        at += 1
        return buf.readInt8(at - 1)
      case 0xd1:
        need(2)
        at += 2
        return buf.readInt16BE(at - 2)
      case 0xd2:
        need(4)
        at += 4
        return buf.readInt32BE(at - 4)
      case 0xd3:
        need(8)
        at += 8
        return Number(buf.readBigInt64BE(at - 8))
      case 0xdc:
        need(2)
        at += 2
        return array(buf.readUInt16BE(at - 2))
      case 0xdd:
        need(4)
        at += 4
        return array(buf.readUInt32BE(at - 4))
      case 0xde:
        need(2)
        at += 2
        return map(buf.readUInt16BE(at - 2))
      case 0xdf:
        need(4)
        at += 4
        return map(buf.readUInt32BE(at - 4))
      default:
        throw new Error(`msgpack type 0x${b.toString(16)} not supported`)
    }
  }
  const str = (n: number): string => {
    need(n)
    at += n
    return buf.toString('utf8', at - n, at)
  }
  const array = (n: number): unknown[] => Array.from({ length: n }, () => read())
  const map = (n: number): Record<string, unknown> => {
    const out: Record<string, unknown> = {}
    for (let i = 0; i < n; i++) {
      const key = String(read())
      out[key] = read()
    }
    return out
  }
  const value = read()
  return { value, offset: at }
}

/** Encodes a flat map of strings and small non-negative integers. */
function encode(value: Record<string, string | number>): Buffer {
  const parts: Buffer[] = [Buffer.from([0x80 | Object.keys(value).length])]
  const str = (s: string): Buffer => {
    const bytes = Buffer.from(s)
    if (bytes.length > 31) throw new Error('string too long for this encoder')
    return Buffer.concat([Buffer.from([0xa0 | bytes.length]), bytes])
  }
  for (const [k, v] of Object.entries(value)) {
    parts.push(str(k))
    if (typeof v === 'string') parts.push(str(v))
    else {
      const b = Buffer.alloc(5)
      b[0] = 0xce
      b.writeUInt32BE(v, 1)
      parts.push(b)
    }
  }
  return Buffer.concat(parts)
}

/** One RPC connection to a Serf agent; one request at a time. */
export class SerfRpc {
  readonly #socket: Socket
  #buffer: Buffer = Buffer.alloc(0)
  #seq = 0
  #wake: (() => void) | undefined
  #error: Error | undefined

  private constructor(socket: Socket) {
    this.#socket = socket
    socket.on('data', (chunk: Buffer) => {
      this.#buffer = this.#buffer.length === 0 ? chunk : Buffer.concat([this.#buffer, chunk])
      this.#wake?.()
    })
    const fail = (err: Error): void => {
      this.#error = err
      this.#wake?.()
    }
    socket.on('error', fail)
    socket.on('close', () => fail(new Error('serf rpc connection closed')))
  }

  static async connect(host: string, port: number, timeoutMs = 2_000): Promise<SerfRpc> {
    const socket = new Socket()
    await new Promise<void>((resolve, reject) => {
      const timer = setTimeout(() => {
        socket.destroy()
        reject(new Error(`serf rpc ${host}:${port}: no connection in ${timeoutMs} ms`))
      }, timeoutMs)
      socket.once('error', (err) => {
        clearTimeout(timer)
        reject(err)
      })
      socket.connect(port, host, () => {
        clearTimeout(timer)
        resolve()
      })
    })
    socket.setNoDelay(true)
    const rpc = new SerfRpc(socket)
    await rpc.#call('handshake', { Version: 1 }, false, timeoutMs)
    return rpc
  }

  /** The agent's member list: every member it knows, with its status (alive, failed, left…). */
  async members(timeoutMs = 2_000): Promise<SerfMember[]> {
    const body = (await this.#call('members', undefined, true, timeoutMs)) as {
      Members?: { Name?: unknown; Status?: unknown }[]
    }
    return (body.Members ?? []).map((m) => ({ name: String(m.Name), status: String(m.Status) }))
  }

  close(): void {
    this.#socket.destroy()
  }

  async #call(
    command: string,
    body: Record<string, string | number> | undefined,
    hasResponseBody: boolean,
    timeoutMs: number,
  ): Promise<unknown> {
    const seq = this.#seq++
    const request = [encode({ Command: command, Seq: seq })]
    if (body !== undefined) request.push(encode(body))
    this.#socket.write(Buffer.concat(request))
    const deadline = Date.now() + timeoutMs
    const header = (await this.#next(deadline)) as { Seq?: unknown; Error?: unknown }
    if (header.Seq !== seq)
      throw new Error(`serf rpc: answer to seq ${String(header.Seq)}, not ${seq}`)
    if (typeof header.Error === 'string' && header.Error !== '') {
      throw new Error(`serf rpc ${command}: ${header.Error}`)
    }
    return hasResponseBody ? this.#next(deadline) : undefined
  }

  async #next(deadline: number): Promise<unknown> {
    for (;;) {
      if (this.#buffer.length > 0) {
        try {
          const { value, offset } = decode(this.#buffer, 0)
          this.#buffer = this.#buffer.subarray(offset)
          return value
        } catch (err) {
          if (!(err instanceof Incomplete)) throw err
        }
      }
      if (this.#error) throw this.#error
      const left = deadline - Date.now()
      if (left <= 0) throw new Error('serf rpc: no answer in time')
      await new Promise<void>((resolve) => {
        const timer = setTimeout(resolve, left)
        this.#wake = () => {
          clearTimeout(timer)
          this.#wake = undefined
          resolve()
        }
      })
    }
  }
}

/** A port free for both TCP and UDP on `host` (Serf's gossip uses both), or throws. */
export async function freePort(host: string, udpToo: boolean): Promise<number> {
  for (let attempt = 0; attempt < 20; attempt++) {
    const server = createServer()
    const port = await new Promise<number>((resolve, reject) => {
      server.once('error', reject)
      server.listen(0, host, () => {
        const address = server.address()
        resolve(typeof address === 'object' && address !== null ? address.port : 0)
      })
    })
    if (!udpToo) {
      await new Promise<void>((resolve) => server.close(() => resolve()))
      return port
    }
    const udp = createSocket('udp4')
    const ok = await new Promise<boolean>((resolve) => {
      udp.once('error', () => resolve(false))
      udp.bind(port, host, () => resolve(true))
    })
    if (ok) await new Promise<void>((resolve) => udp.close(() => resolve()))
    await new Promise<void>((resolve) => server.close(() => resolve()))
    if (ok) return port
  }
  throw new Error('found no port free for both TCP and UDP')
}
