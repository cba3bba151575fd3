"""The web dashboard (/dasbor): one more channel over the core, served by the same Starlette app as the webhooks.

`dashboard.dashboard_routes` (the routes to mount), `auth` (who is signed in, `require`, `audit`), `security`
(headers, CSRF-checked forms, the redemption limit), `render` (Jinja2 pages), `pages` (the pages themselves).
The routes module is `dashboard`, not `app`: `models.app` already owns that name (one name per module across layers).
"""
