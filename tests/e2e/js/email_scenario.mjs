// Email flows with the official @supabase/auth-js client against pytrue delivering by SMTP.
//
// Environment: PYTRUE_URL, PYTRUE_ANON_KEY, PYTRUE_SERVICE_KEY, and PYTRUE_MAILBOX_URL: a small
// HTTP endpoint of the test that answers GET ?to=<address> with the newest message the SMTP
// server received for it: {count, link, otp}. Prints a JSON summary; exits 1 on any failure.
import assert from 'node:assert/strict'
import { randomUUID } from 'node:crypto'
import { AuthClient, GoTrueAdminApi, isAuthApiError } from '@supabase/auth-js'

const url = process.env.PYTRUE_URL
const anonKey = process.env.PYTRUE_ANON_KEY
const serviceKey = process.env.PYTRUE_SERVICE_KEY
const mailboxUrl = process.env.PYTRUE_MAILBOX_URL
if (!url || !anonKey || !serviceKey || !mailboxUrl) {
  console.error('PYTRUE_URL, PYTRUE_ANON_KEY, PYTRUE_SERVICE_KEY and PYTRUE_MAILBOX_URL must be set')
  process.exit(2)
}

const PASSWORD = 'correct-horse-battery-staple'

/** A Map-backed storage, so PKCE can keep its code verifier between calls. */
function memoryStorage() {
  const items = new Map()
  return {
    getItem: (key) => (items.has(key) ? items.get(key) : null),
    setItem: (key, value) => void items.set(key, value),
    removeItem: (key) => void items.delete(key),
  }
}

const newClient = (flowType = 'implicit') =>
  new AuthClient({
    url,
    headers: { apikey: anonKey, Authorization: `Bearer ${anonKey}` },
    autoRefreshToken: false,
    persistSession: true,
    storage: memoryStorage(),
    storageKey: `sb-e2e-${randomUUID()}`,
    flowType,
    detectSessionInUrl: false,
  })

const admin = new GoTrueAdminApi({ url, headers: { apikey: serviceKey, Authorization: `Bearer ${serviceKey}` } })
const uniqueEmail = (tag) => `e2e-jsmail-${tag}-${randomUUID().replaceAll('-', '').slice(0, 12)}@example.com`

function ok(result, what) {
  if (result.error) {
    const { name, message, status, code } = result.error
    assert.fail(`${what} failed: ${JSON.stringify({ name, message, status, code })}`)
  }
  return result.data
}

async function mail(to, atLeast = 1) {
  for (let attempt = 0; attempt < 50; attempt++) {
    const response = await fetch(`${mailboxUrl}?to=${encodeURIComponent(to)}`)
    const body = await response.json()
    if (body.count >= atLeast) return body
    await new Promise((resolve) => setTimeout(resolve, 100))
  }
  assert.fail(`no message #${atLeast} for ${to}`)
}

/** Opens an emailed link like a browser would; returns the redirect target. */
async function follow(link) {
  const response = await fetch(link, { redirect: 'manual' })
  assert.equal(response.status, 303, `GET ${link} answered ${response.status}`)
  return new URL(response.headers.get('location'))
}

const fragmentOf = (target) => Object.fromEntries(new URLSearchParams(target.hash.slice(1)))

async function confirmed(client, email) {
  ok(await client.signUp({ email, password: PASSWORD }), 'signUp')
  const { otp } = await mail(email)
  return ok(await client.verifyOtp({ email, token: otp, type: 'signup' }), 'verifyOtp signup')
}

