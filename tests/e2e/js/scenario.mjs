// End-to-end scenarios for the official @supabase/auth-js client against a running pytrue.
//
// Environment: PYTRUE_URL (base URL, no /auth/v1 prefix), PYTRUE_ANON_KEY, PYTRUE_SERVICE_KEY.
// Prints a JSON summary on stdout; exits 1 if any scenario failed.
import assert from 'node:assert/strict'
import { randomUUID } from 'node:crypto'
import {
  AuthApiError,
  AuthClient,
  GoTrueAdminApi,
  isAuthApiError,
  isAuthSessionMissingError,
  isAuthWeakPasswordError,
} from '@supabase/auth-js'

const url = process.env.PYTRUE_URL
const anonKey = process.env.PYTRUE_ANON_KEY
const serviceKey = process.env.PYTRUE_SERVICE_KEY
if (!url || !anonKey || !serviceKey) {
  console.error('PYTRUE_URL, PYTRUE_ANON_KEY and PYTRUE_SERVICE_KEY must be set')
  process.exit(2)
}

const PASSWORD = 'correct-horse-battery-staple'

const newClient = () =>
  new AuthClient({
    url,
    headers: { apikey: anonKey, Authorization: `Bearer ${anonKey}` },
    autoRefreshToken: false,
    persistSession: false,
  })

const admin = new GoTrueAdminApi({
  url,
  headers: { apikey: serviceKey, Authorization: `Bearer ${serviceKey}` },
})

const uniqueEmail = (tag) => `e2e-js-${tag}-${randomUUID().slice(0, 12)}@example.com`

/** Unwraps a `{data, error}` result, failing with the error's details. */
function ok(result, what) {
  if (result.error) {
    const { name, message, status, code } = result.error
    assert.fail(`${what} failed: ${JSON.stringify({ name, message, status, code })}`)
  }
  return result.data
}

function assertSession(session, what) {
  assert.ok(session, `${what}: no session`)
  assert.ok(session.access_token, `${what}: no access_token`)
  assert.ok(session.refresh_token, `${what}: no refresh_token`)
  assert.ok(session.expires_in > 0, `${what}: expires_in must be positive`)
  assert.ok(session.expires_at > Date.now() / 1000, `${what}: expires_at must be in the future`)
  assert.equal(session.token_type, 'bearer')
}

function decodeJwt(token) {
  return JSON.parse(Buffer.from(token.split('.')[1], 'base64url').toString('utf8'))
}

