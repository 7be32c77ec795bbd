// GET /healthz: the process answers. Deliberately touches no binding (it is the benchmark ceiling).
import { Hono } from 'hono'
import type { AppEnv } from '../http/app-env.ts'

export const health = new Hono<AppEnv>()

health.get('/', (c) => c.json({ status: 'ok' }))
