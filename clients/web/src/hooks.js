import { useEffect, useState, useCallback } from 'react'
import { subscribe, status } from './sync.js'

// Re-read local data whenever a sync finishes or something is queued.
export function useLocal(load, deps = []) {
  const [value, setValue] = useState(null)
  const reload = useCallback(() => { load().then(setValue) }, deps) // eslint-disable-line
  useEffect(() => { reload(); return subscribe(() => reload()) }, [reload])
  return [value, reload]
}

export function useSyncStatus() {
  const [s, setS] = useState({ ...status })
  useEffect(() => subscribe(setS), [])
  return s
}

export function useRoute() {
  const [hash, setHash] = useState(window.location.hash || '#/')
  useEffect(() => {
    const on = () => setHash(window.location.hash || '#/')
    window.addEventListener('hashchange', on)
    return () => window.removeEventListener('hashchange', on)
  }, [])
  return hash.slice(1).split('?')[0].split('/').filter(Boolean).map(decodeURIComponent)
}

export function go(path) { window.location.hash = path }
