// Auth hooks seen from the official @supabase/auth-js client: a custom access token hook's claims
// reach the session, getClaims(), refreshes and password sign-ins; its refusal and a
// before-user-created refusal are AuthApiErrors with the hook's status and message.
//
// Environment: PYTRUE_URL, PYTRUE_ANON_KEY, PYTRUE_SERVICE_KEY. Prints a JSON summary; exits 1 on any failure.
import assert from 'node:assert/strict'
import { randomUUID } from 'node:crypto'
import { authClient, ok, runScenarios } from './support.mjs'

const url = process.env.PYTRUE_URL
const anonKey = process.env.PYTRUE_ANON_KEY
if (!url || !anonKey) {
  console.error('PYTRUE_URL and PYTRUE_ANON_KEY must be set')
  process.exit(2)
}
const PASSWORD = 'correct-horse-battery-staple'

const newClient = () => authClient(url, anonKey)

const claimsOf = (jwt) => JSON.parse(Buffer.from(jwt.split('.')[1], 'base64url').toString())

const scenarios = {
  async customClaimsReachTheClient() {
    const client = newClient()
    const email = `hooks-${randomUUID()}@example.com`
    const { session, user } = ok(await client.signUp({ email, password: PASSWORD, options: { data: { plan: 'pro' } } }), 'signUp')
    assert.ok(session, 'the e2e server autoconfirms')
    let claims = claimsOf(session.access_token)
    assert.equal(claims.tenant, 'acme')
    assert.equal(claims.plan, 'pro')
    assert.equal(claims.sub, user.id)

    const verified = ok(await client.getClaims(), 'getClaims')
    assert.equal(verified.claims.tenant, 'acme')
    assert.equal(verified.claims.plan, 'pro')

    const refreshed = ok(await client.refreshSession(), 'refreshSession')
    claims = claimsOf(refreshed.session.access_token)
    assert.equal(claims.tenant, 'acme')
    assert.equal(claims.method, 'token_refresh')

    const other = newClient()
    const signedIn = ok(await other.signInWithPassword({ email, password: PASSWORD }), 'signInWithPassword')
    claims = claimsOf(signedIn.session.access_token)
    assert.equal(claims.method, 'password')
    const me = ok(await other.getUser(), 'getUser')
    assert.equal(me.user.id, user.id)
  },

  async aRefusingAccessTokenHookIsAnAuthError() {
    const client = newClient()
    const email = `held-${randomUUID()}@example.com`
    const { data, error } = await client.signUp({ email, password: PASSWORD, options: { data: { on_hold: true } } })
    assert.ok(error, 'the hook refuses tokens for accounts on hold')
    assert.equal(error.name, 'AuthApiError')
    assert.equal(error.status, 403)
    assert.equal(error.message, 'Account on hold')
    assert.equal(data.session, null)
    const again = await newClient().signInWithPassword({ email, password: PASSWORD })
    assert.equal(again.error.code, 'invalid_credentials') // the refused sign-up wrote nothing
  },

  async beforeUserCreatedRefusesASignUp() {
    const { error } = await newClient().signUp({ email: `eve-${randomUUID()}@blocked.test`, password: PASSWORD })
    assert.ok(error)
    assert.equal(error.name, 'AuthApiError')
    assert.equal(error.status, 400)
    assert.equal(error.message, 'Sign-ups from this domain are closed')
  },
}

await runScenarios(scenarios)
