/**
 * Reads V8 `.cpuprofile` files (written by `node --cpu-prof`) and sums self time by
 * function and by module, so a bench can say where a peer's CPU went.
 */
import { readdirSync, readFileSync } from 'node:fs'
import { join } from 'node:path'

interface ProfileNode {
  readonly id: number
  readonly children?: readonly number[]
  readonly callFrame: {
    readonly functionName: string
    readonly url: string
    readonly lineNumber: number
  }
}

interface CpuProfile {
  readonly nodes: readonly ProfileNode[]
  readonly samples: readonly number[]
  readonly timeDeltas: readonly number[]
}

export interface SelfTime {
  readonly name: string
  readonly where: string
  readonly module: string
  /** Milliseconds of samples whose top frame was this function. */
  selfMs: number
}

export interface ProfileSummary {
  readonly files: number
  /** Sampled milliseconds, idle excluded. */
  readonly busyMs: number
  readonly idleMs: number
  readonly byFunction: readonly SelfTime[]
  readonly byModule: readonly { module: string; selfMs: number }[]
  /**
   * Self time charged to the nearest frame of a package or of our code: Node's internals and
   * natives (socket writes, JSON.parse, …) count for whoever called them.
   */
  readonly byCaller: readonly { module: string; selfMs: number }[]
}

function isUserland(url: string): boolean {
  return url !== '' && !url.startsWith('node:')
}

/** Where a script URL belongs: a package, one of our dist files, node's internals. */
export function moduleOf(url: string): string {
  if (url === '') return '(native / V8)'
  if (url.startsWith('node:')) return `node:${url.slice(5).split('/')[0] ?? ''}`
  const nm = url.lastIndexOf('/node_modules/')
  if (nm >= 0) {
    const parts = url.slice(nm + '/node_modules/'.length).split('/')
    return parts[0]?.startsWith('@') ? `${parts[0]}/${parts[1] ?? ''}` : (parts[0] ?? url)
  }
  const ours = /\/packages\/([^/]+)\/dist\/(.+)$/.exec(url)
  if (ours) return `@chorus/${ours[1] ?? ''} ${ours[2] ?? ''}`
  return url.replace(/^file:\/\//, '')
}

function shortWhere(url: string, line: number): string {
  const nm = url.lastIndexOf('/node_modules/')
  const rest = nm >= 0 ? url.slice(nm + '/node_modules/'.length) : url
  const ours = /\/(packages\/.+)$/.exec(rest)
  return `${(ours?.[1] ?? rest).replace(/^file:\/\//, '')}:${line + 1}`
}

/** Sums the self time of every `.cpuprofile` under `dir` (one level of subdirectories too). */
export function summarizeProfiles(dir: string): ProfileSummary {
  const files: string[] = []
  for (const entry of readdirSync(dir, { withFileTypes: true })) {
    const path = join(dir, entry.name)
    if (entry.isFile() && entry.name.endsWith('.cpuprofile')) files.push(path)
    if (entry.isDirectory()) {
      for (const inner of readdirSync(path)) {
        if (inner.endsWith('.cpuprofile')) files.push(join(path, inner))
      }
    }
  }
  const byKey = new Map<string, SelfTime>()
  const callers = new Map<string, number>()
  let idleMs = 0
  let busyMs = 0
  for (const file of files) {
    const profile = JSON.parse(readFileSync(file, 'utf8')) as CpuProfile
    const nodes = new Map(profile.nodes.map((n) => [n.id, n]))
    const parent = new Map<number, number>()
    for (const n of profile.nodes) for (const c of n.children ?? []) parent.set(c, n.id)
    const ownerOf = new Map<number, string>()
    const owner = (id: number): string => {
      const known = ownerOf.get(id)
      if (known !== undefined) return known
      const node = nodes.get(id)
      let found: string
      if (!node) found = '(unknown)'
      else if (node.callFrame.functionName.startsWith('(')) found = node.callFrame.functionName
      else if (isUserland(node.callFrame.url)) found = moduleOf(node.callFrame.url)
      else {
        const up = parent.get(id)
        found = up === undefined ? '(node, no JS caller)' : owner(up)
        if (found === '(root)') found = '(node, no JS caller)'
      }
      ownerOf.set(id, found)
      return found
    }
    const selfUs = new Map<number, number>()
    for (let i = 0; i < profile.samples.length; i++) {
      const id = profile.samples[i] ?? 0
      selfUs.set(id, (selfUs.get(id) ?? 0) + (profile.timeDeltas[i] ?? 0))
    }
    for (const [id, us] of selfUs) {
      const node = nodes.get(id)
      if (!node) continue
      const { functionName, url, lineNumber } = node.callFrame
      const name = functionName === '' ? '(anonymous)' : functionName
      if (name === '(idle)') {
        idleMs += us / 1000
        continue
      }
      busyMs += us / 1000
      const charged = owner(id)
      callers.set(charged, (callers.get(charged) ?? 0) + us / 1000)
      const key = `${name}\u0000${url}\u0000${lineNumber}`
      const known = byKey.get(key)
      if (known) known.selfMs += us / 1000
      else {
        byKey.set(key, {
          name,
          where: url === '' ? '' : shortWhere(url, lineNumber),
          module: name.startsWith('(') ? name : moduleOf(url),
          selfMs: us / 1000,
        })
      }
    }
  }
  const byFunction = [...byKey.values()].sort((a, b) => b.selfMs - a.selfMs)
  const modules = new Map<string, number>()
  for (const f of byFunction) modules.set(f.module, (modules.get(f.module) ?? 0) + f.selfMs)
  const byModule = [...modules]
    .map(([module, selfMs]) => ({ module, selfMs }))
    .sort((a, b) => b.selfMs - a.selfMs)
  const byCaller = [...callers]
    .map(([module, selfMs]) => ({ module, selfMs }))
    .sort((a, b) => b.selfMs - a.selfMs)
  return { files: files.length, busyMs, idleMs, byFunction, byModule, byCaller }
}
