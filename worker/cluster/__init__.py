"""A studio's GPU servers behind one address: the worker protocol in front, Ray behind.

- ``gateway.py``  the ROUTER that clients talk to (exactly the worker protocol)
- ``edge.py``     checking a request once, before it is queued; the nodes' model catalog
- ``scheduler.py`` fair share between artists, live first, warm nodes first (pure Python)
- ``store.py``    the accepted jobs on disk (a gateway restart loses none)
- ``keys.py``     one CURVE key per artist, revocable
- ``pool.py``     the Ray side: one detached actor per worker slot, results streamed back
- ``node_events.py`` what the slots report, turned into client events and queue changes
- ``node.py``     the actor: the desktop worker's model cache and job runner
- ``report.py``   ``hello`` and ``status`` for the cluster
- ``ray_start.py`` how Ray is started (``t2i cluster head`` / ``node``): only what we use
- ``cli.py``      ``t2i cluster gateway``, ``keys``, ``head`` and ``node``

Ray is an optional extra (``pip install t2i-studio[cluster]``); nothing outside this folder
imports it, and this package imports it only where it is used (pool.py). docs/cluster.md.
"""
