// MFA with the official @supabase/auth-js client against pytrue: TOTP factors (codes computed from
// the returned secret with the `otpauth` library), assurance levels, challengeAndVerify, unenroll
// and the admin factor API; with PYTRUE_SMS_INBOX_URL, a phone factor whose code is read from the texts
// the Twilio stand-in received.
//
// Environment: PYTRUE_URL, PYTRUE_ANON_KEY, PYTRUE_SERVICE_KEY; optional PYTRUE_SMS_INBOX_URL (a test
// endpoint answering GET ?to=<phone> with {count, codes}) and PYTRUE_SCENARIOS (comma-separated names
// to run, default all). Prints a JSON summary; exits 1 on any failure.
import assert from 'node:assert/strict'
import { randomInt, randomUUID } from 'node:crypto'
import { AuthClient } from '@supabase/auth-js'
import { memoryStorage, ok, runScenarios } from './support.mjs'
import { TOTP } from 'otpauth'

const url = process.env.PYTRUE_URL
const anonKey = process.env.PYTRUE_ANON_KEY
const serviceKey = process.env.PYTRUE_SERVICE_KEY
if (!url || !anonKey || !serviceKey) {
  console.error('PYTRUE_URL, PYTRUE_ANON_KEY and PYTRUE_SERVICE_KEY must be set')
  process.exit(2)
}
const inboxUrl = process.env.PYTRUE_SMS_INBOX_URL
const only = process.env.PYTRUE_SCENARIOS ? process.env.PYTRUE_SCENARIOS.split(',') : null
const PASSWORD = 'correct-horse-battery-staple'

const newClient = (key = anonKey) =>
  new AuthClient({
    url,
    headers: { apikey: key, Authorization: `Bearer ${key}` },
    autoRefreshToken: false,
    persistSession: true,
    storage: memoryStorage(),
    storageKey: `sb-e2e-${randomUUID()}`,
    detectSessionInUrl: false,
  })

const claimsOf = (jwt) => JSON.parse(Buffer.from(jwt.split('.')[1], 'base64url').toString())
const codeFor = (secret, offsetSteps = 0) =>
  new TOTP({ secret, algorithm: 'SHA1', digits: 6, period: 30 }).generate({ timestamp: Date.now() + offsetSteps * 30_000 })

async function signedUp(client) {
  const email = `mfa-${randomUUID()}@example.com`
  const { session, user } = ok(await client.signUp({ email, password: PASSWORD }), 'signUp')
  assert.ok(session, 'the e2e server autoconfirms')
  return { email, user }
}

async function enrolledTotp(client, friendlyName = 'authenticator') {
  const data = ok(await client.mfa.enroll({ factorType: 'totp', friendlyName }), 'mfa.enroll')
  assert.equal(data.type, 'totp')
  assert.equal(data.friendly_name, friendlyName)
  assert.match(data.totp.secret, /^[A-Z2-7]{32}$/)
  assert.ok(data.totp.uri.startsWith('otpauth://totp/'), data.totp.uri)
  assert.ok(data.totp.qr_code.startsWith('data:image/svg+xml;utf-8,<svg'), data.totp.qr_code.slice(0, 60))
  return data
}

// text #atLeast to `phone` (oldest first), polled from the test's inbox
async function textedCode(phone, atLeast = 1) {
  for (let attempt = 0; attempt < 50; attempt++) {
    const body = await (await fetch(`${inboxUrl}?to=${encodeURIComponent(phone)}`)).json()
    if (body.count >= atLeast) return body.codes[atLeast - 1]
    await new Promise((resolve) => setTimeout(resolve, 100))
  }
  assert.fail(`no text #${atLeast} to ${phone}`)
}

