"""The web app's IndexedDB in page snippets: opened as the app left it, or as older versions of the
app left it on a device (upgrade tests)."""

# Opens 'caseflow' at whatever version the app made, resolving to the database; a snippet for the
# body of an async page function.
OPEN = "await new Promise((ok) => { const r = indexedDB.open('caseflow'); r.onsuccess = () => ok(r.result) })"

# Opens 'caseflow' at version 1 with the object stores version 1 of the app made, resolving to the
# database; a snippet for the body of an async page function.
OPEN_VERSION_1 = """await new Promise((ok, fail) => {
    const r = indexedDB.open('caseflow', 1)
    r.onupgradeneeded = () => { // the app's database as version 1 made it
      const d = r.result
      d.createObjectStore('meta')
      for (const s of ['cases', 'submissions', 'conflicts', 'forms', 'case_types', 'alerts']) {
        const store = d.createObjectStore(s, { keyPath: 'id' })
        if (s === 'submissions' || s === 'conflicts') store.createIndex('case_id', 'data.case_id')
      }
      d.createObjectStore('views', { keyPath: 'case_id' })
      d.createObjectStore('drafts', { keyPath: 'key' })
      d.createObjectStore('outbox', { keyPath: 'seq' }).createIndex('case_id', 'case_id')
    }
    r.onsuccess = () => ok(r.result)
    r.onerror = () => fail(r.error)
  })"""
