// External sign-in with the official @supabase/auth-js client against pytrue, whose providers
// (github, keycloak) are local stand-ins started by the Python test.
//
// Environment: PYTRUE_URL, PYTRUE_ANON_KEY, and PYTRUE_OAUTH_FIXTURE: JSON the test prepared —
// `personas` (name/email/sub of people the stand-ins sign in with `login_hint`) and `idTokens`
// (id_tokens the keycloak stand-in signed, with their nonces). The browser is played by fetch
// following redirects by hand. Prints a JSON summary; exits 1 on any failure.
import assert from 'node:assert/strict'
import { randomUUID } from 'node:crypto'
import { AuthClient } from '@supabase/auth-js'
import { memoryStorage, ok, runScenarios } from './support.mjs'

const url = process.env.PYTRUE_URL
const anonKey = process.env.PYTRUE_ANON_KEY
const fixture = JSON.parse(process.env.PYTRUE_OAUTH_FIXTURE || 'null')
if (!url || !anonKey || !fixture) {
  console.error('PYTRUE_URL, PYTRUE_ANON_KEY and PYTRUE_OAUTH_FIXTURE must be set')
  process.exit(2)
}
const APP = 'http://localhost:3000/welcome'
const { personas, idTokens } = fixture

const newClient = (flowType = 'implicit') =>
  new AuthClient({
    url,
    headers: { apikey: anonKey, Authorization: `Bearer ${anonKey}` },
    autoRefreshToken: false,
    persistSession: true,
    storage: memoryStorage(),
    storageKey: `sb-e2e-${randomUUID()}`,
    detectSessionInUrl: false,
    flowType,
  })

// what a browser does: follow 302/303 until the app's URL
async function followToApp(start) {
  let location = start
  for (let hop = 0; hop < 8; hop++) {
    if (location.startsWith(APP)) return new URL(location)
    const answer = await fetch(location, { redirect: 'manual' })
    assert.ok([302, 303].includes(answer.status), `${location} answered ${answer.status}: ${await answer.text()}`)
    location = answer.headers.get('location')
  }
  assert.fail(`too many redirects, last ${location}`)
}

const fragmentOf = (landed) => Object.fromEntries(new URLSearchParams(landed.hash.slice(1)))

async function signInWithGithub(client, persona) {
  const data = ok(
    await client.signInWithOAuth({
      provider: 'github',
      options: { redirectTo: APP, skipBrowserRedirect: true, queryParams: { login_hint: persona.name } },
    }),
    'signInWithOAuth',
  )
  assert.equal(data.provider, 'github')
  assert.ok(data.url.startsWith(`${url}/authorize?`), data.url)
  return followToApp(data.url)
}

const scenarios = {
  async signInWithOAuthImplicit() {
    const client = newClient()
    const landed = await signInWithGithub(client, personas.implicit)
    const fragment = fragmentOf(landed)
    assert.equal(fragment.token_type, 'bearer')
    assert.ok(fragment.provider_token)
    ok(await client.setSession({ access_token: fragment.access_token, refresh_token: fragment.refresh_token }), 'setSession')
    const { user } = ok(await client.getUser(), 'getUser')
    assert.equal(user.email, personas.implicit.email)
    assert.deepEqual(user.app_metadata.providers, ['github'])
  },

  async signInWithOAuthPkce() {
    const client = newClient('pkce')
    const landed = await signInWithGithub(client, personas.pkce)
    assert.equal(landed.hash, '')
    const code = landed.searchParams.get('code')
    assert.ok(code, landed.href)
    const { session, user } = ok(await client.exchangeCodeForSession(code), 'exchangeCodeForSession')
    assert.equal(user.email, personas.pkce.email)
    assert.ok(session.provider_token)
    const replay = await newClient('pkce').exchangeCodeForSession(code)
    assert.ok(replay.error, 'a spent code must be refused')
  },

  async signInWithIdToken() {
    const client = newClient()
    const { token, nonce, email } = idTokens.signIn
    const { session, user } = ok(await client.signInWithIdToken({ provider: 'keycloak', token, nonce }), 'signInWithIdToken')
    assert.equal(user.email, email)
    assert.ok(session.access_token && session.refresh_token)
    assert.deepEqual(user.identities.map((i) => i.provider), ['keycloak'])
    const wrong = await newClient().signInWithIdToken({ provider: 'keycloak', token, nonce: 'not-the-nonce' })
    assert.ok(wrong.error)
    assert.equal(wrong.error.status, 400)
    assert.match(wrong.error.message, /Nonces mismatch/)
  },

  async linkAndUnlinkIdentities() {
    const client = newClient()
    const fragment = fragmentOf(await signInWithGithub(client, personas.linker))
    ok(await client.setSession({ access_token: fragment.access_token, refresh_token: fragment.refresh_token }), 'setSession')
    const userId = ok(await client.getUser(), 'getUser').user.id

    // an OAuth identity through the provider
    const linking = ok(
      await client.linkIdentity({
        provider: 'keycloak',
        options: { redirectTo: APP, skipBrowserRedirect: true, queryParams: { login_hint: personas.keycloakLink.name } },
      }),
      'linkIdentity (oauth)',
    )
    const linked = fragmentOf(await followToApp(linking.url))
    ok(await client.setSession({ access_token: linked.access_token, refresh_token: linked.refresh_token }), 'setSession')
    let { identities } = ok(await client.getUserIdentities(), 'getUserIdentities')
    assert.deepEqual(identities.map((i) => i.provider).sort(), ['github', 'keycloak'])

    // linking the same provider account again is refused
    const again = ok(
      await client.linkIdentity({
        provider: 'keycloak',
        options: { redirectTo: APP, skipBrowserRedirect: true, queryParams: { login_hint: personas.keycloakLink.name } },
      }),
      'linkIdentity (again)',
    )
    const refused = await followToApp(again.url)
    assert.equal(refused.searchParams.get('error_code'), 'identity_already_exists')

    // an identity from an id_token (link_identity=true on the id_token grant)
    const { token, nonce } = idTokens.link
    const byToken = ok(await client.linkIdentity({ provider: 'keycloak', token, nonce }), 'linkIdentity (id_token)')
    assert.equal(byToken.user.id, userId)
    ;({ identities } = ok(await client.getUserIdentities(), 'getUserIdentities'))
    assert.equal(identities.length, 3)

    for (const identity of identities.filter((i) => i.provider === 'keycloak')) {
      ok(await client.unlinkIdentity(identity), 'unlinkIdentity')
    }
    ;({ identities } = ok(await client.getUserIdentities(), 'getUserIdentities'))
    assert.deepEqual(identities.map((i) => i.provider), ['github'])
    const last = await client.unlinkIdentity(identities[0])
    assert.ok(last.error)
    assert.equal(last.error.code, 'single_identity_not_deletable')
    assert.equal(last.error.status, 422)
    assert.equal(ok(await client.getUser(), 'getUser').user.id, userId)
  },
}

await runScenarios(scenarios)
