import { useState } from 'react'
import * as db from '../db.js'
import { login } from '../api.js'
import { syncNow } from '../sync.js'

// Log in on this device. The device id is generated once and kept; a different person on the
// same device starts a device identity of their own (the server binds a device to one account).
export default function Login({ onLoggedIn }) {
  const [error, setError] = useState('')
  const [busy, setBusy] = useState(false)
  const notice = localStorage.getItem('caseflow.notice')

  async function submit(e) {
    e.preventDefault()
    const form = new FormData(e.target)
    const username = String(form.get('username') || '').trim()
    const password = String(form.get('password') || '')
    if (!username || !password) { setError('Enter your username and your password.'); return }
    setBusy(true)
    setError('')
    try {
      const previous = await db.getMeta('username')
      if (previous && previous !== username) {
        const unsent = (await db.all('outbox')).filter((m) => ['waiting', 'sent', 'pending'].includes(m.state))
        if (unsent.length) {
          setError(`${previous} has ${unsent.length} unsent change(s) on this device: they must log in and sync first.`)
          return
        }
        await db.wipe()
      }
      let deviceId = await db.getMeta('device_id')
      if (!deviceId) { deviceId = crypto.randomUUID(); await db.setMeta('device_id', deviceId) }
      const r = await login(username, password, deviceId)
      if (r.status !== 200) {
        setError(r.status === 401 || r.status === 400 || r.status === 422
          ? 'The username or the password is not right.' : (r.json?.detail || `The server answered ${r.status}.`))
        return
      }
      await db.setMeta('access_token', r.json.access_token)
      await db.setMeta('refresh_token', r.json.refresh_token)
      await db.setMeta('user', r.json.user)
      await db.setMeta('username', username)
      localStorage.removeItem('caseflow.notice')
      await syncNow() // the first pull: case types, forms and cases for offline use
      onLoggedIn(r.json.user)
    } catch (err) {
      setError(`Cannot reach the server: ${err.message}. Logging in needs the network once.`)
    } finally {
      setBusy(false)
    }
  }

  return (
    <main id="main" className="login">
      <h1>Log in to caseflow</h1>
      {notice && <p className="notice" role="alert">{notice}</p>}
      <form onSubmit={submit} noValidate>
        <label htmlFor="username">Username</label>
        <input id="username" name="username" autoComplete="username" autoCapitalize="none" />
        <label htmlFor="password">Password</label>
        <input id="password" name="password" type="password" autoComplete="current-password" />
        {error && <p className="error" role="alert">{error}</p>}
        <button type="submit" disabled={busy}>{busy ? 'Logging in…' : 'Log in'}</button>
      </form>
    </main>
  )
}
