// Helpers the auth-js scenarios share: an in-memory storage, result unwrapping, and the runner
// that prints the JSON summary the Python tests read (exit 1 on any failure).
import assert from 'node:assert/strict'
import { randomUUID } from 'node:crypto'
import { AuthClient } from '@supabase/auth-js'

// A client as an app builds one: `key` as apikey and bearer, a session kept in memory, no auto-refresh.
export function authClient(url, key) {
  return new AuthClient({
    url,
    headers: { apikey: key, Authorization: `Bearer ${key}` },
    autoRefreshToken: false,
    persistSession: true,
    storage: memoryStorage(),
    storageKey: `sb-e2e-${randomUUID()}`,
    detectSessionInUrl: false,
  })
}

export function memoryStorage() {
  const items = new Map()
  return {
    getItem: (key) => (items.has(key) ? items.get(key) : null),
    setItem: (key, value) => void items.set(key, value),
    removeItem: (key) => void items.delete(key),
  }
}

export function ok(result, what) {
  if (result.error) {
    const { name, message, status, code } = result.error
    assert.fail(`${what} failed: ${JSON.stringify({ name, message, status, code })}`)
  }
  return result.data
}

export async function runScenarios(scenarios) {
  const passed = []
  const failed = {}
  for (const [name, run] of Object.entries(scenarios)) {
    try {
      await run()
      passed.push(name)
    } catch (error) {
      failed[name] = String(error && error.stack ? error.stack : error)
    }
  }
  console.log(JSON.stringify({ passed, failed }))
  process.exit(Object.keys(failed).length ? 1 : 0)
}