const scenarios = {
  async totpStepUpAndAssuranceLevels() {
    const client = newClient()
    await signedUp(client)
    let aal = ok(await client.mfa.getAuthenticatorAssuranceLevel(), 'getAuthenticatorAssuranceLevel')
    assert.deepEqual([aal.currentLevel, aal.nextLevel], ['aal1', 'aal1'])

    const factor = await enrolledTotp(client)
    const challenge = ok(await client.mfa.challenge({ factorId: factor.id }), 'mfa.challenge')
    assert.ok(challenge.expires_at > Date.now() / 1000)
    const wrong = await client.mfa.verify({ factorId: factor.id, challengeId: challenge.id, code: '000000' === codeFor(factor.totp.secret) ? '111111' : '000000' })
    assert.equal(wrong.error?.code, 'mfa_verification_failed')
    ok(await client.mfa.verify({ factorId: factor.id, challengeId: challenge.id, code: codeFor(factor.totp.secret) }), 'mfa.verify')

    aal = ok(await client.mfa.getAuthenticatorAssuranceLevel(), 'getAuthenticatorAssuranceLevel')
    assert.deepEqual([aal.currentLevel, aal.nextLevel], ['aal2', 'aal2'])
    assert.equal(aal.currentAuthenticationMethods[0].method, 'totp')
    const { session } = ok(await client.getSession(), 'getSession')
    const jwt = claimsOf(session.access_token)
    assert.equal(jwt.aal, 'aal2')
    assert.equal(jwt.amr[0].method, 'totp')

    // a refresh keeps aal2
    const refreshed = ok(await client.refreshSession(), 'refreshSession')
    assert.equal(claimsOf(refreshed.session.access_token).aal, 'aal2')

    const factors = ok(await client.mfa.listFactors(), 'mfa.listFactors')
    assert.deepEqual(factors.totp.map((f) => [f.id, f.status]), [[factor.id, 'verified']])

    // unenrolling downgrades the session on the next refresh
    ok(await client.mfa.unenroll({ factorId: factor.id }), 'mfa.unenroll')
    const after = ok(await client.refreshSession(), 'refreshSession')
    assert.equal(claimsOf(after.session.access_token).aal, 'aal1')
    aal = ok(await client.mfa.getAuthenticatorAssuranceLevel(), 'getAuthenticatorAssuranceLevel')
    assert.deepEqual([aal.currentLevel, aal.nextLevel], ['aal1', 'aal1'])
  },

  async challengeAndVerify() {
    const client = newClient()
    await signedUp(client)
    const factor = await enrolledTotp(client, 'second device')
    ok(await client.mfa.challengeAndVerify({ factorId: factor.id, code: codeFor(factor.totp.secret) }), 'mfa.challengeAndVerify')
    const { session } = ok(await client.getSession(), 'getSession')
    assert.equal(claimsOf(session.access_token).aal, 'aal2')
  },

  async aal1SessionsOfMfaUsersAreLimited() {
    const client = newClient()
    const { email } = await signedUp(client)
    const factor = await enrolledTotp(client)
    ok(await client.mfa.challengeAndVerify({ factorId: factor.id, code: codeFor(factor.totp.secret) }), 'mfa.challengeAndVerify')

    // a fresh password sign-in is aal1 with aal2 within reach, and cannot enrol more factors
    const other = newClient()
    ok(await other.signInWithPassword({ email, password: PASSWORD }), 'signInWithPassword')
    const aal = ok(await other.mfa.getAuthenticatorAssuranceLevel(), 'getAuthenticatorAssuranceLevel')
    assert.deepEqual([aal.currentLevel, aal.nextLevel], ['aal1', 'aal2'])
    const refused = await other.mfa.enroll({ factorType: 'totp', friendlyName: 'sneaky' })
    assert.equal(refused.error?.code, 'insufficient_aal')
    const unenroll = await other.mfa.unenroll({ factorId: factor.id })
    assert.equal(unenroll.error?.code, 'insufficient_aal')
    // stepping up this session too
    ok(await other.mfa.challengeAndVerify({ factorId: factor.id, code: codeFor(factor.totp.secret, 1) }), 'mfa.challengeAndVerify')
    assert.equal(ok(await other.mfa.getAuthenticatorAssuranceLevel(), 'aal').currentLevel, 'aal2')
  },

  async adminFactorApi() {
    const client = newClient()
    const { user } = await signedUp(client)
    const factor = await enrolledTotp(client)
    const admin = newClient(serviceKey)
    const listed = ok(await admin.admin.mfa.listFactors({ userId: user.id }), 'admin.mfa.listFactors')
    assert.deepEqual(listed.factors.map((f) => [f.id, f.status, f.factor_type]), [[factor.id, 'unverified', 'totp']])
    ok(await admin.admin.mfa.deleteFactor({ userId: user.id, id: factor.id }), 'admin.mfa.deleteFactor')
    assert.deepEqual(ok(await admin.admin.mfa.listFactors({ userId: user.id }), 'admin.mfa.listFactors').factors, [])
  },
}

if (inboxUrl) {
  scenarios.phoneFactor = async () => {
    const client = newClient()
    await signedUp(client)
    const phone = `1555${String(randomInt(0, 10_000_000)).padStart(7, '0')}` // fictional, stored without '+'
    const factor = ok(await client.mfa.enroll({ factorType: 'phone', phone: `+${phone}`, friendlyName: 'mobile' }), 'mfa.enroll')
    assert.equal(factor.type, 'phone')
    assert.equal(factor.friendly_name, 'mobile')
    assert.equal(factor.phone, `+${phone}`) // GoTrue echoes the number as sent

    const challenge = ok(await client.mfa.challenge({ factorId: factor.id }), 'mfa.challenge')
    const code = await textedCode(phone)
    assert.match(code, /^[0-9]{6}$/)
    const wrong = await client.mfa.verify({ factorId: factor.id, challengeId: challenge.id, code: code === '000000' ? '111111' : '000000' })
    assert.equal(wrong.error?.code, 'mfa_verification_failed')
    ok(await client.mfa.verify({ factorId: factor.id, challengeId: challenge.id, code }), 'mfa.verify')

    const { session } = ok(await client.getSession(), 'getSession')
    const jwt = claimsOf(session.access_token)
    assert.equal(jwt.aal, 'aal2')
    assert.equal(jwt.amr[0].method, 'mfa/phone')
    const aal = ok(await client.mfa.getAuthenticatorAssuranceLevel(), 'getAuthenticatorAssuranceLevel')
    assert.deepEqual([aal.currentLevel, aal.nextLevel], ['aal2', 'aal2'])
    assert.equal(aal.currentAuthenticationMethods[0].method, 'mfa/phone')
    const factors = ok(await client.mfa.listFactors(), 'mfa.listFactors')
    assert.deepEqual(factors.phone.map((f) => [f.id, f.status]), [[factor.id, 'verified']])
  }
}

await runScenarios(only ? Object.fromEntries(Object.entries(scenarios).filter(([name]) => only.includes(name))) : scenarios)
