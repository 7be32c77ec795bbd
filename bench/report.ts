// The benchmark report: the machine it ran on, then every figure with its ratio to /healthz and
// whether its target is met, as Markdown (bench/RESULTS.md and the terminal).
import { execFileSync } from 'node:child_process'
import { readFileSync } from 'node:fs'
import type { CpuFigure } from './cpu-worker.ts'
import type { LoadResult } from './load.ts'

export type ScenarioRow = {
  name: string
  result: LoadResult
  /** Required share of /healthz's requests per second, if any. */
  target?: number
  /** One request sent before the load: its status, and whether its body was the expected one. */
  probe: { status: number; ok: boolean }
}

export type ConsumerFigure = {
  messages: number
  sent: number
  failed: number
  unfinished: number
  seconds: number
  perSecond: number
  enqueue: LoadResult
}

type Machine = Record<string, string>

/** p99 may be at most this many times p50, for every scenario. */
const TAIL_RATIO = 5
/** CPU targets in microseconds, by the cpu-worker figure they apply to. */
const CPU_TARGETS: Record<string, number> = {
  'issueAccessToken (ES256 sign)': 1000,
  'introspectToken, warm cache': 300,
  // The whole request, middleware and access log included: what a caller's introspection costs.
  'app: POST /mcg/v1/tokeninfo, warm cache': 300,
}

export function describeMachine({ started, loadBefore, loadAfter }: { started: Date; loadBefore: number[]; loadAfter: number[] }): Machine {
  const version = (pkg: string) => (JSON.parse(readFileSync(`node_modules/${pkg}/package.json`, 'utf8')) as { version: string }).version
  const run = (command: string, ...args: string[]) => execFileSync(command, args, { encoding: 'utf8' }).trim()
  const cpuinfo = readFileSync('/proc/cpuinfo', 'utf8')
  const memKiB = Number(/^MemTotal:\s+(\d+)/m.exec(readFileSync('/proc/meminfo', 'utf8'))?.[1])
  const load = (l: number[]) => l.map((n) => n.toFixed(2)).join(' ')
  return {
    date: started.toISOString(),
    nproc: run('nproc'),
    cpu: /^model name\s*:\s*(.*)$/m.exec(cpuinfo)?.[1] ?? 'unknown',
    memory: `${(memKiB / 1024 / 1024).toFixed(1)} GiB`,
    node: process.version,
    workerd: `${version('workerd')} (${run('node_modules/.bin/workerd', '--version')})`,
    wrangler: version('wrangler'),
    miniflare: version('miniflare'),
    autocannon: version('autocannon'),
    commit: `${run('git', 'rev-parse', '--short', 'HEAD')}${run('git', 'status', '--porcelain', '--', 'src', 'migrations', 'wrangler.toml') ? ' + uncommitted changes in src/' : ''}`,
    'load average (1, 5, 15 min)': `${load(loadBefore)} before, ${load(loadAfter)} after`,
  }
}

