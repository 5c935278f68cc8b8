"""The web face of Stagent: a JSON API under ``/api/v1`` and htmx pages over the same services.

FastAPI, Starlette and Jinja are imported only inside this package.
"""
