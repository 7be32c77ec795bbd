// `npm start`'s cron triggers: `wrangler dev` fires none, so the Worker's scheduled handler (the
// clean-up every five minutes) would never run locally. Started with `--test-scheduled`, wrangler
// dev runs it on `GET /__scheduled?cron=…`; this calls that on wrangler.toml's schedule, as
// Cloudflare would. (Deliveries need no cron: the send shards' alarms run in wrangler dev too.)

export type LocalCronOptions = {
  /** Where `wrangler dev --test-scheduled` listens, e.g. http://localhost:8787. */
  base: string
  /** wrangler.toml's `[triggers] crons`. */
  crons: readonly string[]
  fetch?: typeof globalThis.fetch
  now?: () => Date
  log?: (message: string) => void
}

/**
 * Whether `cron` fires at `at` (its minute, UTC). The minute may be `*`, a step (every N minutes),
 * a number or a list of them; the other four fields must be `*`, as in all of Portero's triggers.
 * Throws otherwise, so a new trigger this cannot follow fails `npm start` loudly instead of never
 * running.
 */
export function cronFires(cron: string, at: Date): boolean {
  const [minute, ...rest] = cron.trim().split(/\s+/)
  if (minute === undefined || rest.length !== 4 || rest.some((field) => field !== '*')) {
    throw new Error(`local cron triggers follow "M * * * *" only, not "${cron}"`)
  }
  const now = at.getUTCMinutes()
  return minute.split(',').some((part) => {
    if (part === '*') return true
    const step = /^\*\/(\d+)$/.exec(part)
    if (step) return now % Number(step[1]) === 0
    if (/^\d+$/.test(part)) return now === Number(part)
    throw new Error(`local cron triggers cannot read the minute "${part}" of "${cron}"`)
  })
}

/**
 * Runs the scheduled handler for every cron at once (what ran while nothing did), then at the
 * start of each minute for the crons due then. Returns a function that stops it.
 */
export function startLocalCron({
  base,
  crons,
  fetch = globalThis.fetch,
  now = () => new Date(),
  log = (message) => console.log(message),
}: LocalCronOptions): () => void {
  for (const cron of crons) cronFires(cron, now())
  const timers = new Set<ReturnType<typeof setTimeout>>()
  let stopped = false

  async function run(due: readonly string[]) {
    for (const cron of due) {
      try {
        const response = await fetch(`${base}/__scheduled?cron=${encodeURIComponent(cron)}`)
        await response.body?.cancel()
        if (!response.ok) log(`cron "${cron}" answered ${response.status}`)
      } catch (cause) {
        if (!stopped) log(`cron "${cron}" could not run: ${String(cause)}`)
      }
    }
  }
  function after(ms: number, work: () => void) {
    const timer = setTimeout(() => {
      timers.delete(timer)
      if (!stopped) work()
    }, ms)
    timers.add(timer)
  }
  function nextMinute() {
    const at = now()
    const wait = 60_000 - (at.getTime() % 60_000)
    after(wait, () => {
      const minute = new Date(at.getTime() + wait)
      void run(crons.filter((cron) => cronFires(cron, minute)))
      nextMinute()
    })
  }

  void run(crons)
  nextMinute()
  return () => {
    stopped = true
    for (const timer of timers) clearTimeout(timer)
    timers.clear()
  }
}
