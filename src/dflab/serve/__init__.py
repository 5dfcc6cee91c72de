"""`dflab serve`: the web app and REST API over the library's public seams (docs/service.md).

    from dflab.serve.app import create_app      # needs fastapi (requirements.txt); importing dflab.serve does not
    app = create_app(lab, ServeConfig(...))

Modules: config (ServeConfig), stores (job and key stores, uploads, under DFLAB_HOME/serve), auth (keys, the
browser session cookie, rate limits), uploads (streamed multipart, content-addressed), jobs (the worker pool),
callbacks (signed webhooks), problems (application/problem+json), models (response types), routes_* (one per
endpoint group), static/ (the web UI).
"""

from dflab.serve.config import ServeConfig

__all__ = ["ServeConfig"]
