"""``access serve``: a live scenario map over the folder of an ``access run`` / ``access demo``.

* :func:`~access.serve.data.load_run` reads the run folder and :class:`~access.serve.engine.Engine` rebuilds the base
  :class:`~access.scenarios.AccessibilityState`, keeps one incremental state per browser session and answers a
  scenario (venues added/removed, streets closed in a polygon) with per-EPCI before/after/delta;
* :func:`~access.serve.app.create_app` is the Dash page and :mod:`access.serve.api` its JSON API;
* :func:`serve` runs both on 127.0.0.1.
"""

from __future__ import annotations

from .data import RunData, load_run
from .engine import Engine, RequestError, ScenarioRequest, parse_request

__all__ = ["RunData", "load_run", "Engine", "RequestError", "ScenarioRequest", "parse_request", "create_app",
           "make_server", "serve"]


def create_app(engine: Engine):
    """The Dash app over ``engine`` (see :mod:`access.serve.app`)."""
    from .app import create_app as _create

    return _create(engine)


def make_server(engine: Engine, *, host: str = "127.0.0.1", port: int = 8765):
    """A threaded WSGI server (werkzeug) of the app, not yet started: ``srv.serve_forever()``, ``srv.shutdown()``;
    ``port=0`` picks a free port (``srv.server_port``)."""
    from werkzeug.serving import make_server as _make

    return _make(host, port, create_app(engine).server, threaded=True)


def serve(out_dir, *, mode: str = "car", host: str = "127.0.0.1", port: int = 8765, typology_config=None,
          log=print) -> None:
    """Load the run folder, build the base state and serve the page until interrupted."""
    import time

    t0 = time.perf_counter()
    engine = Engine(load_run(out_dir, mode=mode), typology_config=typology_config)
    srv = make_server(engine, host=host, port=port)
    log(f"base state: {engine.base.n_cells:,} cells x {len(engine.base.venue_ids):,} venues ({mode}), ready in "
        f"{time.perf_counter() - t0:.1f} s")
    log(f"serving http://{host}:{srv.server_port}/ (JSON API under /api; Ctrl+C stops)")
    try:
        srv.serve_forever()
    except KeyboardInterrupt:
        pass
    finally:
        srv.server_close()
