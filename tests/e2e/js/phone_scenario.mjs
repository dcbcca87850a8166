// Phone flows with the official @supabase/auth-js client against pytrue texting through Twilio's API.
//
// Environment: PYTRUE_URL, PYTRUE_ANON_KEY, PYTRUE_SERVICE_KEY, and PYTRUE_SMS_INBOX_URL: a small
// HTTP endpoint of the test that answers GET ?to=<phone> with the texts the Twilio stand-in
// received for that number: {count, codes}. Prints a JSON summary; exits 1 on any failure.
import assert from 'node:assert/strict'
import { randomInt, randomUUID } from 'node:crypto'
import { AuthClient, isAuthApiError } from '@supabase/auth-js'

const url = process.env.PYTRUE_URL
const anonKey = process.env.PYTRUE_ANON_KEY
const inboxUrl = process.env.PYTRUE_SMS_INBOX_URL
if (!url || !anonKey || !inboxUrl) {
  console.error('PYTRUE_URL, PYTRUE_ANON_KEY and PYTRUE_SMS_INBOX_URL must be set')
  process.exit(2)
}

const PASSWORD = 'correct-horse-battery-staple'

function memoryStorage() {
  const items = new Map()
  return {
    getItem: (key) => (items.has(key) ? items.get(key) : null),
    setItem: (key, value) => void items.set(key, value),
    removeItem: (key) => void items.delete(key),
  }
}

const newClient = () =>
  new AuthClient({
    url,
    headers: { apikey: anonKey, Authorization: `Bearer ${anonKey}` },
    autoRefreshToken: false,
    persistSession: true,
    storage: memoryStorage(),
    storageKey: `sb-e2e-${randomUUID()}`,
    detectSessionInUrl: false,
  })

// fictional +1 555 numbers, as pytrue stores them (digits, no '+')
const uniquePhone = () => `1555${String(randomInt(0, 10_000_000)).padStart(7, '0')}`

function ok(result, what) {
  if (result.error) {
    const { name, message, status, code } = result.error
    assert.fail(`${what} failed: ${JSON.stringify({ name, message, status, code })}`)
  }
  return result.data
}

async function code(phone, atLeast = 1) {
  for (let attempt = 0; attempt < 50; attempt++) {
    const body = await (await fetch(`${inboxUrl}?to=${encodeURIComponent(phone)}`)).json()
    if (body.count >= atLeast) return body.codes[atLeast - 1]
    await new Promise((resolve) => setTimeout(resolve, 100))
  }
  assert.fail(`no text #${atLeast} to ${phone}`)
}

const scenarios = {
  async signUpWithPhoneThenVerifyOtp() {
    const client = newClient()
    const phone = uniquePhone()
    const signUp = ok(await client.signUp({ phone: `+${phone}`, password: PASSWORD }), 'signUp')
    assert.equal(signUp.session, null)
    assert.equal(signUp.user.phone, phone)
    const data = ok(await client.verifyOtp({ phone: `+${phone}`, token: await code(phone), type: 'sms' }), 'verifyOtp sms')
    assert.ok(data.session?.access_token)
    assert.ok(data.user.phone_confirmed_at)
    ok(await client.signOut(), 'signOut')
    const signedIn = ok(await client.signInWithPassword({ phone: `+${phone}`, password: PASSWORD }), 'signInWithPassword phone')
    assert.equal(signedIn.user.phone, phone)
  },

  async signInWithOtpByPhone() {
    const client = newClient()
    const phone = uniquePhone()
    ok(await client.signInWithOtp({ phone: `+${phone}` }), 'signInWithOtp phone')
    const token = await code(phone)
    const data = ok(await client.verifyOtp({ phone: `+${phone}`, token, type: 'sms' }), 'verifyOtp sms')
    assert.equal(data.user.phone, phone)
    const reused = await newClient().verifyOtp({ phone: `+${phone}`, token, type: 'sms' })
    assert.ok(isAuthApiError(reused.error))
    assert.equal(reused.error.code, 'otp_expired')
  },

  async updateUserPhoneThenVerifyPhoneChange() {
    const client = newClient()
    const phone = uniquePhone()
    ok(await client.signUp({ phone: `+${phone}`, password: PASSWORD }), 'signUp')
    ok(await client.verifyOtp({ phone: `+${phone}`, token: await code(phone), type: 'sms' }), 'verifyOtp sms')
    const next = uniquePhone()
    ok(await client.updateUser({ phone: `+${next}` }), 'updateUser phone')
    const data = ok(
      await client.verifyOtp({ phone: `+${next}`, token: await code(next), type: 'phone_change' }),
      'verifyOtp phone_change'
    )
    assert.equal(data.user.phone, next)
  },

  async resendSms() {
    const client = newClient()
    const phone = uniquePhone()
    ok(await client.signUp({ phone: `+${phone}`, password: PASSWORD }), 'signUp')
    await code(phone)
    ok(await client.resend({ type: 'sms', phone: `+${phone}` }), 'resend sms')
    const data = ok(await client.verifyOtp({ phone: `+${phone}`, token: await code(phone, 2), type: 'sms' }), 'verifyOtp resent')
    assert.ok(data.session)
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
