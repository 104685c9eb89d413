import { useEffect, useState } from 'react'
import * as db from './db.js'
import { call } from './api.js'
import { startAutoSync, syncNow } from './sync.js'
import { useRoute, useSyncStatus, useLocal, go } from './hooks.js'
import Login from './screens/Login.jsx'
import CaseList from './screens/CaseList.jsx'
import CaseView from './screens/CaseView.jsx'
import FormScreen from './screens/FormScreen.jsx'
import NewCase from './screens/NewCase.jsx'
import Outbox from './screens/Outbox.jsx'
import { AlertsToggle } from './push.js'
import OversightScreen, { OversightLinks, oversightTitle } from './screens/oversight/index.jsx'

export default function App() {
  const [user, setUser] = useState(undefined)
  const sync = useSyncStatus()
  const route = useRoute()
  useEffect(() => {
    db.getMeta('user').then(async (u) => {
      const token = await db.getMeta('access_token')
      setUser(token && u ? u : null)
      if (token && u) startAutoSync()
    })
  }, [])
  useEffect(() => { if (sync.state === 'revoked' || sync.state === 'login') setUser(null) }, [sync.state])
  useEffect(() => { // the page title names the screen (WCAG 2.4.2)
    const names = { cases: 'My cases', case: 'Case', new: 'New referral', outbox: 'Changes on this device' }
    document.title = `${route[0] === 'oversight' ? oversightTitle(route) : names[route[0]] || 'My cases'} · caseflow`
  }, [route.join('/')]) // eslint-disable-line

  if (user === undefined) return <main id="main"><p>Loading…</p></main>
  if (!user) return <Login onLoggedIn={(u) => { setUser(u); startAutoSync(); go('#/cases') }} />

  let screen
  const [first, id, sub, formId] = route
  if (first === 'case' && id && sub === 'form' && formId) screen = <FormScreen caseId={id} formId={formId} user={user} />
  else if (first === 'case' && id) screen = <CaseView caseId={id} user={user} />
  else if (first === 'new') screen = <NewCase caseType={id} user={user} />
  else if (first === 'outbox') screen = <Outbox />
  else if (first === 'oversight') screen = <OversightScreen route={route} user={user} />
  else screen = <CaseList user={user} />
  return (
    <>
      <a className="skip" href="#main">Skip to content</a>
      <header className="top">
        <nav aria-label="Main">
          <a href="#/cases" className="brand">caseflow</a>
          <a href="#/cases">My cases</a>
          <a href="#/new">New referral</a>
          <OutboxLink />
          <OversightLinks user={user} />
        </nav>
        <div className="account">
          <span className="who">{user.username}</span>
          <AlertsToggle />
          <button type="button" className="secondary" onClick={() => syncNow()}>Sync now</button>
          <button type="button" className="secondary" onClick={() => logout(setUser)}>Log out</button>
        </div>
      </header>
      <p className={`sync-status ${sync.state}`} role="status" aria-live="polite">
        {sync.message || (sync.lastSync ? `Up to date (${new Date(sync.lastSync).toLocaleTimeString('en-GB')})` : '')}
      </p>
      <main id="main" tabIndex={-1}>{screen}</main>
    </>
  )
}

function OutboxLink() {
  const [n] = useLocal(async () => (await db.all('outbox')).filter((m) => ['waiting', 'sent', 'pending'].includes(m.state)).length)
  return <a href="#/outbox">Changes{n ? ` (${n} to send)` : ''}</a>
}

async function logout(setUser) {
  try { await call('POST', '/api/v1/auth/logout') } catch { /* offline: the tokens are dropped here anyway */ }
  await db.setMeta('access_token', null)
  await db.setMeta('refresh_token', null)
  setUser(null)
  go('#/')
}
