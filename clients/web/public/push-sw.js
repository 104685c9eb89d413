/* Imported by the service worker (workbox importScripts). An alert's payload carries codes only
   (server/push/payload.py): the notification says what happened and to which case reference,
   never a name or a date of birth. Tapping it opens the case in the app. */
const KINDS = {
  state_entered: 'Case moved on',
  approval_needed: 'Approval needed',
  approval_rejected: 'Approval rejected',
  assigned: 'Case assigned to you',
  amendment_requested: 'Amendment requested',
  amendment_returned: 'Amended return received',
  deadline_reminder: 'Deadline coming up',
  deadline_overdue: 'Deadline overdue',
}
const words = (code) => String(code || '').replace(/_/g, ' ')

self.addEventListener('push', (event) => {
  let p = {}
  try { p = event.data ? event.data.json() : {} } catch (e) { p = {} }
  const title = `${KINDS[p.kind] || 'caseflow alert'}${p.reference ? `: ${p.reference}` : ''}`
  const parts = []
  if (p.deadline) parts.push(`${words(p.deadline)} due ${p.due || ''}`.trim())
  if (p.state) parts.push(`state: ${words(p.state)}`)
  if (p.event) parts.push(`step: ${words(p.event)}`)
  const url = p.case_id ? `/app/#/case/${encodeURIComponent(p.case_id)}` : '/app/'
  event.waitUntil(self.registration.showNotification(title, {
    body: parts.join(' · '), tag: p.tag || p.alert_id, data: { url }, icon: '/app/icon-192.png',
  }))
})

self.addEventListener('notificationclick', (event) => {
  event.notification.close()
  const url = (event.notification.data && event.notification.data.url) || '/app/'
  event.waitUntil((async () => {
    const wins = await self.clients.matchAll({ type: 'window', includeUncontrolled: true })
    for (const w of wins) {
      if (new URL(w.url).pathname.startsWith('/app/')) { await w.navigate(url); return w.focus() }
    }
    return self.clients.openWindow(url)
  })())
})
