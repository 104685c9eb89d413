// Titles from the served definitions: case types name their states and events; forms have titles.
import * as db from './db.js'

export async function caseTypeOf(caseType, version) {
  const all = await db.all('case_types')
  const mine = all.filter((c) => c.data.case_type === caseType)
  return (mine.find((c) => c.data.version === version) || mine.sort((a, b) => b.version - a.version)[0])?.data
}

export function stateTitle(ct, state) { return ct?.states.find((s) => s.id === state)?.title || state }
// one event may have a transition per source state, each with its own title
// (a pending approval is for a transition that needs approvals)
export function eventTitle(ct, event, state, target, approvals = false) {
  const ts = (ct?.transitions || []).filter((t) => t.event === event)
  let from = ts.filter((t) => t.from.includes(state) && (!target || t.to === target))
  if (approvals) from = from.filter((t) => t.approvals_needed?.length).concat(from)
  return (from[0] || ts.find((t) => t.from.includes(state)) || ts[0])?.title || event
}

export async function formDoc(formId, version) {
  if (version != null) return (await db.get('forms', `${formId}@${version}`))?.data
  const all = (await db.all('forms')).filter((f) => f.data.form_id === formId)
  return all.sort((a, b) => b.data.version - a.data.version)[0]?.data
}

export function humanise(id) { return String(id || '').replace(/_/g, ' ').replace(/^./, (c) => c.toUpperCase()) }

export const STATE_NAMES = {
  waiting: 'Waiting to send', sent: 'Sent, waiting for the answer', pending: 'Held by the server (an earlier change is missing)',
  applied: 'Applied', conflict: 'Conflict', rejected: 'Rejected',
}
