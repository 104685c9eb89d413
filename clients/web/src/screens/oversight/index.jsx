// The oversight screens (#/oversight...) and their links in the app's navigation, for the roles the
// oversight API serves (ADR 0021). They read online only.
import { hasRole, OVERSIGHT_ROLES, TRAIL_ROLES } from './api.js'
import Dashboard from './Dashboard.jsx'
import Timeline from './Timeline.jsx'
import AuditTrail from './AuditTrail.jsx'
import AgencyReturns from './AgencyReturns.jsx'
import './oversight.css'

export function OversightLinks({ user }) {
  if (!hasRole(user, OVERSIGHT_ROLES)) return null
  return (
    <>
      <a href="#/oversight">Oversight</a>
      {hasRole(user, TRAIL_ROLES) && <a href="#/oversight/returns">Agency returns</a>}
    </>
  )
}

export function oversightTitle(route) {
  const [, a, , what] = route
  if (a === 'returns') return 'Agency returns'
  if (a === 'case') return what === 'trail' ? 'Audit trail' : 'Case timeline'
  return 'Oversight'
}

export default function OversightScreen({ route, user }) {
  const [, a, id, what] = route
  if (!hasRole(user, OVERSIGHT_ROLES)) return <><h1>Oversight</h1><p>Oversight is for the business team, the CRG, statutory leads and the LA Head of Safeguarding.</p></>
  if (a === 'returns') return <AgencyReturns />
  if (a === 'case' && id && what === 'trail') return <AuditTrail caseId={id} />
  if (a === 'case' && id) return <Timeline caseId={id} user={user} />
  return <Dashboard user={user} />
}
