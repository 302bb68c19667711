/**
 * `npm run sim:plot -- REPORT.json…`: draws docs/simulation.svg from `npm run sim -- --json`
 * reports (one per mesh size): per-peer gossip bytes/s, lookup hops and load-view age and
 * share, one group of bars per N — so it shows whether a peer's cost stays bounded as N grows.
 */
import { readFileSync, writeFileSync } from 'node:fs'
import type { SimReport } from './run.js'

const OUT = new URL('../../docs/simulation.svg', import.meta.url)

interface Series {
  readonly name: string
  readonly colour: string
  readonly value: (r: SimReport) => number
}

interface Panel {
  readonly title: string
  readonly series: readonly Series[]
  readonly label: (v: number) => string
}

const PANELS: readonly Panel[] = [
  {
    title: 'gossip + SWIM bytes/s received per peer',
    series: [
      { name: 'mean', colour: '#4c78a8', value: (r) => r.bytesPerPeerPerSec.mean },
      { name: 'max', colour: '#9ecae9', value: (r) => r.bytesPerPeerPerSec.max },
    ],
    label: (v) => (v >= 10_000 ? `${(v / 1000).toFixed(0)}k` : v.toFixed(0)),
  },
  {
    title: 'lookup hops per request',
    series: [
      { name: 'mean', colour: '#f58518', value: (r) => r.hops.mean },
      { name: 'p99', colour: '#ffbf79', value: (r) => r.hops.p99 },
    ],
    label: (v) => v.toFixed(2),
  },
  {
    title: 'load view: p99 entry age (s), share of live peers (%)',
    series: [
      { name: 'p99 age (s)', colour: '#54a24b', value: (r) => r.loadView.p99AgeMs / 1000 },
      { name: 'share (%)', colour: '#88d27a', value: (r) => r.loadView.medianShare * 100 },
    ],
    label: (v) => v.toFixed(0),
  },
]

const W = 1080
const H = 380
const TOP = 80
const BOTTOM = 320
const PANEL_W = 300
const STEP = 350
const LEFT = 60
const BAR = 26

function niceCeiling(v: number): number {
  if (v <= 0) return 1
  const p = 10 ** Math.floor(Math.log10(v))
  for (const m of [1, 2, 2.5, 5, 10]) if (m * p >= v) return m * p
  return 10 * p
}

const fmt = (v: number): string => v.toFixed(1)

function panel(p: Panel, reports: readonly SimReport[], x0: number): string[] {
  const max = niceCeiling(Math.max(...reports.flatMap((r) => p.series.map((s) => s.value(r)))))
  const y = (v: number) => BOTTOM - (v / max) * (BOTTOM - TOP)
  const out = [
    `<text x="${x0 + PANEL_W / 2}" y="${TOP - 28}" text-anchor="middle" font-size="13">${p.title}</text>`,
  ]
  for (const f of [0, 0.25, 0.5, 0.75, 1]) {
    out.push(
      `<line x1="${x0}" x2="${x0 + PANEL_W}" y1="${fmt(y(f * max))}" y2="${fmt(y(f * max))}" stroke="#ddd"/>`,
      `<text x="${x0 - 6}" y="${fmt(y(f * max) + 4)}" text-anchor="end" fill="#555">${Number((f * max).toPrecision(3))}</text>`,
    )
  }
  const group = PANEL_W / reports.length
  reports.forEach((r, g) => {
    const gx = x0 + g * group + (group - BAR * p.series.length) / 2
    p.series.forEach((s, b) => {
      const v = s.value(r)
      const x = gx + b * BAR
      out.push(
        `<rect x="${fmt(x)}" y="${fmt(y(v))}" width="${BAR - 4}" height="${fmt(BOTTOM - y(v))}" fill="${s.colour}"/>`,
        `<text x="${fmt(x + (BAR - 4) / 2)}" y="${fmt(y(v) - 4)}" text-anchor="middle" font-size="10">${p.label(v)}</text>`,
      )
    })
    out.push(
      `<text x="${fmt(x0 + (g + 0.5) * group)}" y="${BOTTOM + 18}" text-anchor="middle">N = ${r.peers.toLocaleString('en-US')}</text>`,
    )
  })
  p.series.forEach((s, i) => {
    const lx = x0 + i * 130
    out.push(
      `<rect x="${lx}" y="${TOP - 18}" width="10" height="10" fill="${s.colour}"/>`,
      `<text x="${lx + 14}" y="${TOP - 9}" font-size="11">${s.name}</text>`,
    )
  })
  return out
}

function main(): void {
  const files = process.argv.slice(2)
  if (files.length === 0) {
    process.stderr.write('usage: npm run sim:plot -- REPORT.json… (from npm run sim -- --json)\n')
    process.exit(2)
  }
  const reports = files
    .map((f) => {
      const text = readFileSync(f, 'utf8')
      // `--json` prints the report, then the last line: keep the JSON part.
      return JSON.parse(text.slice(0, text.lastIndexOf('}') + 1)) as SimReport
    })
    .sort((a, b) => a.peers - b.peers)
  const [first] = reports
  const title = `npm run sim -- --scenario ${first?.scenario ?? '?'} --seconds ${first?.seconds ?? '?'} --seed ${first?.seed ?? '?'}: what one peer pays as the mesh grows`
  const svg = [
    `<svg xmlns="http://www.w3.org/2000/svg" width="${W}" height="${H}" viewBox="0 0 ${W} ${H}" font-family="sans-serif" font-size="12">`,
    `<rect width="${W}" height="${H}" fill="white"/>`,
    `<text x="${W / 2}" y="22" text-anchor="middle" font-size="15">${title}</text>`,
    ...PANELS.flatMap((p, i) => panel(p, reports, LEFT + i * STEP)),
    `<text x="${W / 2}" y="${H - 12}" text-anchor="middle" font-size="11" fill="#555">membership: ${reports
      .map(
        (r) =>
          `N=${r.peers.toLocaleString('en-US')} ${r.membership.startsWith('modelled') ? 'modelled' : 'real SWIM core'}`,
      )
      .join(' · ')} (docs/simulation.md)</text>`,
    '</svg>',
    '',
  ].join('\n')
  writeFileSync(OUT, svg)
  process.stdout.write(`wrote docs/simulation.svg from ${reports.length} reports\n`)
}

main()