const scenarios = {
  async signUpAndSessionLifecycle() {
    const client = newClient()
    const email = uniqueEmail('life')

    const signUp = ok(
      await client.signUp({ email, password: PASSWORD, options: { data: { plan: 'free' } } }),
      'signUp'
    )
    assert.equal(signUp.user.email, email)
    assert.equal(signUp.user.aud, 'authenticated')
    assert.deepEqual(signUp.user.user_metadata.plan, 'free')
    assertSession(signUp.session, 'signUp')
    ok(await client.signOut(), 'signOut after signUp')
    assert.equal(ok(await client.getSession(), 'getSession').session, null)

    const signIn = ok(await client.signInWithPassword({ email, password: PASSWORD }), 'signInWithPassword')
    assertSession(signIn.session, 'signInWithPassword')
    assert.equal(signIn.user.email, email)
    const claims = decodeJwt(signIn.session.access_token)
    for (const claim of ['exp', 'aal', 'amr', 'session_id', 'sub', 'role']) {
      assert.ok(claim in claims, `access token lacks the ${claim} claim`)
    }
    assert.equal(claims.sub, signIn.user.id)
    assert.equal(claims.role, 'authenticated')

    const fetched = ok(await client.getUser(), 'getUser')
    assert.equal(fetched.user.id, signIn.user.id)
    assert.equal(fetched.user.email, email)

    const aal = ok(await client.mfa.getAuthenticatorAssuranceLevel(), 'getAuthenticatorAssuranceLevel')
    assert.equal(aal.currentLevel, 'aal1')

    const updated = ok(await client.updateUser({ data: { nickname: 'pytrue', n: 1 } }), 'updateUser')
    assert.equal(updated.user.user_metadata.nickname, 'pytrue')
    assert.equal(updated.user.user_metadata.n, 1)
    const refetched = ok(await client.getUser(), 'getUser after updateUser')
    assert.equal(refetched.user.user_metadata.nickname, 'pytrue')

    const refreshed = ok(await client.refreshSession(), 'refreshSession')
    assertSession(refreshed.session, 'refreshSession')
    assert.notEqual(refreshed.session.refresh_token, signIn.session.refresh_token)
    assert.equal(refreshed.user.id, signIn.user.id)
    const current = ok(await client.getSession(), 'getSession after refresh').session
    assert.equal(current.access_token, refreshed.session.access_token)

    ok(await client.signOut(), 'signOut')
    assert.equal(ok(await client.getSession(), 'getSession after signOut').session, null)

    // The session was revoked: its refresh token is dead for any client.
    const stale = await newClient().refreshSession({ refresh_token: refreshed.session.refresh_token })
    assert.ok(isAuthApiError(stale.error), 'refresh after signOut must fail with an AuthApiError')
    return { userId: signIn.user.id }
  },

  async wrongPasswordIsInvalidCredentials() {
    const client = newClient()
    const email = uniqueEmail('wrong')
    ok(await client.signUp({ email, password: PASSWORD }), 'signUp')
    ok(await client.signOut(), 'signOut')

    const { data, error } = await client.signInWithPassword({ email, password: 'not-the-password' })
    assert.ok(error instanceof AuthApiError, `expected AuthApiError, got ${error?.name}`)
    assert.equal(error.code, 'invalid_credentials')
    assert.equal(error.status, 400)
    assert.equal(data.session, null)

    const unknown = await client.signInWithPassword({ email: uniqueEmail('nobody'), password: PASSWORD })
    assert.equal(unknown.error?.code, 'invalid_credentials')
    return { code: error.code, message: error.message }
  },

  async weakPasswordOnSignUp() {
    const { error } = await newClient().signUp({ email: uniqueEmail('weak'), password: 'abc' })
    assert.ok(isAuthWeakPasswordError(error), `expected AuthWeakPasswordError, got ${error?.name}`)
    assert.equal(error.code, 'weak_password')
    assert.equal(error.status, 422)
    assert.deepEqual(error.reasons, ['length'])
    return { reasons: error.reasons }
  },

  async adminUserManagement() {
    const email = uniqueEmail('admin')
    const created = ok(
      await admin.createUser({
        email,
        password: PASSWORD,
        email_confirm: true,
        user_metadata: { source: 'admin' },
        app_metadata: { tier: 'gold' },
      }),
      'admin.createUser'
    )
    const user = created.user
    assert.equal(user.email, email)
    assert.ok(user.email_confirmed_at, 'email_confirm: true must confirm the address')
    assert.equal(user.user_metadata.source, 'admin')
    assert.equal(user.app_metadata.tier, 'gold')
    assert.equal(user.app_metadata.provider, 'email')

    const extras = []
    for (let i = 0; i < 2; i++) {
      const extra = ok(
        await admin.createUser({ email: uniqueEmail('extra'), password: PASSWORD }),
        'admin.createUser (extra)'
      )
      extras.push(extra.user.id)
    }

    const all = ok(await admin.listUsers({ page: 1, perPage: 1000 }), 'admin.listUsers (all)')
    const count = all.users.length
    assert.ok(count >= 3)
    for (const id of [user.id, ...extras]) {
      assert.ok(all.users.some((u) => u.id === id), `listUsers lacks ${id}`)
    }

    const page1 = ok(await admin.listUsers({ page: 1, perPage: 2 }), 'admin.listUsers page 1')
    assert.equal(page1.users.length, 2)
    assert.equal(page1.aud, 'authenticated')
    assert.equal(page1.total, count, 'total must come from X-Total-Count')
    assert.equal(page1.nextPage, 2, 'nextPage must come from the Link header')
    const lastPage = Math.ceil(count / 2)
    // auth-js reads only the first digit of each page number in the Link header.
    if (lastPage < 10) assert.equal(page1.lastPage, lastPage, 'lastPage must come from the Link header')
    const page2 = ok(await admin.listUsers({ page: 2, perPage: 2 }), 'admin.listUsers page 2')
    assert.ok(page2.users.length >= 1)
    const page1Ids = new Set(page1.users.map((u) => u.id))
    assert.ok(page2.users.every((u) => !page1Ids.has(u.id)), 'pages must not overlap')

    const byId = ok(await admin.getUserById(user.id), 'admin.getUserById')
    assert.equal(byId.user.id, user.id)

    const client = newClient()
    ok(await client.signInWithPassword({ email, password: PASSWORD }), 'signIn before ban')
    ok(await client.signOut(), 'signOut before ban')

    const banned = ok(
      await admin.updateUserById(user.id, { ban_duration: '24h', user_metadata: { source: 'banned' } }),
      'admin.updateUserById (ban)'
    )
    assert.ok(banned.user.banned_until, 'ban_duration must set banned_until')
    assert.equal(banned.user.user_metadata.source, 'banned')
    const blocked = await client.signInWithPassword({ email, password: PASSWORD })
    assert.ok(blocked.error instanceof AuthApiError, `expected AuthApiError, got ${blocked.error?.name}`)
    assert.equal(blocked.error.code, 'user_banned')

    const unbanned = ok(
      await admin.updateUserById(user.id, { ban_duration: 'none' }),
      'admin.updateUserById (unban)'
    )
    assert.ok(!unbanned.user.banned_until, 'ban_duration none must lift the ban')
    ok(await client.signInWithPassword({ email, password: PASSWORD }), 'signIn after unban')
    ok(await client.signOut(), 'signOut after unban')

    ok(await admin.deleteUser(user.id), 'admin.deleteUser')
    for (const id of extras) ok(await admin.deleteUser(id), 'admin.deleteUser (extra)')
    const missing = await admin.getUserById(user.id)
    assert.ok(isAuthApiError(missing.error), 'deleted user must not be found')
    assert.equal(missing.error.status, 404)
    assert.equal(missing.error.code, 'user_not_found')
    const gone = await client.signInWithPassword({ email, password: PASSWORD })
    assert.equal(gone.error?.code, 'invalid_credentials')

    return { total: page1.total, nextPage: page1.nextPage, lastPage: page1.lastPage }
  },

  async passwordChangeClaimsAndRevokedSession() {
    const email = uniqueEmail('revoke')
    const device1 = newClient()
    const device2 = newClient()
    ok(await device1.signUp({ email, password: PASSWORD }), 'signUp')
    ok(await device2.signInWithPassword({ email, password: PASSWORD }), 'signIn on device 2')

    const claims = ok(await device1.getClaims(), 'getClaims')
    assert.equal(claims.claims.email, email)
    assert.equal(claims.claims.aud, 'authenticated')

    const newPassword = `${PASSWORD}-2`
    ok(await device1.updateUser({ password: newPassword }), 'updateUser (password)')
    const old = await newClient().signInWithPassword({ email, password: PASSWORD })
    assert.equal(old.error?.code, 'invalid_credentials', 'the old password must stop working')
    ok(await newClient().signInWithPassword({ email, password: newPassword }), 'signIn with new password')

    // A global sign-out on device 1 revokes device 2's session server-side.
    ok(await device1.signOut({ scope: 'global' }), 'signOut (global)')
    const stale = await device2.getUser()
    assert.ok(isAuthSessionMissingError(stale.error), `expected AuthSessionMissingError, got ${stale.error?.name}: ${stale.error?.message}`)
    assert.equal(ok(await device2.getSession(), 'getSession on device 2').session, null, 'getUser must wipe the revoked session')

    // Signing out with a token whose session is already gone is not an error for the client.
    const device3 = newClient()
    const third = ok(await device3.signInWithPassword({ email, password: newPassword }), 'signIn on device 3')
    ok(await admin.signOut(third.session.access_token, 'global'), 'admin.signOut')
    ok(await device3.signOut(), 'signOut with a revoked session')
    assert.equal(ok(await device3.getSession(), 'getSession on device 3').session, null)
    return { staleError: stale.error.name }
  },

  async concurrentRefreshWithTheSameToken() {
    // Several tabs / SSR requests may present the same refresh token at once (clients.md §7.9).
    const email = uniqueEmail('race')
    const signUp = ok(await newClient().signUp({ email, password: PASSWORD }), 'signUp')
    const refreshToken = signUp.session.refresh_token
    const results = await Promise.all(
      [newClient(), newClient(), newClient()].map((c) => c.refreshSession({ refresh_token: refreshToken }))
    )
    for (const [i, result] of results.entries()) {
      const data = ok(result, `concurrent refreshSession #${i}`)
      assertSession(data.session, `concurrent refreshSession #${i}`)
      assert.equal(data.user.email, email)
    }
    return { refreshed: results.length }
  },

  async adminRejectsAnonKey() {
    const anonAdmin = new GoTrueAdminApi({
      url,
      headers: { apikey: anonKey, Authorization: `Bearer ${anonKey}` },
    })
    const { error } = await anonAdmin.listUsers()
    assert.ok(isAuthApiError(error), `expected AuthApiError, got ${error?.name}`)
    assert.equal(error.status, 403)
    assert.equal(error.code, 'not_admin')
    return { code: error.code }
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
