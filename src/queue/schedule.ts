// When the scheduled clean-up runs (src/index.ts scheduled): wrangler.toml's one cron trigger,
// checked by scripts/deploy-check.ts. Deliveries need no cron: each send shard's alarm tends its
// own (src/queue/shard-alarm.ts).
export const CLEAN_UP_CRON = '*/5 * * * *'