export function renderReport({
  machine,
  settings,
  rows,
  consumer,
  cpu,
  workerErrors,
}: {
  machine: Machine
  settings: { connections: number; warmupSeconds: number; durationSeconds: number }
  rows: ScenarioRow[]
  consumer?: ConsumerFigure
  cpu: CpuFigure[]
  workerErrors: string[]
}): string {
  const healthz = rows[0]!.result.rps
  const verdict = (met: boolean) => (met ? 'met' : '**missed**')
  const ms = (n: number) => n.toFixed(2)
  const missed: string[] = []

  const httpRows = rows.map(({ name, result, target, probe }) => {
    const ratio = result.rps / healthz
    const tailMet = result.p99 <= TAIL_RATIO * result.p50
    const ratioMet = target === undefined || ratio >= target
    if (!ratioMet) missed.push(`${name}: ${pct(ratio)} of /healthz, target ≥ ${pct(target!)}`)
    if (!tailMet) missed.push(`${name}: p99 ${ms(result.p99)} ms is ${(result.p99 / result.p50).toFixed(1)}× p50`)
    const notes = [
      probe.ok ? '' : `probe answered ${probe.status} without the expected body`,
      result.wrapped ? 'ran out of fresh tokens: later requests hit a warm cache' : '',
    ].filter(Boolean)
    return [
      name,
      result.rps.toFixed(0),
      ms(result.p50),
      ms(result.p99),
      `${result.errors} / ${result.non2xx}`,
      pct(ratio),
      target === undefined ? '—' : `≥ ${pct(target)}: ${verdict(ratioMet)}`,
      `${(result.p99 / result.p50).toFixed(1)}×: ${verdict(tailMet)}`,
      notes.join('; '),
    ]
  })

  const cpuRows = cpu.map(({ name, microseconds, operations }) => {
    const target = CPU_TARGETS[name]
    const met = target === undefined || microseconds <= target
    if (!met) missed.push(`${name}: ${microseconds.toFixed(0)} µs, target ≤ ${target} µs`)
    return [name, microseconds.toFixed(1), String(operations), target === undefined ? '—' : `≤ ${target} µs: ${verdict(met)}`]
  })

  return [
    '# Portero benchmark results',
    '',
    'Written by `npm run bench` (bench/README.md says how to read it). Every figure is from one run on',
    'the machine below; compare ratios to /healthz across runs, not absolute numbers.',
    '',
    '## Machine',
    '',
    ...Object.entries(machine).map(([key, value]) => `- ${key}: ${value}`),
    '',
    '## HTTP scenarios',
    '',
    `${settings.connections} connections, ${settings.warmupSeconds} s warm-up then ${settings.durationSeconds} s measured per scenario,`,
    'from a separate autocannon process to a socket workerd opens for the Worker itself (no wrangler',
    "dev proxy, no Miniflare entry Worker). bench/README.md explains what the ratios are made of.",
    'Latencies in ms; "errors / non-2xx" counts socket errors and timeouts, then non-2xx answers.',
    '',
    table(
      ['scenario', 'req/s', 'p50', 'p99', 'errors / non-2xx', 'of /healthz', 'target', 'p99 ≤ 5× p50', 'notes'],
      httpRows,
    ),
    '',
    ...(consumer ? ['## Queue consumer', '', renderConsumer(consumer), ''] : []),
    ...(cpu.length ? ['## CPU per operation inside workerd', '', CPU_NOTE, '', table(['operation', 'µs/op', 'ops per batch', 'target'], cpuRows), ''] : []),
    '## Targets missed',
    '',
    ...(missed.length ? missed.map((m) => `- ${m}`) : ['None.']),
    '',
    ...(workerErrors.length
      ? ['## Errors the Worker logged', '', ...workerErrors.map((e) => `- \`${e.slice(0, 300)}\``), '']
      : []),
  ].join('\n')
}

const CPU_NOTE = `From bench/cpu-worker.ts: the real functions (and, for "app:" rows, the whole Hono app) in a
loop, KV replaced by an in-memory map so that only the isolate's own work counts, except in the
rows marked "wall time", which use the local KV and D1 bindings. Microseconds per operation, the
fastest of three batches.`

function renderConsumer({ perSecond, messages, sent, failed, unfinished, seconds, enqueue }: ConsumerFigure): string {
  return table(
    ['figure', 'value'],
    [
      ['messages/s from the queue to the stand-in SMS API', perSecond.toFixed(0)],
      ['messages (sent / failed / unfinished)', `${messages} (${sent} / ${failed} / ${unfinished})`],
      ['first acceptance to last sent_at', `${seconds.toFixed(2)} s`],
      ['/Services while the consumer ran (req/s, p50, p99)', `${enqueue.rps.toFixed(0)}, ${enqueue.p50.toFixed(2)} ms, ${enqueue.p99.toFixed(2)} ms`],
    ],
  )
}

function pct(ratio: number): string {
  return `${(ratio * 100).toFixed(0)} %`
}

function table(head: string[], rows: string[][]): string {
  const line = (cells: string[]) => `| ${cells.join(' | ')} |`
  return [line(head), line(head.map(() => '---')), ...rows.map(line)].join('\n')
}
