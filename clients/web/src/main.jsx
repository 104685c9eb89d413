import { createRoot } from 'react-dom/client'
import App from './App.jsx'
import './style.css'

if ('serviceWorker' in navigator) {
  // the worker caches the app shell; its scope is the app (/app/)
  navigator.serviceWorker.register('/app/sw.js', { scope: '/app/' }).catch(() => {})
}
createRoot(document.getElementById('root')).render(<App />)
