// An app's auth tests with @supabase/auth-js against `pytrue testserver` (see testserver.mjs).
// Run: PYTRUE_COMMAND=/path/to/pytrue node signup_flow.test.mjs  (exit 0 when every test passes)
import assert from 'node:assert/strict'
import { test, after, before, beforeEach } from 'node:test'
import { AuthClient } from '@supabase/auth-js'
import { startTestServer } from './testserver.mjs'

let server

function client() {
  const items = new Map()
  return new AuthClient({
    url: server.url,
    headers: { apikey: server.anon_key, Authorization: `Bearer ${server.anon_key}` },
    autoRefreshToken: false,
    persistSession: true,
    detectSessionInUrl: false,
    storage: { getItem: (k) => items.get(k) ?? null, setItem: (k, v) => void items.set(k, v), removeItem: (k) => void items.delete(k) },
  })
}

before(async () => {
  server = await startTestServer({ env: { GOTRUE_SITE_URL: 'http://app.test' } })
})
beforeEach(async () => server.reset())
after(async () => server.stop())

test('sign up, confirm with the emailed code, then sign in', async () => {
  const auth = client()
  const signedUp = await auth.signUp({ email: 'node@example.com', password: 'a-long-enough-password' })
  assert.equal(signedUp.error, null)
  assert.equal(signedUp.data.session, null) // confirmation required, as GoTrue's default

  const refused = await auth.signInWithPassword({ email: 'node@example.com', password: 'a-long-enough-password' })
  assert.equal(refused.error?.code, 'email_not_confirmed')

  const code = await server.otpFor('node@example.com')
  const verified = await auth.verifyOtp({ email: 'node@example.com', token: code, type: 'signup' })
  assert.equal(verified.error, null)
  assert.equal(verified.data.user.email, 'node@example.com')

  const { data, error } = await auth.getUser()
  assert.equal(error, null)
  assert.ok(data.user.email_confirmed_at)
})

test('the reset before each test left no user behind', async () => {
  const refused = await client().signInWithPassword({ email: 'node@example.com', password: 'a-long-enough-password' })
  assert.equal(refused.error?.code, 'invalid_credentials')
})

test('a user made by the server signs in; an expired access token is refused, refresh works', async () => {
  await server.createUser({ email: 'made@example.com', password: 'a-long-enough-password' })
  const auth = client()
  const signedIn = await auth.signInWithPassword({ email: 'made@example.com', password: 'a-long-enough-password' })
  assert.equal(signedIn.error, null)
  const { access_token: token, refresh_token: refreshToken } = signedIn.data.session

  await server.advanceClock(3601)
  const expired = await auth.getUser(token)
  assert.equal(expired.error?.code, 'bad_jwt')

  const refreshed = await auth.refreshSession({ refresh_token: refreshToken })
  assert.equal(refreshed.error, null)
  assert.notEqual(refreshed.data.session.refresh_token, refreshToken)
})

test('a session made by the server is a real one', async () => {
  const user = await server.createUser({ email: 'direct@example.com' })
  const session = await server.sessionFor({ user_id: user.id })
  const auth = client()
  const set = await auth.setSession({ access_token: session.access_token, refresh_token: session.refresh_token })
  assert.equal(set.error, null)
  assert.equal(set.data.user.id, user.id)
})

test('a magic link from the inbox signs in', async () => {
  await server.createUser({ email: 'link@example.com' })
  const auth = client()
  assert.equal((await auth.signInWithOtp({ email: 'link@example.com', options: { shouldCreateUser: false } })).error, null)
  const mail = await server.latestEmail('link@example.com', 'magic_link')
  const verified = await auth.verifyOtp({ token_hash: mail.token_hash, type: 'email' })
  assert.equal(verified.error, null)
  assert.equal(verified.data.user.email, 'link@example.com')
})
