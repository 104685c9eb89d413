// Web Push: subscribe with the server's VAPID key. PushManager.subscribe can wait for ever (no
// push service reachable), so it runs under a timeout and the app goes on without alerts.
import { useEffect, useState } from 'react'
import { createElement as h } from 'react'
import { call } from './api.js'
import * as db from './db.js'

function keyBytes(b64url) {
  const s = atob(b64url.replace(/-/g, '+').replace(/_/g, '/') + '='.repeat((4 - (b64url.length % 4)) % 4))
  return Uint8Array.from(s, (c) => c.charCodeAt(0))
}

function withTimeout(promise, ms) {
  return Promise.race([promise, new Promise((_, reject) => setTimeout(() => reject(new Error('timed out')), ms))])
}

export async function subscribePush(timeoutMs = 10000) {
  if (!('serviceWorker' in navigator) || !('PushManager' in window)) throw new Error('This browser cannot receive alerts.')
  const permission = await Notification.requestPermission()
  if (permission !== 'granted') throw new Error('Alerts are blocked in this browser’s settings.')
  const r = await call('GET', '/api/v1/push/vapid-public-key')
  if (r.status !== 200) throw new Error('The server has no alert key.')
  const key = r.json.public_key || r.json.vapid_public_key || r.json.key
  const reg = await navigator.serviceWorker.ready
  const sub = (await reg.pushManager.getSubscription())
    || await withTimeout(reg.pushManager.subscribe({ userVisibleOnly: true, applicationServerKey: keyBytes(key) }), timeoutMs)
  const j = sub.toJSON()
  const saved = await call('POST', '/api/v1/push/subscriptions', { endpoint: j.endpoint, keys: j.keys })
  if (saved.status >= 300) throw new Error(saved.json?.detail || 'The server did not take the subscription.')
  await db.setMeta('push_subscription', saved.json?.id || saved.json?.subscription_id || true)
  return true
}

export function AlertsToggle() {
  const [state, setState] = useState('')
  const [why, setWhy] = useState('')
  useEffect(() => { db.getMeta('push_subscription').then((s) => setState(s ? 'on' : '')) }, [])
  if (state === 'on') return h('span', { className: 'muted' }, 'Alerts on')
  return h('span', null,
    h('button', {
      type: 'button', className: 'secondary', disabled: state === 'busy',
      onClick: async () => {
        setState('busy')
        setWhy('')
        try { await subscribePush(); setState('on') } catch (e) { setState(''); setWhy(`Alerts are off: ${e.message}`) }
      },
    }, 'Turn on alerts'),
    why ? h('span', { role: 'status', className: 'muted' }, ` ${why}`) : null)
}
