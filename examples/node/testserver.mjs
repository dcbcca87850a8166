// Start `pytrue testserver` for a Node test suite: resolves with the URL, keys and a `control`
// helper once the server has printed its JSON line; `stop()` closes its stdin, which ends it.
import { spawn } from 'node:child_process'
import { createInterface } from 'node:readline'

export function startTestServer({ command = process.env.PYTRUE_COMMAND || 'pytrue', env = {} } = {}) {
  const args = Object.entries(env).flatMap(([name, value]) => ['--env', `${name}=${value}`])
  const child = spawn(command, ['testserver', ...args], { stdio: ['pipe', 'pipe', 'inherit'] })
  return new Promise((resolve, reject) => {
    child.once('error', reject)
    child.once('exit', (code) => reject(new Error(`pytrue testserver exited with ${code} before it was ready`)))
    createInterface({ input: child.stdout }).once('line', (line) => {
      const server = JSON.parse(line)
      const call = async (method, path, body) => {
        const response = await fetch(`${server.control}${path}`, {
          method,
          headers: { Authorization: `Bearer ${server.service_role_key}`, 'Content-Type': 'application/json' },
          body: body === undefined ? undefined : JSON.stringify(body),
        })
        const answer = await response.json()
        if (!response.ok) throw new Error(`${method} ${path}: ${response.status} ${JSON.stringify(answer)}`)
        return answer
      }
      resolve({
        ...server,
        otpFor: async (to) => (await call('GET', `/otp?to=${encodeURIComponent(to)}`)).otp,
        latestEmail: (to, kind = '') => call('GET', `/inbox/latest?to=${encodeURIComponent(to)}&kind=${kind}`),
        createUser: (attributes) => call('POST', '/users', attributes),
        sessionFor: (who) => call('POST', '/session', who),
        advanceClock: (seconds) => call('POST', '/clock', { seconds }),
        reset: () => call('POST', '/reset'),
        stop: () =>
          new Promise((done) => {
            child.removeAllListeners('exit')
            child.once('exit', done)
            child.stdin.end()
          }),
      })
    })
  })
}