const scenarios = {
  async signUpAndConfirmationLink() {
    const client = newClient()
    const email = uniqueEmail('confirm')
    const signUp = ok(await client.signUp({ email, password: PASSWORD }), 'signUp')
    assert.equal(signUp.session, null)
    assert.equal(signUp.user.email, email)
    const target = await follow((await mail(email)).link)
    const params = fragmentOf(target)
    assert.equal(params.type, 'signup')
    const session = ok(
      await client.setSession({ access_token: params.access_token, refresh_token: params.refresh_token }),
      'setSession'
    )
    assert.ok(session.user.email_confirmed_at)
    return { redirect: target.origin }
  },

  async signInWithOtpAndVerifyOtp() {
    const client = newClient()
    const email = uniqueEmail('otp')
    await confirmed(client, email)
    ok(await client.signOut(), 'signOut')
    ok(await client.signInWithOtp({ email, options: { shouldCreateUser: false } }), 'signInWithOtp')
    const { otp } = await mail(email, 2)
    const data = ok(await client.verifyOtp({ email, token: otp, type: 'email' }), 'verifyOtp email')
    assert.ok(data.session?.access_token)
    const reused = await client.verifyOtp({ email, token: otp, type: 'email' })
    assert.ok(isAuthApiError(reused.error))
    assert.equal(reused.error.code, 'otp_expired')
    const unknown = await client.signInWithOtp({ email: uniqueEmail('nobody'), options: { shouldCreateUser: false } })
    assert.equal(unknown.error?.code, 'otp_disabled')
  },

  async resetPasswordForEmailThenUpdateUser() {
    const client = newClient()
    const email = uniqueEmail('reset')
    await confirmed(client, email)
    ok(await client.signOut(), 'signOut')
    ok(await client.resetPasswordForEmail(email, { redirectTo: 'http://localhost:3000/reset' }), 'resetPasswordForEmail')
    const target = await follow((await mail(email, 2)).link)
    assert.equal(target.pathname, '/reset')
    const params = fragmentOf(target)
    assert.equal(params.type, 'recovery')
    ok(await client.setSession({ access_token: params.access_token, refresh_token: params.refresh_token }), 'setSession')
    ok(await client.updateUser({ password: 'a-brand-new-password' }), 'updateUser')
    ok(await client.signOut(), 'signOut')
    ok(await client.signInWithPassword({ email, password: 'a-brand-new-password' }), 'signIn with the new password')
  },

  async resendConfirmation() {
    const client = newClient()
    const email = uniqueEmail('resend')
    ok(await client.signUp({ email, password: PASSWORD }), 'signUp')
    await mail(email)
    ok(await client.resend({ type: 'signup', email }), 'resend')
    const { otp, count } = await mail(email, 2)
    assert.equal(count, 2)
    ok(await client.verifyOtp({ email, token: otp, type: 'signup' }), 'verifyOtp with the resent code')
  },

  async adminGenerateLinkAndVerifyTokenHash() {
    const client = newClient()
    const email = uniqueEmail('generate')
    const link = ok(await admin.generateLink({ type: 'signup', email, password: PASSWORD }), 'generateLink')
    assert.equal(link.properties.verification_type, 'signup')
    assert.ok(link.properties.action_link.includes(link.properties.hashed_token))
    const data = ok(
      await client.verifyOtp({ token_hash: link.properties.hashed_token, type: 'signup' }),
      'verifyOtp token_hash'
    )
    assert.equal(data.user.email, email)
  },

  async adminInviteUserByEmail() {
    const client = newClient()
    const email = uniqueEmail('invite')
    const invited = ok(await admin.inviteUserByEmail(email, { data: { team: 'blue' } }), 'inviteUserByEmail')
    assert.ok(invited.user.invited_at)
    const params = fragmentOf(await follow((await mail(email)).link))
    assert.equal(params.type, 'invite')
    const session = ok(
      await client.setSession({ access_token: params.access_token, refresh_token: params.refresh_token }),
      'setSession'
    )
    assert.equal(session.user.user_metadata.team, 'blue')
  },

  async pkceMagicLinkExchangeCodeForSession() {
    const client = newClient('pkce')
    const email = uniqueEmail('pkce')
    await confirmed(newClient(), email)
    ok(
      await client.signInWithOtp({ email, options: { emailRedirectTo: 'http://localhost:3000/callback' } }),
      'signInWithOtp (pkce)'
    )
    const { link } = await mail(email, 2)
    assert.ok(new URL(link).searchParams.get('token').startsWith('pkce_'))
    const target = await follow(link)
    assert.equal(target.pathname, '/callback')
    assert.equal(target.hash, '')
    const code = target.searchParams.get('code')
    const data = ok(await client.exchangeCodeForSession(code), 'exchangeCodeForSession')
    assert.equal(data.user.email, email)
    const again = await newClient('pkce').exchangeCodeForSession(code)
    assert.ok(again.error, 'a code is exchanged only once')
  },
}

const summary = { passed: [], failed: {}, details: {} }
for (const [name, run] of Object.entries(scenarios)) {
  try {
    summary.details[name] = (await run()) ?? null
    summary.passed.push(name)
  } catch (err) {
    summary.failed[name] = err?.stack ?? String(err)
  }
}
console.log(JSON.stringify(summary, null, 2))
process.exit(Object.keys(summary.failed).length === 0 ? 0 : 1)
