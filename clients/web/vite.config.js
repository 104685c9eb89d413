// Builds the app into the Python package (server/webapp/dist), which caseflow serves at /app/.
// The output is committed; tests/app/test_build.py rebuilds from source and compares (ADR 0018).
import { defineConfig } from 'vite'
import react from '@vitejs/plugin-react'
import { VitePWA } from 'vite-plugin-pwa'

export default defineConfig({
  base: '/app/',
  plugins: [
    react(),
    VitePWA({
      strategies: 'generateSW',
      injectRegister: false, // src/main.jsx registers it: no inline script under the server's CSP
      registerType: 'autoUpdate',
      manifest: {
        name: 'caseflow',
        short_name: 'caseflow',
        description: 'Statutory case work, offline first',
        start_url: '/app/',
        scope: '/app/',
        display: 'standalone',
        background_color: '#ffffff',
        theme_color: '#1d3557',
        icons: [
          { src: 'icon-192.png', sizes: '192x192', type: 'image/png' },
          { src: 'icon-512.png', sizes: '512x512', type: 'image/png', purpose: 'any maskable' },
        ],
      },
      workbox: {
        globPatterns: ['**/*.{js,css,html,png,svg,webmanifest}'],
        navigateFallback: '/app/index.html',
        navigateFallbackAllowlist: [/^\/app\//],
        importScripts: ['push-sw.js'], // public/push-sw.js: push and notificationclick handlers
        cleanupOutdatedCaches: true,
        clientsClaim: true,
        skipWaiting: true,
      },
    }),
  ],
  build: {
    outDir: '../../server/webapp/dist',
    emptyOutDir: true,
    chunkSizeWarningLimit: 1000,
  },
})
